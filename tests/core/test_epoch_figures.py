"""Each epoch's look at the validation digits: one pass of predictions gives the
validation loss, accuracy and confusion matrix; it is saved with the history and read
back strictly; a stop during the pass acts between its batches."""

from __future__ import annotations

import json
import math
import re
import threading
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mnist_tui.core.config import TrainConfig
from mnist_tui.core.data.inputs import as_float_images
from mnist_tui.core.data.mnist import MnistData
from mnist_tui.core.engine.evaluation import per_digit_accuracy
from mnist_tui.core.engine.training import (
    split_train_val,
    train,
    validation_probabilities,
)
from mnist_tui.core.events import BatchProgress, EpochEnd, TrainingEvent
from mnist_tui.core.runs.record import RecordError, parse_run_record
from mnist_tui.core.runs.store import RUN_FILE, RunStore
from mnist_tui.core.session import train_evaluate_save

SPLIT = TrainConfig(
    hidden_units=(8,), batch_size=64, epochs=2, learning_rate=0.002, validation_split=0.25
)
"""A small net that learns the synthetic digits only partly in two epochs: mistakes to count."""


def epochs_of(events: list[TrainingEvent]) -> list[EpochEnd]:
    return [event for event in events if isinstance(event, EpochEnd)]


@pytest.fixture(scope="module")
def trained(small_data: MnistData) -> tuple[list[EpochEnd], Any]:
    """The epochs of a run with a validation split, and its model."""
    events: list[TrainingEvent] = []
    result = train(SPLIT, small_data.x_train, small_data.y_train, events.append)
    return epochs_of(events), result.model


def test_each_epoch_has_a_validation_confusion_matrix(
    trained: tuple[list[EpochEnd], Any], small_data: MnistData
) -> None:
    epochs, _model = trained
    _, _, _, y_val = split_train_val(SPLIT, small_data.x_train, small_data.y_train)
    per_class = np.bincount(y_val, minlength=10)
    assert [e.epoch for e in epochs] == [1, 2]
    for epoch in epochs:
        assert epoch.val_confusion is not None and epoch.val_accuracy is not None
        matrix = np.asarray(epoch.val_confusion)
        assert matrix.shape == (10, 10) and matrix.dtype.kind == "i"
        assert list(matrix.sum(axis=1)) == list(per_class)  # each true digit's count
        assert epoch.val_accuracy == pytest.approx(np.trace(matrix) / len(y_val))
        accuracy = per_digit_accuracy(epoch.val_confusion)
        assert accuracy == pytest.approx(tuple(np.diag(matrix) / matrix.sum(axis=1)))
    assert epochs[-1].val_accuracy < 1.0  # mistakes made: the matrix is not just a diagonal


def test_validation_figures_are_what_keras_evaluate_gives(
    trained: tuple[list[EpochEnd], Any], small_data: MnistData
) -> None:
    epochs, model = trained
    _, _, x_val, y_val = split_train_val(SPLIT, small_data.x_train, small_data.y_train)
    keras_says = model.evaluate(
        as_float_images(x_val), y_val, batch_size=1024, verbose=0, return_dict=True
    )
    last = epochs[-1]  # the model ends with the last epoch's weights (no early stopping)
    assert last.val_loss == pytest.approx(keras_says["loss"], rel=1e-5, abs=1e-6)
    assert last.val_accuracy == pytest.approx(keras_says["accuracy"], abs=1e-6)
    predicted = model.predict(as_float_images(x_val), verbose=0).argmax(axis=1)
    expected = np.zeros((10, 10), dtype=int)
    np.add.at(expected, (y_val.astype(int), predicted), 1)
    assert np.array_equal(np.asarray(last.val_confusion), expected)


def test_the_validation_loss_is_the_models_compiled_loss(small_data: MnistData) -> None:
    import keras

    from mnist_tui.core.engine.training import measure_validation

    penalised = keras.regularizers.L2(0.01)
    model = keras.Sequential(
        [
            keras.Input((28, 28)),
            keras.layers.Flatten(),
            keras.layers.Dense(10, activation="softmax", kernel_regularizer=penalised),
        ]
    )

    def doubled(y_true: Any, y_pred: Any) -> Any:
        return 2.0 * keras.losses.sparse_categorical_crossentropy(y_true, y_pred)

    model.compile(loss=doubled, metrics=["accuracy"])
    x, y = small_data.x_train[:300], small_data.y_train[:300]
    measured = measure_validation(model, x, y, threading.Event())
    keras_says = model.evaluate(as_float_images(x), y, verbose=0, return_dict=True)
    assert measured is not None
    assert measured.loss == pytest.approx(keras_says["loss"], rel=1e-5)
    assert measured.accuracy == pytest.approx(keras_says["accuracy"], abs=1e-6)
    plain = keras.losses.sparse_categorical_crossentropy(
        y, model.predict(as_float_images(x), verbose=0)
    )
    assert measured.loss > 2 * float(np.mean(plain))  # doubled, plus the weights' penalty


def test_no_split_no_confusion(small_data: MnistData) -> None:
    events: list[TrainingEvent] = []
    train(
        SPLIT.replace(validation_split=0.0, epochs=1),
        small_data.x_train,
        small_data.y_train,
        events.append,
    )
    (epoch,) = epochs_of(events)
    assert epoch.val_confusion is None and epoch.val_loss is None


