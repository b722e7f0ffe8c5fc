"""Sweeps across processes: ``--workers K`` on the embedded storage, a worker killed with
SIGKILL mid-trial, SIGTERM. Each worker is a real ``python -I -m mnist_tui`` process on
the real MNIST (tiny models, a few seconds a trial)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from mnist_tui.core.data.mnist import MnistData
from mnist_tui.core.runs.store import RunStore
from mnist_tui.core.sweeps.storage import (
    StudyView,
    SweepStorage,
    TrialView,
    default_storage_url,
)
from tests.conftest import gone

QUICK = ["--hidden-units", "16|32", "--batch-size", "512", "--learning-rate", "0.01"]


def sweep_command(runs: Path, *args: str) -> list[str]:
    return [sys.executable, "-I", "-m", "mnist_tui", "sweep", "run", "--runs-dir", str(runs), *args]


def read(runs: Path, study: str) -> StudyView | None:
    if not (runs / "sweeps.db").is_file():
        return None
    with SweepStorage(default_storage_url(runs), create=False) as storage:
        return storage.study(study) if storage.study_id(study) is not None else None


def wait_for(
    runs: Path,
    study: str,
    found: Callable[[StudyView], list[TrialView]],
    proc: subprocess.Popen[str],
    timeout: float = 120,
) -> list[TrialView]:
    """Poll the study (as a front end would) until ``found`` finds trials."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        view = read(runs, study)
        if view is not None and (trials := found(view)):
            return trials
        time.sleep(0.2)
    raise AssertionError("timed out waiting for the study")


def test_two_workers_split_the_trials_and_none_runs_twice(
    real_mnist: MnistData, tmp_path: Path
) -> None:
    done = subprocess.run(
        sweep_command(
            tmp_path, "--study", "pair", "--trials", "5", "--workers", "2", "--epochs", "1", *QUICK
        ),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "Starting 2 workers (1 TensorFlow thread each)" in done.stderr
    assert "Study pair: 5 trials (5 complete)" in done.stdout
    view = read(tmp_path, "pair")
    assert view is not None
    assert [t.number for t in view.trials] == [0, 1, 2, 3, 4]
    workers = sorted({t.worker for t in view.trials})
    assert len(workers) == 2  # both took part, 3 trials and 2
    assert sorted(sum(t.worker == w for t in view.trials) for w in workers) == [2, 3]
    runs, bad = RunStore(tmp_path).list()
    assert bad == [] and len(runs) == 5
    assert sorted(run.sweep.trial for run in runs if run.sweep) == [0, 1, 2, 3, 4]
    assert {t.run_id for t in view.trials} == {run.run_id for run in runs}
    for index in (1, 2):
        assert f"[w{index}] trial " in done.stderr  # each worker's progress, labelled


def test_a_worker_killed_mid_trial_leaves_it_failed_and_the_other_carries_on(
    real_mnist: MnistData, tmp_path: Path
) -> None:
    proc = subprocess.Popen(
        sweep_command(
            tmp_path,
            "--study",
            "kill",
            "--trials",
            "8",
            "--workers",
            "2",
            "--heartbeat",
            "1",
            "--epochs",
            "3",
            *QUICK,
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    running = wait_for(
        tmp_path,
        "kill",
        lambda view: [t for t in view.trials if t.state == "running" and t.worker],
        proc,
    )
    victim = running[0]
    os.kill(int(victim.worker.rsplit(":", 1)[1]), signal.SIGKILL)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 1, err  # a worker was lost, and the command says so
    assert "exited with code -9" in err
    # its parent saw it die and marked its trial failed at once, heartbeats or not
    lost = f"trial {victim.number} (worker {victim.worker}) ended with its worker (exit -9)"
    assert f"{lost}: marked failed" in err
    view = read(tmp_path, "kill")
    assert view is not None
    states = {t.number: t.state for t in view.trials}
    assert states[victim.number] == "failed"
    others = [t for t in view.trials if t.worker != victim.worker]
    assert len(others) == 4 and all(t.state == "complete" for t in others)
    assert "running" not in states.values()
    assert "Study kill:" in out and "1 failed" in out


def test_sigterm_stops_the_workers_after_saving_their_trials_as_stopped(
    real_mnist: MnistData, tmp_path: Path
) -> None:
    proc = subprocess.Popen(
        sweep_command(
            tmp_path,
            "--study",
            "term",
            "--trials",
            "4",
            "--workers",
            "2",
            "--epochs",
            "200",
            *QUICK,
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # both workers are training (an epoch done each), so each has a run to save
    wait_for(
        tmp_path,
        "term",
        lambda view: (
            [t for t in view.trials if t.state == "running" and t.val_curve]
            if sum(t.state == "running" and len(t.val_curve) >= 1 for t in view.trials) == 2
            else []
        ),
        proc,
    )
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert "Traceback" not in err
    view = read(tmp_path, "term")
    assert view is not None
    assert [t.state for t in view.trials] == ["stopped", "stopped"]  # and no new trial
    runs, _bad = RunStore(tmp_path).list()
    assert len(runs) == 2
    assert all(run.status == "stopped" and 1 <= run.epochs_done < 200 for run in runs)
    assert "2 stopped" in out


def test_workers_end_when_their_parent_is_killed(real_mnist: MnistData, tmp_path: Path) -> None:
    """``kill -9`` of ``sweep run --workers 2``: each worker is told as by SIGTERM, saves
    its trial as stopped and ends, instead of training on under PID 1."""
    log = (tmp_path / "out.log").open("w")
    proc = subprocess.Popen(
        sweep_command(
            tmp_path,
            "--study",
            "orphans",
            "--trials",
            "4",
            "--workers",
            "2",
            "--epochs",
            "200",
            *QUICK,
        ),
        stdout=log,
        stderr=log,
        text=True,
    )
    running = wait_for(
        tmp_path,
        "orphans",
        lambda view: (
            [t for t in view.trials if t.state == "running" and t.val_curve]
            if sum(t.state == "running" and len(t.val_curve) >= 1 for t in view.trials) == 2
            else []
        ),
        proc,
    )
    pids = [int(t.worker.rsplit(":", 1)[1]) for t in running]
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 60
    try:
        while not all(gone(pid) for pid in pids):
            assert time.monotonic() < deadline, "the workers kept training"
            time.sleep(0.2)
    finally:
        for pid in pids:
            if not gone(pid):
                os.kill(pid, signal.SIGKILL)
    view = read(tmp_path, "orphans")
    assert view is not None
    assert [t.state for t in view.trials] == ["stopped", "stopped"]
    runs, _bad = RunStore(tmp_path).list()
    assert len(runs) == 2 and all(run.status == "stopped" for run in runs)


def test_a_repeated_sigterm_still_saves_but_a_second_ctrl_c_aborts() -> None:
    """A supervisor's or the kernel's SIGTERM may come twice for one stop (the workers
    above got their parent-death signal twice at times): only a second Ctrl-C aborts."""
    import threading

    import pytest

    from mnist_tui.cli.outputs import StopSignals

    signals = StopSignals(threading.Event())
    signals._handle(signal.SIGTERM, None)
    signals._handle(signal.SIGTERM, None)  # no abort: the run is still saved
    assert signals.stop.is_set() and signals.exit_code == 143
    with pytest.raises(KeyboardInterrupt):
        signals._handle(signal.SIGINT, None)
