"""The training engine on small synthetic digits: events, stop, early stop, seeds."""

from __future__ import annotations

import dataclasses
import itertools
import threading
from pathlib import Path

import numpy as np
import pytest

from mnist_tui.core.config import TrainConfig
from mnist_tui.core.data.mnist import MnistData
from mnist_tui.core.engine.training import train
from mnist_tui.core.events import (
    BatchProgress,
    EpochEnd,
    TrainingEvent,
    TrainingFinished,
    TrainingStarted,
)

FAST = TrainConfig(hidden_units=(32,), batch_size=64, epochs=3, learning_rate=0.01)


def run(
    config: TrainConfig,
    data: MnistData,
    stop: threading.Event | None = None,
    on_event: object = None,
) -> tuple[list[TrainingEvent], object]:
    events: list[TrainingEvent] = []

    def sink(event: TrainingEvent) -> None:
        events.append(event)
        if callable(on_event):
            on_event(event)

    result = train(config, data.x_train, data.y_train, sink, stop)
    return events, result


def _leaves(value: object) -> list[object]:
    """Every plain value inside frozen event dataclasses and their tuples."""
    if dataclasses.is_dataclass(value):
        assert type(value).__dataclass_params__.frozen  # type: ignore[attr-defined]
        return [leaf for f in dataclasses.fields(value) for leaf in _leaves(getattr(value, f.name))]
    if isinstance(value, tuple):
        return [leaf for item in value for leaf in _leaves(item)]
    return [value]


