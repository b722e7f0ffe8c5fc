"""How the app ends: its exit code after a crash or a signal, and a stopped run kept."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

import mnist_tui.ui.app
from mnist_tui.cli import main
from mnist_tui.core.data.mnist import MnistData
from mnist_tui.core.runs.store import RunInfo, RunStore
from mnist_tui.ui.app import MnistApp
from mnist_tui.ui.tabs.training_view import TrainingView
from tests.ui.conftest import FAST, wait_for

SIZE = (120, 40)
AppFactory = Callable[..., MnistApp]
QUIT_SIGNALS = [signal.SIGTERM, signal.SIGHUP]


@pytest.fixture
def caught() -> Iterator[list[int]]:
    """SIGTERM and SIGHUP that reach no handler of the app land here, not in pytest's death.

    Whatever handled them before the test is put back after it.
    """
    seen: list[int] = []

    def record(signum: int, _frame: FrameType | None) -> None:
        seen.append(signum)

    previous = {signum: signal.signal(signum, record) for signum in QUIT_SIGNALS}
    try:
        yield seen
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


async def stopped_runs(runs_dir: Path, timeout: float = 60.0) -> list[RunInfo]:
    """The runs saved in ``runs_dir``, once there is one (the worker outlives the app)."""
    deadline = time.monotonic() + timeout
    while not (runs := RunStore(runs_dir).list()[0]):
        assert time.monotonic() < deadline, "no run was saved"
        await asyncio.sleep(0.1)
    return runs


@pytest.mark.parametrize("signum", QUIT_SIGNALS, ids=lambda s: signal.Signals(s).name)
async def test_a_quit_signal_mid_training_stops_saves_and_exits_128_plus_n(
    make_app: AppFactory, tmp_path: Path, caught: list[int], signum: int
) -> None:
    app = make_app(FAST.replace(epochs=1000))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(lambda: app.data is not None, pilot)
        await pilot.press("ctrl+t")
        view = app.query_one(TrainingView)
        await wait_for(lambda: len(view.history) >= 1, pilot, timeout=120)
        os.kill(os.getpid(), signum)
        deadline = time.monotonic() + 10
        while app.return_code is None and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert app.session is not None
        told_to_stop = app.session.stopping
        app.session.stop()  # whatever happened, no 1000 epochs go on behind a failed test
    assert told_to_stop  # the training was told to stop, as ctrl+q does
    assert app.return_code == 128 + signum
    assert caught == []  # the app handled it
    assert signal.getsignal(signum) is not signal.SIG_DFL  # else the next line ends pytest
    os.kill(os.getpid(), signum)
    assert caught == [signum]  # the test's handler is back
    (run,) = await stopped_runs(tmp_path / "runs")
    assert run.status == "stopped" and 1 <= run.epochs_done < 300


async def test_a_hangup_ignored_at_start_stays_ignored(
    make_app: AppFactory, caught: list[int]
) -> None:
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # as under nohup
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert signal.getsignal(signal.SIGHUP) == signal.SIG_IGN
        os.kill(os.getpid(), signal.SIGHUP)
        await pilot.pause(0.2)
        assert app.return_code is None and app.is_running  # not quitting
    assert caught == []


def scripted_app(ending: str, data: MnistData) -> type[MnistApp]:
    """The real app, headless on small data, that ends by ``ending``: raise or SIGTERM."""

    class Scripted(MnistApp):
        CSS_PATH = Path(mnist_tui.ui.app.__file__).with_name("app.tcss")

        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs, data_loader=lambda _say: data)

        def on_mount(self) -> None:
            super().on_mount()
            if ending == "raise":
                raise RuntimeError("a handler failed on [red]x[/red]")
            self.call_after_refresh(os.kill, os.getpid(), signal.SIGTERM)
            self.set_timer(10, self.exit)  # an app deaf to SIGTERM ends all the same, with 0

        def run(self, **_kwargs: Any) -> None:
            super().run(headless=True, size=SIZE)

    return Scripted


@pytest.mark.parametrize(("ending", "code"), [("raise", 1), ("sigterm", 143)])
def test_main_returns_the_apps_exit_code(
    ending: str,
    code: int,
    slice_data: MnistData,
    tmp_path: Path,
    caught: list[int],
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("MNIST_TUI_LOG_DIR", str(tmp_path / "logs"))
    monkeypatch.setattr(mnist_tui.ui.app, "MnistApp", scripted_app(ending, slice_data))
    assert main(["--runs-dir", str(tmp_path / "runs")]) == code
    err = capfd.readouterr().err
    if ending == "raise":  # the traceback is on the terminal, not in the native log
        assert "Traceback" in err and "a handler failed on [red]x[/red]" in err
    else:
        assert "Traceback" not in err and caught == []


@pytest.mark.parametrize(("ending", "code"), [("sigterm", 143), ("hangup", 129)])
def test_in_a_terminal_the_run_is_saved_before_the_process_ends(
    real_mnist: MnistData, tmp_path: Path, ending: str, code: int
) -> None:
    """``mnist-tui`` in a pseudo-terminal: train, then SIGTERM, or the terminal closes
    (the kernel sends the app, its session leader, SIGHUP): exit 128 + N, run on disk."""
    import fcntl
    import pty
    import select
    import struct
    import termios

    runs_dir = tmp_path / "runs"
    pid, fd = pty.fork()
    if pid == 0:  # the child: the app, as a user starts it in a 120x40 terminal
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        os.environ.update(TERM="xterm-256color", MNIST_TUI_LOG_DIR=str(tmp_path / "logs"))
        os.execvp(
            sys.executable,
            [
                sys.executable,
                "-I",
                "-m",
                "mnist_tui",
                "--runs-dir",
                str(runs_dir),
                "--epochs",
                "50",
                "--batch-size",
                "256",
            ],
        )
    shown, stage, began = b"", "loading", time.monotonic()
    status = None
    try:
        while time.monotonic() - began < 120 and fd >= 0:
            if select.select([fd], [], [], 0.1)[0]:
                try:
                    chunk = os.read(fd, 65536)
                except OSError:  # the child closed the terminal
                    chunk = b""
                if not chunk:
                    break
                shown += chunk
            if stage == "loading" and "✓".encode() in shown:  # MNIST loaded and verified
                os.write(fd, b"\x14")  # ctrl+t
                stage, shown = "training", b""
            elif stage == "training" and b"ETA" in shown:  # the first batches are done
                stage = "stopping"
                if ending == "sigterm":
                    os.kill(pid, signal.SIGTERM)
                else:
                    os.close(fd)  # the terminal goes away
                    fd = -1
        _, status = os.waitpid(pid, 0)
    finally:
        if status is None:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        if fd >= 0:
            os.close(fd)
    assert stage == "stopping", shown.decode(errors="replace")[-2000:]
    assert os.waitstatus_to_exitcode(status) == code
    assert b"Traceback" not in shown
    runs, bad = RunStore(runs_dir).list()  # on disk when the process ended, not later
    assert not bad and [run.status for run in runs] == ["stopped"]
