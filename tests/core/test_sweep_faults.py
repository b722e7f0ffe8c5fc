"""A study storage that fails mid-sweep: calls are retried for a bounded time, a trial's
run is never lost, and what cannot be recorded is one line naming the saved run."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import optuna
import pytest

from mnist_tui.core.data.mnist import MnistData
from mnist_tui.core.events import EpochEnd
from mnist_tui.core.runs.store import RunStore
from mnist_tui.core.sweeps import storage as sweep_storage
from mnist_tui.core.sweeps.space import SearchSpace
from mnist_tui.core.sweeps.storage import (
    SweepError,
    SweepSettings,
    SweepStorage,
    default_storage_url,
)
from mnist_tui.core.sweeps.worker import SweepEvent, TrialProgress, run_worker
from tests.conftest import Cli

TINY = {
    "hidden_units": "16",
    "batch_size": "128",
    "learning_rate": "0.01",
    "dropout": "0",
    "epochs": "3",
}
HOLD = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
db.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(float(sys.argv[2])) if sys.argv[2] != "stdin" else sys.stdin.read()
db.execute("COMMIT")
"""


class Locker:
    """Another process holding an exclusive lock on the SQLite file, as a long write
    (or a backup tool) would."""

    def __init__(self, file: Path) -> None:
        self.file = file
        self.proc: subprocess.Popen[str] | None = None

    def lock(self, seconds: float | None) -> None:
        """Hold the lock for ``seconds``, or until :meth:`release` (``None``)."""
        if self.proc is None:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    HOLD,
                    str(self.file),
                    "stdin" if seconds is None else str(seconds),
                ],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            assert self.proc.stdout is not None
            assert self.proc.stdout.readline().strip() == "locked"

    def release(self) -> None:
        if self.proc is not None:
            self.proc.communicate(timeout=30)


@pytest.fixture
def locker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Locker]:
    """Short waits for the locked file and a short retry budget, so faults show fast."""
    monkeypatch.setattr(sweep_storage, "SQLITE_BUSY_TIMEOUT", 0.2)
    monkeypatch.setattr(sweep_storage, "RETRY_SECONDS", 30.0, raising=False)
    held = Locker(tmp_path / sweep_storage.STORAGE_FILE)
    yield held
    held.release()


def new_study(tmp_path: Path) -> SweepStorage:
    storage = SweepStorage(default_storage_url(tmp_path), heartbeat=1)
    storage.create("s", SweepSettings(SearchSpace.build({}, TINY)))
    return storage


def lock_after_epoch(
    locker: Locker, epoch: int, seconds: float | None
) -> Callable[[SweepEvent], None]:
    """A sink that locks the storage once the first trial's ``epoch`` is over."""

    def on_event(event: SweepEvent) -> None:
        if (
            isinstance(event, TrialProgress)
            and isinstance(event.event, EpochEnd)
            and event.event.epoch == epoch
        ):
            locker.lock(seconds)

    return on_event


def test_a_storage_locked_mid_trial_is_waited_for(
    small_data: MnistData, tmp_path: Path, locker: Locker, capfd: pytest.CaptureFixture[str]
) -> None:
    storage = new_study(tmp_path)
    store = RunStore(tmp_path)
    on_event = lock_after_epoch(locker, 1, 2.5)
    result = run_worker(storage, "s", small_data, store, on_event, trials=2)
    assert [t.state for t in result.trials] == ["complete", "complete"]
    assert locker.proc is not None and storage.last_fault > 0  # it did meet the lock
    (trial, second) = storage.study("s").trials
    assert trial.state == "complete" and trial.val_curve and len(trial.val_curve) == 3
    runs = {run.run_id for run in store.list()[0]}
    assert {trial.run_id, second.run_id} == runs
    assert "Traceback" not in capfd.readouterr().err  # not even from the heartbeat thread


def test_a_storage_gone_for_longer_keeps_the_run_and_says_so_in_one_line(
    small_data: MnistData, tmp_path: Path, locker: Locker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sweep_storage, "RETRY_SECONDS", 1.0, raising=False)
    storage = new_study(tmp_path)
    store = RunStore(tmp_path)
    on_event = lock_after_epoch(locker, 1, None)
    with pytest.raises(SweepError) as caught:
        run_worker(storage, "s", small_data, store, on_event, trials=2)
    (run,), _bad = store.list()  # trained to the end and saved all the same
    assert run.epochs_done == 3 and run.status == "completed"
    message = str(caught.value)
    assert "\n" not in message and run.run_id in message and "trial 0" in message
    locker.release()
    assert storage.study("s").trials[0].state == "running"  # its heartbeat will fail it


def test_a_trial_failed_by_another_worker_meanwhile_is_recorded_again(
    small_data: MnistData, tmp_path: Path
) -> None:
    """While the storage was out of reach, another worker judged this trial's heartbeat
    stale and failed it: its result comes back as a trial of its own."""
    storage = new_study(tmp_path)
    store = RunStore(tmp_path)
    other = SweepStorage(default_storage_url(tmp_path))

    def on_event(event: SweepEvent) -> None:
        if (
            isinstance(event, TrialProgress)
            and isinstance(event.event, EpochEnd)
            and event.event.epoch == 2
        ):
            (trial,) = other.optuna.get_all_trials(other.study_id("s") or 0)
            other.optuna.set_trial_state_values(trial._trial_id, optuna.trial.TrialState.FAIL)

    result = run_worker(storage, "s", small_data, store, on_event, trials=1)
    assert [t.state for t in result.trials] == ["complete"]
    first, again = storage.study("s").trials
    (run,), _ = store.list()
    assert first.state == "failed" and again.state == "complete"
    assert again.run_id == run.run_id and len(again.val_curve) == 3
    assert again.params == first.params


def test_a_new_study_on_read_only_storage_is_one_line(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    SweepStorage(default_storage_url(tmp_path)).close()  # the tables exist
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///file:{tmp_path / 'sweeps.db'}?mode=ro&uri=true"
    code, _out, err = cli(
        "sweep",
        "run",
        "--storage",
        url,
        "--study",
        "new",
        "--runs-dir",
        str(tmp_path),
        "--epochs",
        "1",
    )
    assert code == 5, err
    assert err.count("\n") == 1, err
    assert err.startswith("error: cannot write to the study storage") and "readonly" in err
    assert "recursion" not in err
    assert not (tmp_path / "file:").exists()  # no folder made of the URL's prefix


@pytest.mark.parametrize(
    ("message", "sqlite", "passes"),
    [
        ("database is locked", True, True),
        ("attempt to write a readonly database", True, False),
        ("unable to open database file", True, False),
        ('connection to server at "db", port 5432 failed: Connection refused', False, True),
        ("terminating connection due to administrator command", False, True),
        ("the database system is starting up", False, True),
        ('password authentication failed for user "sweeper"', False, False),
        ('database "sweeps" does not exist', False, False),
    ],
)
def test_which_faults_are_waited_out(message: str, sqlite: bool, passes: bool) -> None:
    import sqlite3

    from optuna.exceptions import StorageInternalError
    from sqlalchemy.exc import OperationalError

    from mnist_tui.core.sweeps.storage import transient_fault

    error = OperationalError("SELECT 1", {}, sqlite3.OperationalError(message))
    wrapped = StorageInternalError("An exception is raised during the commit.")
    wrapped.__cause__ = error
    assert transient_fault(wrapped, sqlite=sqlite) is passes
    assert sweep_storage.storage_reason(wrapped) == message
