"""The sweep engine in this process on small synthetic digits: trials as saved runs,
pruning, stopping, the study read back (and hostile values in it)."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import optuna
import pytest

from mnist_tui.core.data.mnist import MnistData
from mnist_tui.core.events import EpochEnd
from mnist_tui.core.runs.record import SweepTrial
from mnist_tui.core.runs.store import RunError, RunStore
from mnist_tui.core.sweeps.space import SearchSpace
from mnist_tui.core.sweeps.storage import (
    SETTINGS_ATTR,
    SweepError,
    SweepSettings,
    SweepStorage,
    default_storage_url,
    display_url,
)
from mnist_tui.core.sweeps.worker import (
    SweepEvent,
    TrialEnded,
    TrialProgress,
    TrialStarted,
    run_worker,
    split_trials,
    threads_per_worker,
)

TINY = {"hidden_units": "16|32", "batch_size": "64", "learning_rate": "0.01", "dropout": "0..0.3"}


def sweep(
    tmp_path: Path, given: dict[str, str], pruner: str = "median"
) -> tuple[SweepStorage, RunStore]:
    storage = SweepStorage(default_storage_url(tmp_path), heartbeat=5)
    storage.create("s", SweepSettings(SearchSpace.build({}, given), pruner))
    return storage, RunStore(tmp_path)


def test_every_trial_is_a_saved_run_named_by_study_and_number(
    small_data: MnistData, tmp_path: Path
) -> None:
    storage, store = sweep(tmp_path, {**TINY, "epochs": "2"})
    events: list[SweepEvent] = []
    result = run_worker(storage, "s", small_data, store, events.append, trials=3)

    assert [t.state for t in result.trials] == ["complete"] * 3
    runs, bad = store.list()
    assert bad == [] and len(runs) == 3
    assert sorted((run.sweep for run in runs), key=lambda s: s.trial if s else -1) == [
        SweepTrial("s", 0),
        SweepTrial("s", 1),
        SweepTrial("s", 2),
    ]
    study = storage.study("s")
    assert [t.number for t in study.trials] == [0, 1, 2]
    by_run = {run.run_id: run for run in runs}
    for trial in study.trials:
        run = by_run[trial.run_id or ""]
        assert run.sweep == SweepTrial("s", trial.number)
        assert run.status == "completed" and run.config.validation_split == 0.1
        assert trial.test_accuracy == pytest.approx(run.test_accuracy)
        # chosen on validation accuracy: the trial's value is the run's last val accuracy
        assert trial.val_accuracy == pytest.approx(run.history[-1].val_accuracy)
        assert len(trial.val_curve) == 2
        assert dict(trial.params)["hidden_units"] in ("16", "32")
        assert str(run.config.hidden_units[0]) == dict(trial.params)["hidden_units"]
    best = study.best
    assert best is not None
    assert best.val_accuracy == max(t.val_accuracy or 0 for t in study.trials)
    kinds = [type(event) for event in events]
    assert kinds.count(TrialStarted) == 3 and kinds.count(TrialEnded) == 3
    epochs = [e for e in events if isinstance(e, TrialProgress) and isinstance(e.event, EpochEnd)]
    assert len(epochs) == 6


def test_the_median_pruner_prunes_a_bad_learning_rate(
    small_data: MnistData, tmp_path: Path
) -> None:
    """Four good trials set the median; trials drawn from a deliberately bad learning-rate
    range fall below it after their second epoch, stop there and are saved as pruned."""
    storage, store = sweep(
        tmp_path,
        {
            "hidden_units": "32",
            "batch_size": "64",
            "epochs": "4",
            "dropout": "0",
            "learning_rate": "1e-3..9:log",
        },
    )
    study = optuna.load_study(study_name="s", storage=storage.optuna)
    for _ in range(4):
        study.enqueue_trial({"learning_rate": 0.01})
    for rate in (5.0, 9.0):
        study.enqueue_trial({"learning_rate": rate})
    result = run_worker(storage, "s", small_data, store, lambda _e: None, trials=6)

    assert [t.state for t in result.trials] == ["complete"] * 4 + ["pruned"] * 2
    view = storage.study("s")
    assert [t.state for t in view.trials] == ["complete"] * 4 + ["pruned"] * 2
    runs = {run.run_id: run for run in store.list()[0]}
    for trial in view.trials[4:]:
        run = runs[trial.run_id or ""]
        assert run.status == "pruned" and run.epochs_done < 4  # its history kept, cut short
        assert len(trial.val_curve) == run.epochs_done
        assert trial.val_accuracy is None and trial.test_accuracy is not None
    assert all(runs[t.run_id or ""].epochs_done == 4 for t in view.trials[:4])


def test_no_pruner_lets_every_trial_finish(small_data: MnistData, tmp_path: Path) -> None:
    storage, store = sweep(
        tmp_path,
        {"hidden_units": "16", "batch_size": "64", "epochs": "2", "learning_rate": "8..9"},
        pruner="none",
    )
    result = run_worker(storage, "s", small_data, store, lambda _e: None, trials=2)
    assert [t.state for t in result.trials] == ["complete", "complete"]
    assert [t.epochs for t in result.trials] == [2, 2]


def test_a_stop_saves_the_current_trial_as_stopped_and_starts_no_other(
    small_data: MnistData, tmp_path: Path
) -> None:
    storage, store = sweep(tmp_path, {**TINY, "epochs": "50"})
    stop = threading.Event()

    def on_event(event: SweepEvent) -> None:
        if isinstance(event, TrialProgress) and isinstance(event.event, EpochEnd):
            stop.set()  # as Ctrl-C or SIGTERM do, through the CLI's StopSignals

    result = run_worker(storage, "s", small_data, store, on_event, trials=5, stop=stop)
    assert result.stopped and [t.state for t in result.trials] == ["stopped"]
    (run,), _bad = store.list()
    assert run.status == "stopped" and 1 <= run.epochs_done < 50
    assert run.sweep == SweepTrial("s", 0)
    assert [t.state for t in storage.study("s").trials] == ["stopped"]


def test_a_study_is_read_back_as_checked_values(tmp_path: Path) -> None:
    """Values another tool (or a hand) wrote into the storage never reach a front end
    unchecked: a run id that is a path, an accuracy of 7, a settings object of junk."""
    storage = SweepStorage(default_storage_url(tmp_path))
    study = optuna.create_study(study_name="foreign", storage=storage.optuna, direction="maximize")
    trial = study.ask()
    trial.set_user_attr("run_id", "../../etc")
    trial.set_user_attr("test_accuracy", 7.0)
    trial.set_user_attr("worker", "x\x1b[31m")
    trial.report(0.5, 1)
    trial.report(float("nan"), 2)
    study.tell(trial, 0.5)
    view = storage.study("foreign")
    assert view.settings is None and "no mnist-tui sweep settings" in view.problem
    (row,) = view.trials
    assert row.run_id is None and row.test_accuracy is None and row.val_curve == (0.5,)
    assert row.state == "complete" and "\x1b" not in row.worker
    with pytest.raises(SweepError, match="cannot be run here"):
        storage.settings("foreign")
    study.set_user_attr(
        SETTINGS_ATTR, {"format": 1, "space": {"dropout": "5..9"}, "pruner": "median"}
    )
    assert "search space is invalid" in storage.study("foreign").problem
    with pytest.raises(SweepError, match="no study 'nope'"):
        storage.study("nope")


def test_a_study_read_between_its_creation_and_its_settings_waits_for_them(
    tmp_path: Path,
) -> None:
    """Workers on two machines start together: the second may find the study created by
    the first a moment before its settings are written, and must not refuse it."""
    storage = SweepStorage(default_storage_url(tmp_path))
    study = optuna.create_study(study_name="new", storage=storage.optuna, direction="maximize")
    settings = {"format": 1, "space": {"validation_split": "0.1"}, "pruner": "median"}
    later = threading.Timer(0.5, lambda: study.set_user_attr(SETTINGS_ATTR, settings))
    later.start()
    try:
        assert storage.settings("new").pruner == "median"
    finally:
        later.join()


def test_a_storage_that_cannot_be_opened_is_one_clear_line(tmp_path: Path) -> None:
    with pytest.raises(SweepError) as caught:
        SweepStorage("postgresql://me:secret@127.0.0.1:1/db")
    message = str(caught.value)
    assert message.startswith("cannot open the study storage postgresql://me:***@127.0.0.1:1/db")
    assert "secret" not in message and "\n" not in message
    fifo = tmp_path / "sweeps.db"
    fifo.symlink_to(tmp_path / "elsewhere.db")
    with pytest.raises(SweepError, match="not a plain file"):
        SweepStorage(default_storage_url(tmp_path))
    assert display_url("postgresql://u:pw@h/d") == "postgresql://u:***@h/d"


def test_run_json_sweep_fields_are_validated(small_data: MnistData, tmp_path: Path) -> None:
    storage, store = sweep(tmp_path, {**TINY, "epochs": "1"})
    run_worker(storage, "s", small_data, store, lambda _e: None, trials=1)
    (run,), _ = store.list()
    path = run.path / "run.json"
    record = json.loads(path.read_text())
    assert record["sweep"] == {"study": "s", "trial": 0}
    for bad, reason in (
        (["s", 0], "sweep must be an object"),
        ({"study": "s", "trial": -1}, "sweep.trial must be between"),
        ({"study": "s", "trial": 0, "x": 1}, "unknown key"),
        ({"study": "a\x00b", "trial": 0}, "control characters"),
        ({"study": "s" * 200, "trial": 0}, "at most 128"),
        ({"study": 5, "trial": 0}, "sweep.study must be text"),
    ):
        path.write_text(json.dumps({**record, "sweep": bad}))
        with pytest.raises(RunError, match=reason):
            store.load(run.run_id)
    path.write_text(json.dumps({**record, "status": "pruned"}))
    assert store.load(run.run_id).status == "pruned"


def test_trials_and_cores_are_shared_between_workers() -> None:
    assert split_trials(5, 2) == [3, 2] and split_trials(1, 3) == [1, 0, 0]
    assert sum(split_trials(20, 3)) == 20
    assert threads_per_worker(2, cores=2) == 1 and threads_per_worker(4, cores=2) == 1
    assert threads_per_worker(1, cores=8) == 8 and threads_per_worker(3, cores=8) == 2
