"""``sweep run --workers auto``: one local worker per GPU, each seeing only its own
(``CUDA_VISIBLE_DEVICES``), else one per core. The GPUs are simulated: a fake
``nvidia-smi`` on ``PATH``, or ``CUDA_VISIBLE_DEVICES`` as a scheduler would set it."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest

from mnist_tui.core.data.mnist import MnistData
from mnist_tui.core.runs.store import RunStore
from mnist_tui.core.sweeps import worker as sweep_worker
from mnist_tui.core.sweeps.worker import Gpus, auto_workers, visible_gpus
from tests.cli.test_sweep_workers import QUICK, read, sweep_command
from tests.conftest import Cli

UUIDS = [f"GPU-{n}{n}{n}{n}{n}{n}{n}{n}-aaaa-bbbb-cccc-{n}{n}{n}{n}dddd0000" for n in range(4)]


def fake_nvidia_smi(folder: Path, body: str) -> Path:
    """A folder holding an executable ``nvidia-smi`` that runs ``body`` (sh)."""
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "nvidia-smi"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return folder


def listing(count: int, uuids: bool = True) -> str:
    lines = [
        f"GPU {i}: NVIDIA A100-SXM4-80GB" + (f" (UUID: {UUIDS[i]})" if uuids else "")
        for i in range(count)
    ]
    return "printf '%s\\n' " + " ".join(f"'{line}'" for line in lines)  # a builtin: no PATH


@pytest.fixture
def gpu_machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``PATH`` leads to a fake ``nvidia-smi`` listing 3 GPUs; no CUDA_VISIBLE_DEVICES."""
    folder = fake_nvidia_smi(tmp_path / "bin", listing(3))
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    return folder


def test_nvidia_smi_lists_the_gpus_by_uuid(gpu_machine: Path) -> None:
    gpus = visible_gpus()
    assert gpus == Gpus(tuple(UUIDS[:3]), "nvidia-smi")


def test_without_uuids_the_indices_name_the_gpus_in_pci_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = fake_nvidia_smi(tmp_path / "bin", listing(2, uuids=False))
    monkeypatch.setenv("PATH", str(folder))
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    gpus = visible_gpus()
    assert gpus.ids == ("0", "1") and gpus.pci_order
    plan = auto_workers(gpus)
    assert plan.worker_env(2) == {"CUDA_VISIBLE_DEVICES": "1", "CUDA_DEVICE_ORDER": "PCI_BUS_ID"}


@pytest.mark.parametrize(
    ("value", "ids"),
    [
        ("0,1,2,3", ("0", "1", "2", "3")),
        (" 2, 3 ", ("2", "3")),
        ("1,-1,2", ("1",)),  # CUDA stops at the first entry it cannot use
        ("", ()),
        ("-1", ()),
        ("GPU-abc,\x1b[2J", ("GPU-abc",)),
    ],
)
def test_an_existing_cuda_visible_devices_is_honoured(
    gpu_machine: Path, monkeypatch: pytest.MonkeyPatch, value: str, ids: tuple[str, ...]
) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", value)
    assert visible_gpus().ids == ids  # nvidia-smi's 3 GPUs are not asked for


@pytest.mark.parametrize(
    "body", ["exit 9", "sleep 30", "echo 'No devices were found'", "head -c 200000 /dev/zero"]
)
def test_no_gpu_when_nvidia_smi_fails_hangs_or_finds_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str
) -> None:
    monkeypatch.setenv("PATH", str(fake_nvidia_smi(tmp_path / "bin", body)))
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert visible_gpus(probe_seconds=1.0).ids == ()


def test_no_nvidia_smi_is_a_cpu_machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert visible_gpus() == Gpus((), "no nvidia-smi")


def test_one_worker_per_gpu_unless_memory_holds_fewer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sweep_worker, "available_cores", lambda: 16)
    monkeypatch.setattr(sweep_worker, "available_memory", lambda: 100 * 10**9)
    plan = auto_workers(Gpus(tuple(UUIDS), "nvidia-smi"))
    assert plan.workers == 4 and plan.threads == 4
    envs = [plan.worker_env(index) for index in range(1, 5)]
    assert [env["CUDA_VISIBLE_DEVICES"] for env in envs] == UUIDS
    monkeypatch.setattr(sweep_worker, "available_memory", lambda: 3 * 10**9)
    plan = auto_workers(Gpus(tuple(UUIDS), "nvidia-smi"))
    assert plan.workers == 2 and plan.gpus == tuple(UUIDS[:2]) and "memory" in plan.reason


