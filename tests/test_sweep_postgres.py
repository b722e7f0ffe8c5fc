"""Many machines, one study: a real PostgreSQL server (started by the tests on loopback)
serving two workers that each run the same command, as two machines would."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mnist_tui.core.data import MnistData
from mnist_tui.core.runs import RunStore
from mnist_tui.core.sweep_storage import SweepStorage
from tests.postgres_server import postgres_server


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL server for this module, stopped and removed afterwards."""
    with postgres_server() as url:
        yield url


def test_two_workers_of_one_study_on_postgresql(postgres_url: str, real_mnist: MnistData,
                                                tmp_path: Path) -> None:
    # Each "machine" keeps its own runs folder; the study is shared through the server.
    command = ["--study", "shared", "--storage", postgres_url, "--trials", "2",
               "--epochs", "1", "--hidden-units", "16|32", "--batch-size", "512"]
    machines = [tmp_path / "a", tmp_path / "b"]
    procs = [subprocess.Popen([sys.executable, "-I", "-m", "mnist_tui", "sweep", "run",
                               "--runs-dir", str(runs), *command],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for runs in machines]
    outputs = [proc.communicate(timeout=300) for proc in procs]
    for proc, (_out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
    with SweepStorage(postgres_url, create=False) as storage:
        view = storage.study("shared")
    assert [t.number for t in view.trials] == [0, 1, 2, 3]
    assert all(t.state == "complete" for t in view.trials)
    assert len({t.worker for t in view.trials}) == 2
    saved = {run.run_id: run for runs in machines for run in RunStore(runs).list()[0]}
    assert {t.run_id for t in view.trials} == set(saved)
    assert sorted(run.sweep.trial for run in saved.values() if run.sweep) == [0, 1, 2, 3]

    done = subprocess.run([sys.executable, "-I", "-m", "mnist_tui", "sweep", "list",
                           "--storage", postgres_url], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and "shared" in done.stdout
