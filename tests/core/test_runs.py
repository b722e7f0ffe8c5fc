"""Saved runs: complete folders only, listing, loading with plain Keras, deletion."""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import pytest

from mnist_tui.core.config import TrainConfig
from mnist_tui.core.data.mnist import MnistData
from mnist_tui.core.engine.evaluation import evaluate_model
from mnist_tui.core.runs.store import MODEL_FILE, RUN_FILE, RunError, RunStore
from mnist_tui.core.session import NothingTrained, SessionResult, train_evaluate_save

CONFIG = TrainConfig(hidden_units=(16,), batch_size=128, epochs=2)


@pytest.fixture
def saved(small_data: MnistData, tmp_path: Path) -> SessionResult:
    return train_evaluate_save(CONFIG, small_data, RunStore(tmp_path / "runs"), lambda e: None)


def test_saved_run_has_everything(saved: SessionResult) -> None:
    run = saved.run
    record = json.loads((run.path / RUN_FILE).read_text())
    assert record["config"] == CONFIG.to_dict()
    assert [row["epoch"] for row in record["history"]] == [1, 2]
    assert record["status"] == "completed"
    assert record["test"]["accuracy"] == pytest.approx(saved.evaluation.accuracy)
    assert np.array(record["test"]["confusion_matrix"]).sum() == 300
    assert len(record["test"]["per_class"]) == 10
    assert {"tensorflow", "keras", "numpy", "python"} <= set(record["versions"])
    assert record["dataset"]["source"] == "synthetic"
    assert record["created"] and record["started"] and record["train_seconds"] > 0


def test_model_reloads_with_plain_keras(saved: SessionResult, small_data: MnistData) -> None:
    model = keras.models.load_model(saved.run.path / MODEL_FILE)
    again = evaluate_model(model, small_data.x_test, small_data.y_test)
    assert again.accuracy == pytest.approx(saved.evaluation.accuracy)


def test_saved_probabilities_give_the_same_evaluation(
    saved: SessionResult, small_data: MnistData
) -> None:
    store = RunStore(saved.run.path.parent)
    evaluation = store.load_evaluation(saved.run, small_data.y_test)
    assert evaluation is not None
    np.testing.assert_array_equal(evaluation.confusion, saved.evaluation.confusion)


def test_list_resolve_and_delete(saved: SessionResult) -> None:
    store = RunStore(saved.run.path.parent)
    runs, bad = store.list()
    assert [r.run_id for r in runs] == [saved.run.run_id] and not bad
    assert store.load("latest").run_id == saved.run.run_id
    assert store.load(saved.run.run_id[:17]).run_id == saved.run.run_id
    with pytest.raises(RunError, match="no run 'nope'"):
        store.load("nope")
    store.delete(saved.run.run_id)
    assert store.list() == ([], [])
    assert not list(store.root.iterdir())


def test_corrupt_and_foreign_folders_are_reported_not_fatal(saved: SessionResult) -> None:
    root = saved.run.path.parent
    (root / "holiday-photos").mkdir()
    broken = root / "20990101-000000-mlp-dead"
    broken.mkdir()
    (broken / RUN_FILE).write_text("{ not json")
    partial = root / "20990101-000000-mlp-beef"
    partial.mkdir()
    (partial / RUN_FILE).write_text(json.dumps({"run_id": "x", "config": {}}))
    (root / "notes.txt").write_text("hello")
    runs, bad = RunStore(root).list()
    assert [r.run_id for r in runs] == [saved.run.run_id]
    reasons = {b.path.name: b.reason for b in bad}
    assert "not a run" in reasons["holiday-photos"]
    assert "invalid: not JSON" in reasons[broken.name]
    assert "invalid: format must be a whole number" in reasons[partial.name]


def test_failed_save_leaves_no_run(
    small_data: MnistData, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = RunStore(tmp_path / "runs")
    original = np.save

    def full_disk(path: object, array: object) -> None:
        original(path, array)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("mnist_tui.core.runs.store.np.save", full_disk)
    with pytest.raises(RunError, match="No space left"):
        train_evaluate_save(CONFIG.replace(epochs=1), small_data, store, lambda e: None)
    assert not list(store.root.iterdir())  # no run, no staging folder
    assert store.list() == ([], [])


def test_unloadable_model_is_a_clear_error(saved: SessionResult) -> None:
    model = saved.run.path / MODEL_FILE
    whole = model.read_bytes()
    store = RunStore(saved.run.path.parent)
    model.write_bytes(whole[: len(whole) // 2])  # truncated
    with pytest.raises(RunError, match="is damaged") as caught:
        store.load_model(store.load("latest"))
    assert "not found" not in str(caught.value)  # the file is there, only damaged
    model.write_bytes(whole[:-200] + bytes(200))  # its end overwritten
    with pytest.raises(RunError, match=r"damaged|could not be loaded"):
        store.load_model(store.load("latest"))


def test_a_runs_folder_that_cannot_take_the_run_fails_before_training(
    small_data: MnistData, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    events: list[object] = []
    with pytest.raises(RunError, match="cannot create the runs directory"):
        train_evaluate_save(CONFIG, small_data, RunStore(blocker), events.append)
    assert events == []  # nothing was trained, so nothing was lost
    assert [problem.reason for problem in RunStore(blocker).list()[1]] == [
        f"{blocker} is a file, not a runs folder"
    ]


def test_a_stop_before_the_first_step_saves_no_run(small_data: MnistData, tmp_path: Path) -> None:
    import threading

    stop = threading.Event()
    stop.set()
    events: list[object] = []
    store = RunStore(tmp_path / "runs")
    with pytest.raises(NothingTrained, match="nothing was trained"):
        train_evaluate_save(CONFIG, small_data, store, events.append, stop)
    assert [type(event).__name__ for event in events] == ["TrainingStarted", "TrainingFinished"]
    assert store.list() == ([], [])  # no untrained model among the runs


def test_the_heap_is_frozen_while_a_run_trains_and_thawed_after(
    small_data: MnistData, tmp_path: Path
) -> None:
    import gc

    frozen_during: list[int] = []
    train_evaluate_save(
        CONFIG.replace(epochs=1),
        small_data,
        RunStore(tmp_path / "runs"),
        lambda _event: frozen_during.append(gc.get_freeze_count()),
    )
    assert frozen_during and min(frozen_during) > 1000  # TensorFlow's objects, left alone
    assert gc.get_freeze_count() == 0  # and returned to the collector afterwards