def test_a_cpu_machine_splits_the_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sweep_worker, "available_cores", lambda: 8)
    monkeypatch.setattr(sweep_worker, "available_memory", lambda: 100 * 10**9)
    plan = auto_workers(Gpus((), "no nvidia-smi"))
    assert (plan.workers, plan.threads, plan.gpus) == (8, 1, ())
    assert plan.worker_env(1) == {}


class FakeWorker:
    """A worker process that has already ended well."""

    started = 0

    def __init__(self, command: list[str], env: dict[str, str]) -> None:
        self.command, self.env = command, env
        self.returncode = 0
        FakeWorker.started += 1
        self.pid = 4_000_000 + FakeWorker.started  # above any real pid: nobody's

    def poll(self) -> int:
        return 0


def _started(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    started: list[FakeWorker] = []
    real_popen = subprocess.Popen

    def popen(command: list[str], *args: Any, **kwargs: Any) -> Any:
        if "--worker-index" not in command:  # nvidia-smi
            return real_popen(command, *args, **kwargs)
        started.append(FakeWorker(command, kwargs["env"]))
        return started[-1]

    monkeypatch.setattr("mnist_tui.cli.sweep.subprocess.Popen", popen)
    code, _out, err = cli(
        "sweep", "run", "--runs-dir", str(tmp_path / "runs"), "--workers", "auto", "--trials", "7"
    )
    assert code == 0, err
    return [(worker.command, worker.env, err) for worker in started]


def test_auto_gives_each_worker_its_own_gpu(
    cli: Cli, gpu_machine: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sweep_worker, "available_memory", lambda: 100 * 10**9)
    started = _started(cli, tmp_path, monkeypatch)
    assert len(started) == 3
    assert "--workers auto: 3 workers, one per GPU (3 from nvidia-smi)" in started[0][2]
    assert [env["CUDA_VISIBLE_DEVICES"] for _c, env, _e in started] == UUIDS[:3]
    assert [command[command.index("--trials") + 1] for command, _e, _err in started] == [
        "3",
        "2",
        "2",
    ]
    assert all(env["MNIST_TUI_SWEEP_STORAGE"].startswith("sqlite") for _c, env, _e in started)


def test_auto_on_a_cpu_machine_gives_no_gpu(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.setattr(sweep_worker, "available_cores", lambda: 2)
    monkeypatch.setattr(sweep_worker, "available_memory", lambda: 100 * 10**9)
    started = _started(cli, tmp_path, monkeypatch)
    assert len(started) == 2 and "no GPU (no nvidia-smi): 2 cores" in started[0][2]
    assert all("CUDA_VISIBLE_DEVICES" not in env for _c, env, _e in started)
    assert all(command[command.index("--threads") + 1] == "1" for command, _e, _err in started)


def test_the_real_command_runs_one_worker_per_simulated_gpu(
    real_mnist: MnistData, tmp_path: Path
) -> None:
    """The whole command, as a user runs it, on a machine whose ``nvidia-smi`` lists two
    GPUs: each real worker process reports the one GPU its environment shows it."""
    folder = fake_nvidia_smi(tmp_path / "bin", listing(2))
    env = {key: value for key, value in os.environ.items() if key != "CUDA_VISIBLE_DEVICES"}
    env["PATH"] = f"{folder}{os.pathsep}{env.get('PATH', '')}"
    done = subprocess.run(
        sweep_command(
            tmp_path / "runs",
            *("--study", "gpus", "--trials", "2", "--workers", "auto", "--epochs", "1"),
            *QUICK,
        ),
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert "--workers auto: 2 workers, one per GPU (2 from nvidia-smi)" in done.stderr
    assert "Starting 2 workers (1 TensorFlow thread each, one GPU each)" in done.stderr
    for index, uuid in enumerate(UUIDS[:2], 1):
        assert f"[w{index}] sees only GPU {uuid} (CUDA_VISIBLE_DEVICES)" in done.stderr
    view = read(tmp_path / "runs", "gpus")
    assert view is not None and len({t.worker for t in view.trials}) == 2
    assert [t.state for t in view.trials] == ["complete", "complete"]
    assert len(RunStore(tmp_path / "runs").list()[0]) == 2
