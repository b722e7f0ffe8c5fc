"""Bounds on what ``sweep run`` starts: workers capped by cores and memory, options checked
before anything is created, and local workers that end with their parent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mnist_tui.core.sweeps import worker as sweep
from mnist_tui.core.sweeps.storage import STORAGE_FILE
from tests.conftest import Cli, gone


@pytest.fixture(autouse=True)
def no_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """A command that gets past its checks fails at once instead of training."""

    def started(*_args: object, **_kwargs: object) -> int:
        raise AssertionError("the command started work")

    monkeypatch.setattr("mnist_tui.cli.sweep._run_here", started)
    monkeypatch.setattr("mnist_tui.cli.sweep._run_workers", started)


@pytest.mark.parametrize(
    ("option", "value", "reason"),
    [
        ("--sampler-seed", "-1", "--sampler-seed: must be a whole number from 0 to"),
        ("--sampler-seed", str(2**40), "--sampler-seed: must be a whole number from 0 to"),
        ("--workers", "10000", "--workers: at most"),
        ("--threads", "10000", "--threads: at most"),
        ("--heartbeat", str(10**12), "--heartbeat: at most"),
    ],
)
def test_bad_options_are_one_line_before_anything_is_created(
    cli: Cli, tmp_path: Path, option: str, value: str, reason: str
) -> None:
    code, out, err = cli("sweep", "run", "--runs-dir", str(tmp_path), "--study", "s", option, value)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and reason in err, err
    assert not (tmp_path / STORAGE_FILE).exists()


def test_the_worker_cap_names_what_limits_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sweep, "available_cores", lambda: 16)
    monkeypatch.setattr(sweep, "available_memory", lambda: 3 * sweep.WORKER_MEMORY + 1)
    limit = sweep.worker_limit()
    assert limit.workers == 3 and "memory" in limit.reason and "16 cores" in limit.reason
    monkeypatch.setattr(sweep, "available_cores", lambda: 2)
    limit = sweep.worker_limit()
    assert limit.workers == 2 and limit.reason.startswith("2 cores")
    monkeypatch.setattr(sweep, "available_memory", lambda: 1)
    assert sweep.worker_limit().workers == 1  # one worker is always allowed


def test_more_workers_than_the_cap_are_refused(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sweep, "available_cores", lambda: 2)
    code, _out, err = cli("sweep", "run", "--runs-dir", str(tmp_path), "--workers", "3")
    assert code == 2 and "--workers: at most 2 here (2 cores" in err, err
    assert not (tmp_path / STORAGE_FILE).exists()


WORKER = """
import os, signal, sys, time
from mnist_tui.cli.sweep import end_with_parent
signal.signal(signal.SIGTERM, lambda *_: (print("stopping", flush=True), sys.exit(143)))
end_with_parent(int(sys.argv[1]), deathsig=sys.argv[2] == "1")
print("ready", flush=True)
time.sleep(60)
"""
PARENT = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", sys.argv[1], str(__import__("os").getpid()),
                          sys.argv[2]], stdout=open(sys.argv[3], "w"))
print(child.pid, flush=True)
time.sleep(60)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("deathsig", [True, False], ids=["prctl", "watchdog"])
def test_a_worker_ends_when_its_parent_is_killed(tmp_path: Path, deathsig: bool) -> None:
    log = tmp_path / "worker.log"
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, WORKER, "1" if deathsig else "0", str(log)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parents[2],
    )
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    deadline = time.monotonic() + 30
    while "ready" not in (log.read_text() if log.exists() else ""):
        assert time.monotonic() < deadline and not gone(child)
        time.sleep(0.05)
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    try:
        deadline = time.monotonic() + 10
        while not gone(child):
            assert time.monotonic() < deadline, "the orphaned worker kept running"
            time.sleep(0.05)
    finally:
        if not gone(child):
            os.kill(child, signal.SIGKILL)
    assert "stopping" in log.read_text()  # told as by SIGTERM: its trial is saved