def test_the_per_step_curve_is_recorded_and_saved(
    small_data: MnistData, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mnist_tui.core.runs.store import RunStore
    from mnist_tui.core.session import train_evaluate_save

    monkeypatch.setattr("mnist_tui.core.engine.training.PROGRESS_INTERVAL", 0.0)  # every execution
    config = TrainConfig(hidden_units=(16,), batch_size=32, epochs=3)
    events: list[object] = []
    session = train_evaluate_save(config, small_data, RunStore(tmp_path), events.append)
    steps = session.result.finished.steps
    assert len(steps) >= 3
    assert [p.step for p in steps] == sorted({p.step for p in steps})  # strictly increasing
    assert steps[-1].samples <= 3 * 1200 and steps[-1].epoch == 3
    rates = [p.learning_rate for p in steps]
    assert rates[0] <= 0.01 and rates[-1] < rates[0]  # the cosine schedule, step by step
    assert all(0.0 <= p.accuracy <= 1.0 and p.loss >= 0.0 for p in steps)
    live = [e.point for e in events if isinstance(e, BatchProgress) and e.point is not None]
    assert live and live[0] == steps[0]  # the live ticks are the recorded ones
    assert session.run.steps == steps  # saved in run.json and read back unchanged


def test_a_long_curve_is_thinned_evenly(
    small_data: MnistData, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("mnist_tui.core.engine.training.PROGRESS_INTERVAL", 0.0)
    monkeypatch.setattr("mnist_tui.core.engine.training.MAX_STEP_POINTS", 8)
    monkeypatch.setattr("mnist_tui.core.engine.training.steps_per_execution", lambda _config: 1)
    result = train(
        TrainConfig(hidden_units=(8,), batch_size=16, epochs=2),
        small_data.x_train,
        small_data.y_train,
        lambda _e: None,
    )
    steps = [p.step for p in result.finished.steps]
    assert 4 <= len(steps) < 8
    gaps = {b - a for a, b in itertools.pairwise(steps)}
    assert len(gaps) <= 2  # evenly spaced (an epoch's end may shorten one gap)


def test_events_in_order_with_plain_values(small_data: MnistData) -> None:
    events, result = run(FAST.replace(validation_split=0.25), small_data)
    assert isinstance(events[0], TrainingStarted)
    assert isinstance(events[-1], TrainingFinished)
    started = events[0]
    assert (started.train_samples, started.val_samples) == (900, 300)
    assert started.steps_per_epoch == 15 and started.param_count == 784 * 32 + 32 + 330
    epochs = [e for e in events if isinstance(e, EpochEnd)]
    assert [e.epoch for e in epochs] == [1, 2, 3]
    for event in events:
        assert dataclasses.is_dataclass(event)
        with pytest.raises(dataclasses.FrozenInstanceError):
            event.epoch = 9  # type: ignore[misc,union-attr]
        for value in _leaves(event):
            assert value is None or isinstance(value, (int, float, str))
    assert all(isinstance(e.val_accuracy, float) for e in epochs)
    assert epochs[-1].accuracy > 0.9  # the synthetic digits are learnable
    finished = events[-1]
    assert finished.outcome == "completed" and finished.epochs_done == 3
    assert result.finished is finished


def test_batch_progress_is_throttled(
    small_data: MnistData, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mnist_tui.core.engine import training

    monkeypatch.setattr(training, "TARGET_EXECUTION_FLOPS", 1)  # one step per call
    monkeypatch.setattr(training, "PROGRESS_INTERVAL", 3600.0)
    events, _ = run(FAST, small_data)
    assert not [e for e in events if isinstance(e, BatchProgress)]
    monkeypatch.setattr(training, "PROGRESS_INTERVAL", 0.0)
    events, _ = run(FAST.replace(epochs=1), small_data)
    progress = [e for e in events if isinstance(e, BatchProgress)]
    assert len(progress) >= 10
    assert progress[-1].step <= progress[-1].steps == 19
    assert progress[-1].samples_per_second > 0


def test_stop_before_start_trains_nothing(small_data: MnistData) -> None:
    stop = threading.Event()
    stop.set()
    events, result = run(FAST, small_data, stop)
    assert result.finished.outcome == "stopped" and result.finished.epochs_done == 0
    assert not [e for e in events if isinstance(e, EpochEnd)]


def test_stop_mid_run_keeps_whole_epochs(small_data: MnistData) -> None:
    stop = threading.Event()

    def stop_after_first(event: TrainingEvent) -> None:
        if isinstance(event, EpochEnd):
            stop.set()

    events, result = run(FAST.replace(epochs=20), small_data, stop, stop_after_first)
    assert result.finished.outcome == "stopped"
    assert result.finished.epochs_done == 1
    assert [e.epoch for e in events if isinstance(e, EpochEnd)] == [1]


def test_early_stopping(small_data: MnistData) -> None:
    config = FAST.replace(
        epochs=60,
        validation_split=0.25,
        early_stopping_patience=1,
        learning_rate=0.05,
        lr_schedule="constant",
    )
    _, result = run(config, small_data)
    assert result.finished.outcome == "early_stopped"
    assert result.finished.epochs_done < 60
    val_losses = [row.val_loss for row in result.finished.history]
    best = int(np.argmin(val_losses)) + 1
    assert best < result.finished.epochs_done  # patience ran out after the best epoch
    assert result.finished.kept_epoch == best  # Keras put its weights back
    assert f"epoch {best}'s weights" in result.finished.kept_note


def test_same_seed_same_weights(small_data: MnistData) -> None:
    config = FAST.replace(epochs=1)
    _, first = run(config, small_data)
    _, second = run(config, small_data)
    _, other = run(config.replace(seed=7), small_data)
    w1, w2, w3 = (r.model.get_weights()[0] for r in (first, second, other))
    np.testing.assert_allclose(w1, w2)
    assert not np.allclose(w1, w3)


@pytest.mark.parametrize("optimizer", ["sgd", "rmsprop", "adamw", "nadam"])
def test_every_optimizer_learns(small_data: MnistData, optimizer: str) -> None:
    config = FAST.replace(
        optimizer=optimizer, epochs=4, learning_rate=0.05 if optimizer == "sgd" else 0.005
    )
    _, result = run(config, small_data)
    assert result.finished.history[-1].accuracy > 0.8


def test_cnn_builds_and_trains(small_data: MnistData) -> None:
    config = TrainConfig(
        architecture="cnn",
        conv_filters=(8, 16),
        hidden_units=(32,),
        batch_size=64,
        epochs=2,
        learning_rate=0.005,
    )
    _, result = run(config, small_data)
    assert result.model.layers[1].__class__.__name__ == "Conv2D"
    assert result.finished.history[-1].accuracy > 0.5


def test_steps_per_execution_follow_model_cost() -> None:
    from mnist_tui.core.engine.training import steps_per_execution

    mlp = TrainConfig(batch_size=256)
    cnn = TrainConfig(architecture="cnn", batch_size=256)
    assert steps_per_execution(mlp) == 32
    assert 1 <= steps_per_execution(cnn) < steps_per_execution(mlp) // 10
    assert steps_per_execution(mlp.replace(batch_size=8192)) == 1
