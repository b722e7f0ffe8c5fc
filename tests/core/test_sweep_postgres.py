"""Many machines, one study: a real PostgreSQL server (started by the tests on loopback)
serving two workers that each run the same command, as two machines would."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mnist_tui.core.data.mnist import MnistData
from mnist_tui.core.runs.store import RunStore
from mnist_tui.core.sweeps import storage as sweep_storage
from mnist_tui.core.sweeps.storage import SweepStorage
from tests.postgres_server import postgres_server


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL server for this module, stopped and removed afterwards."""
    with postgres_server() as url:
        yield url


def test_two_workers_of_one_study_on_postgresql(
    postgres_url: str, real_mnist: MnistData, tmp_path: Path
) -> None:
    # Each "machine" keeps its own runs folder; the study is shared through the server.
    command = [
        "--study",
        "shared",
        "--storage",
        postgres_url,
        "--trials",
        "2",
        "--epochs",
        "1",
        "--hidden-units",
        "16|32",
        "--batch-size",
        "512",
    ]
    machines = [tmp_path / "a", tmp_path / "b"]
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-I",
                "-m",
                "mnist_tui",
                "sweep",
                "run",
                "--runs-dir",
                str(runs),
                *command,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for runs in machines
    ]
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

    done = subprocess.run(
        [sys.executable, "-I", "-m", "mnist_tui", "sweep", "list", "--storage", postgres_url],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0 and "shared" in done.stdout


def worker_command_lines(parent: int) -> list[str]:
    """The command lines of ``parent``'s children, as ``ps`` shows them to anyone."""
    lines = []
    for proc in Path("/proc").iterdir():
        try:
            stat = (proc / "stat").read_text()
            if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
                lines.append((proc / "cmdline").read_bytes().replace(b"\0", b" ").decode())
        except (OSError, ValueError, IndexError):
            continue
    return lines


def test_workers_never_show_the_password_in_ps(
    postgres_url: str, real_mnist: MnistData, tmp_path: Path
) -> None:
    secret = "Pw@With:Odd/Chars"  # the server trusts loopback, so any password does
    url = postgres_url.replace("postgres@", f"postgres:{secret}@", 1)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-I",
            "-m",
            "mnist_tui",
            "sweep",
            "run",
            "--runs-dir",
            str(tmp_path),
            "--study",
            "ps",
            "--storage",
            url,
            "--workers",
            "2",
            "--trials",
            "2",
            "--epochs",
            "1",
            "--hidden-units",
            "16",
            "--batch-size",
            "512",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen: list[str] = []
    while proc.poll() is None:
        seen += [line for line in worker_command_lines(proc.pid) if "--worker-index" in line]
        time.sleep(0.1)
    out, err = proc.communicate()
    assert proc.returncode == 0, err
    assert seen and not any("Pw@" in line or "Odd" in line for line in seen)
    assert "Odd" not in out + err and "postgres:***@127.0.0.1" in out + err
    assert "Study ps: 2 trials (2 complete)" in out


def test_a_database_restart_mid_trial_is_ridden_out(
    postgres_url: str, small_data: MnistData, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every connection cut and new ones refused for two seconds, as a restart does."""
    import psycopg

    from mnist_tui.core.events import EpochEnd
    from mnist_tui.core.sweeps.space import SearchSpace
    from mnist_tui.core.sweeps.storage import SweepSettings
    from mnist_tui.core.sweeps.worker import SweepEvent, TrialProgress, run_worker

    monkeypatch.setattr(sweep_storage, "RETRY_SECONDS", 30.0, raising=False)
    admin = postgres_url.rsplit("/", 1)[0] + "/template1"
    cut: list[float] = []
    timers: list[threading.Timer] = []

    def restart() -> None:
        with psycopg.connect(admin, autocommit=True) as db:
            db.execute("ALTER DATABASE postgres ALLOW_CONNECTIONS false")
            db.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = 'postgres' AND pid <> pg_backend_pid()"
            )
        cut.append(time.monotonic())

        def back() -> None:
            with psycopg.connect(admin, autocommit=True) as db:
                db.execute("ALTER DATABASE postgres ALLOW_CONNECTIONS true")

        timers.append(threading.Timer(2.0, back))
        timers[0].start()

    def on_event(event: SweepEvent) -> None:
        if (
            isinstance(event, TrialProgress)
            and isinstance(event.event, EpochEnd)
            and event.event.epoch == 1
            and not cut
        ):
            restart()

    storage = SweepStorage(postgres_url, heartbeat=1)
    storage.create(
        "restart",
        SweepSettings(
            SearchSpace.build(
                {},
                {"hidden_units": "16", "batch_size": "128", "learning_rate": "0.01", "epochs": "3"},
            )
        ),
    )
    store = RunStore(tmp_path)
    try:
        result = run_worker(storage, "restart", small_data, store, on_event, trials=2)
    finally:
        for timer in timers:
            timer.join()
    assert cut and [t.state for t in result.trials] == ["complete", "complete"]
    view = storage.study("restart")
    assert [t.state for t in view.trials] == ["complete", "complete"]
    assert all(len(t.val_curve) == 3 for t in view.trials)
    assert {t.run_id for t in view.trials} == {run.run_id for run in store.list()[0]}
    storage.close()