def test_per_digit_accuracy_of_a_digit_never_seen_is_nan() -> None:
    matrix = np.zeros((10, 10), dtype=int)
    matrix[0, 0], matrix[0, 6], matrix[3, 3] = 3, 1, 2
    accuracy = per_digit_accuracy(matrix)
    assert accuracy[0] == 0.75 and accuracy[3] == 1.0
    assert all(math.isnan(accuracy[d]) for d in (1, 2, 4, 5, 6, 7, 8, 9))


class _CountingModel:
    """Predicts uniform probabilities; sets ``stop`` after ``stop_after`` batches."""

    def __init__(self, stop: threading.Event, stop_after: int) -> None:
        self.stop, self.stop_after, self.batches = stop, stop_after, 0

    def predict_on_batch(self, batch: np.ndarray) -> np.ndarray:
        self.batches += 1
        if self.batches == self.stop_after:
            self.stop.set()
        return np.full((len(batch), 10), 0.1, dtype=np.float32)


def test_a_stop_during_the_validation_pass_acts_between_batches(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("mnist_tui.core.engine.training.EVAL_BATCH", 10)
    digits = np.zeros((300, 28, 28), dtype=np.uint8)
    stop = threading.Event()
    model = _CountingModel(stop, stop_after=2)
    assert validation_probabilities(model, digits, stop) is None
    assert model.batches == 2  # not the 30 batches of the whole pass
    whole = _CountingModel(threading.Event(), stop_after=0)
    probabilities = validation_probabilities(whole, digits, whole.stop)
    assert probabilities is not None and probabilities.shape == (300, 10)
    assert whole.batches == 30


def test_a_stop_as_the_validation_pass_begins_leaves_that_epoch_out(
    small_data: MnistData, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mnist_tui.core.engine import training

    monkeypatch.setattr(training, "TARGET_EXECUTION_FLOPS", 1)  # a call back every step
    monkeypatch.setattr(training, "PROGRESS_INTERVAL", 0.0)
    stop = threading.Event()
    events: list[TrainingEvent] = []

    def sink(event: TrainingEvent) -> None:
        events.append(event)
        if isinstance(event, BatchProgress) and event.epoch == 2 and event.step == event.steps:
            stop.set()  # after epoch 2's last step, before its validation pass

    config = SPLIT.replace(epochs=5, early_stopping_patience=2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = train(config, small_data.x_train, small_data.y_train, sink, stop)
    assert result.finished.outcome == "stopped"
    assert [e.epoch for e in epochs_of(events)] == [1]  # epoch 2 was not measured: left out
    assert [row.epoch for row in result.finished.history] == [1]
    assert not [w for w in caught if "Early stopping conditioned" in str(w.message)]


# --- saved with the history ---------------------------------------------------------------


@pytest.fixture(scope="module")
def saved(
    small_data: MnistData, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, list[EpochEnd]]:
    """A run trained with a validation split and saved: its folder and its epochs."""
    events: list[TrainingEvent] = []
    store = RunStore(tmp_path_factory.mktemp("runs"))
    session = train_evaluate_save(SPLIT, small_data, store, events.append)
    return session.run.path, epochs_of(events)


def test_the_matrices_are_saved_and_read_back(saved: tuple[Path, list[EpochEnd]]) -> None:
    folder, epochs = saved
    record = json.loads((folder / RUN_FILE).read_text())
    assert [row["val_confusion"] for row in record["history"]] == [
        [list(row) for row in e.val_confusion or ()] for e in epochs
    ]
    run = RunStore(folder.parent).load(folder.name)
    assert run.history == tuple(epochs)  # every figure, the matrices too, unchanged


def test_a_run_saved_before_the_matrices_still_loads(saved: tuple[Path, list[EpochEnd]]) -> None:
    folder, _epochs = saved
    record = json.loads((folder / RUN_FILE).read_text())
    for row in record["history"]:
        del row["val_confusion"]
    run = parse_run_record(record, folder)
    assert all(row.val_confusion is None and row.val_loss is not None for row in run.history)


def _matrix(cell: object = 1, rows: int = 10, cols: int = 10) -> list[list[object]]:
    return [[cell] * cols for _ in range(rows)]


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("diagonal", "history[1].val_confusion must be a list, not text"),
        (_matrix(rows=9), "history[1].val_confusion must be 10x10"),
        (_matrix(cols=11), "history[1].val_confusion has 11 entries, more than 10"),
        (_matrix(rows=10, cols=9), "history[1].val_confusion must be 10x10"),
        (_matrix(-1), "history[1].val_confusion must be between 0 and 10000000, got -1"),
        (_matrix(10**30), "must be between 0 and 10000000, got 1000000000000000000000000000000"),
        (_matrix(2.5), "history[1].val_confusion must be a whole number, not a number"),
        (_matrix(True), "history[1].val_confusion must be a whole number, not true/false"),
        (_matrix(None), "history[1].val_confusion must be a whole number, not null"),
        ({"0": [1]}, "history[1].val_confusion must be a list, not an object"),
    ],
)
def test_hostile_matrices_are_refused(
    saved: tuple[Path, list[EpochEnd]], value: object, problem: str
) -> None:
    folder, _epochs = saved
    record = json.loads((folder / RUN_FILE).read_text())
    record["history"][1]["val_confusion"] = value
    with pytest.raises(RecordError, match=re.escape(problem)):
        parse_run_record(record, folder)
