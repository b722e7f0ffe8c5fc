"""The engine's compiled training loop drives Keras callbacks as ``fit`` does."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import pytest

from mnist_tui.core.config import TrainConfig
from mnist_tui.core.engine.fitting import SEEN, InMemoryFit, fit_in_memory
from mnist_tui.core.engine.models import build_loss, build_model, build_optimizer


class Recorder(keras.callbacks.Callback):  # type: ignore[misc]
    """Every hook called, with its argument and a copy of its logs."""

    def __init__(self, stop_after_batches: int | None = None) -> None:
        super().__init__()
        self.calls: list[tuple[str, int | None, dict[str, Any]]] = []
        self._stop_after = stop_after_batches

    def _note(self, hook: str, index: int | None, logs: dict[str, Any] | None) -> None:
        self.calls.append((hook, index, dict(logs or {})))

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._note("train_begin", None, logs)

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._note("epoch_begin", epoch, logs)

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self._note("batch_end", batch, logs)
        ended = sum(hook == "batch_end" for hook, _index, _logs in self.calls)
        if self._stop_after is not None and ended >= self._stop_after:
            self.model.stop_training = True

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._note("epoch_end", epoch, logs)

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        self._note("train_end", None, logs)


def compiled(config: TrainConfig, steps: int) -> keras.Model:
    keras.utils.set_random_seed(config.seed)
    model = build_model(config)
    model.compile(
        optimizer=build_optimizer(config, steps * config.epochs),
        loss=build_loss(config),
        metrics=["accuracy"],
    )
    return model


def digits(count: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, count).astype(np.uint8)
    images = rng.integers(0, 40, (count, 28, 28)).astype(np.uint8)
    for index, label in enumerate(labels):  # a learnable bright bar per class
        images[index, 2 * label : 2 * label + 3, 4:24] = 255
    return images, labels


def test_the_hooks_come_in_fits_order_with_running_means() -> None:
    config = TrainConfig(hidden_units=(16,), batch_size=32, epochs=2)
    x, y = digits(300)  # 10 steps an epoch, the last of 12 digits
    model = compiled(config, 10)
    recorder = Recorder()
    fit_in_memory(
        model, x, y, batch_size=32, epochs=2, seed=1, steps_per_call=4, callbacks=[recorder]
    )
    hooks = [(hook, index) for hook, index, _logs in recorder.calls]
    one_epoch = [("batch_end", 3), ("batch_end", 7), ("batch_end", 9)]
    assert hooks == [
        ("train_begin", None),
        ("epoch_begin", 0),
        *one_epoch,
        ("epoch_end", 0),
        ("epoch_begin", 1),
        *one_epoch,
        ("epoch_end", 1),
        ("train_end", None),
    ]
    ends = [logs for hook, _index, logs in recorder.calls if hook == "epoch_end"]
    lasts = [recorder.calls[i - 1][2] for i, c in enumerate(recorder.calls) if c[0] == "epoch_end"]
    assert ends == lasts  # an epoch's logs are its last running means
    assert all(set(logs) == {"loss", "accuracy"} for logs in ends)
    assert ends[1]["loss"] < ends[0]["loss"] and ends[1]["accuracy"] > ends[0]["accuracy"]
    # the running accuracy is the model's own: what it got right of the epoch's digits
    assert ends[1]["accuracy"] > 0.5


def test_each_epoch_sees_every_digit_once_in_a_new_order() -> None:
    config = TrainConfig(hidden_units=(8,), batch_size=64, epochs=1)
    x, y = digits(150)
    fit = InMemoryFit(compiled(config, 3), x, y, batch_size=64, seed=7)
    orders = []
    for _epoch in range(2):
        fit.start_epoch()
        orders.append(fit._order.numpy().copy())
        fit.run(0, fit.steps)
        assert fit._sums.numpy()[SEEN] == 150  # the short last batch counted, none twice
    assert all(sorted(order) == list(range(150)) for order in orders)
    assert not np.array_equal(orders[0], orders[1])


def test_a_callback_stopping_ends_the_run_after_that_call() -> None:
    config = TrainConfig(hidden_units=(8,), batch_size=16, epochs=3)
    x, y = digits(320)  # 20 steps an epoch
    recorder = Recorder(stop_after_batches=2)
    fit_in_memory(
        compiled(config, 20),
        x,
        y,
        batch_size=16,
        epochs=3,
        seed=0,
        steps_per_call=5,
        callbacks=[recorder],
    )
    hooks = [(hook, index) for hook, index, _logs in recorder.calls]
    assert hooks[-4:] == [("batch_end", 4), ("batch_end", 9), ("epoch_end", 0), ("train_end", None)]


@pytest.mark.parametrize("architecture", ["mlp", "cnn"])
def test_the_same_seed_trains_the_same_weights(architecture: str) -> None:
    config = TrainConfig(
        architecture=architecture,
        hidden_units=(8,),
        conv_filters=(4,),
        batch_norm="on",
        batch_size=50,
        epochs=1,
    )
    x, y = digits(200)
    trained = []
    for _ in range(2):
        model = compiled(config, 4)
        fit_in_memory(model, x, y, batch_size=50, epochs=1, seed=3, steps_per_call=2, callbacks=[])
        trained.append(model.get_weights())
    assert all(np.array_equal(a, b) for a, b in zip(*trained, strict=True))
    # batch norm's running statistics moved: the layers ran in training mode
    if architecture == "cnn":
        assert any(
            "moving_mean" in weight.path and not np.allclose(weight.numpy(), 0.0)
            for weight in model.weights
        )
