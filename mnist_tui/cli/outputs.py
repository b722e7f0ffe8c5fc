"""The headless commands' output streams, and the signals that stop a command.

A reader that goes away (``mnist-tui train 2>&1 | head -3``) must not cost the run
being trained, and SIGTERM or SIGHUP (a supervisor, a dropped SSH session) must stop
training the way Ctrl-C does: the run is still evaluated and saved.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Any, TextIO

from mnist_tui.cli.exit_codes import ExitCode, signal_exit

STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)
STOP_NOTICE = (
    b"\nStopping after the current batch; the run will be saved. "
    b"Press Ctrl-C again to abort without saving.\n"
)


LOST_READER = frozenset({errno.EPIPE, errno.EIO})
"""A pipe whose reader has gone, a terminal that has gone (a hangup)."""


def discard_output(stream: TextIO) -> None:
    """Point ``stream``'s descriptor at ``/dev/null``: what it still holds, and all it is
    given later, is dropped without an error."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, stream.fileno())
        finally:
            os.close(devnull)


def _reader_gone(exc: OSError) -> bool:
    return exc.errno in LOST_READER


class SurvivingStream:
    """A text stream that turns into ``/dev/null`` once its reader has gone.

    Writes after a broken pipe are dropped instead of raising, so a command finishes
    its work (and saves its run) when nobody reads its output any more.
    """

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self.reader_gone = False
        """Set when a write or flush found the reader gone."""

    def write(self, text: str) -> int:
        """Write, or drop the text if the reader is gone."""
        try:
            return self._stream.write(text)
        except OSError as exc:
            if not _reader_gone(exc):
                raise
            self._drop()
            return len(text)

    def flush(self) -> None:
        """Flush, or discard what is buffered if the reader is gone."""
        try:
            self._stream.flush()
        except OSError as exc:
            if not _reader_gone(exc):
                raise
            self._drop()

    def _drop(self) -> None:
        self.reader_gone = True
        discard_output(self._stream)
        with contextlib.suppress(OSError, ValueError):
            self._stream.flush()  # what was buffered goes to /dev/null now

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


@contextlib.contextmanager
def surviving_outputs() -> Iterator[None]:
    """``sys.stdout`` and ``sys.stderr`` as :class:`SurvivingStream` for the duration."""
    saved = sys.stdout, sys.stderr
    sys.stdout = SurvivingStream(sys.stdout)
    sys.stderr = SurvivingStream(sys.stderr)
    try:
        yield
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        sys.stdout, sys.stderr = saved


@contextlib.contextmanager
def surviving_a_lost_terminal() -> Iterator[None]:
    """Run the full-screen app inside; a terminal gone by its end costs no exit code.

    Textual's last words (the quit message, a traceback) and the text Python still holds
    for the terminal would fail to write, raise ``OSError`` and turn the exit code into
    1 or 120. When the terminal is gone, what is left for it is discarded and that
    ``OSError`` swallowed; any other ``OSError`` is raised as usual.
    """
    try:
        yield
    except OSError:
        if not _discard_if_lost():
            raise
    else:
        _discard_if_lost()


def _discard_if_lost() -> bool:
    """Flush stdout and stderr; point each that cannot be flushed at ``/dev/null``."""
    lost = False
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except OSError:
            lost = True
            discard_output(stream)
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        except ValueError:  # closed
            continue
    return lost


class StopSignals:
    """Ctrl-C, SIGTERM and SIGHUP ask training to stop; a second Ctrl-C aborts.

    A repeated SIGTERM or SIGHUP does not abort: such signals come from a supervisor or
    the kernel (a worker's parent-death signal), and may come more than once for one
    stop; the run is still saved.

    ``received`` is the first signal's number, and :attr:`exit_code` the code a
    command that still saved its run exits with: 0 after Ctrl-C (the user's own
    stop), 128 + the signal's number after SIGTERM or SIGHUP.
    """

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop
        self.received: int | None = None

    @property
    def exit_code(self) -> int:
        """0, or 128 + the signal that stopped the run (143 for SIGTERM)."""
        if self.received is None or self.received == signal.SIGINT:
            return ExitCode.OK
        return signal_exit(self.received)

    def _handle(self, signum: int, _frame: Any) -> None:
        if self.stop.is_set():
            if signum == signal.SIGINT:
                raise KeyboardInterrupt
            return  # already stopping: the run is saved as asked the first time
        self.received = signum
        self.stop.set()
        # The signal may land inside a write to stderr: write to the descriptor
        # directly, never re-entering the same Python stream.
        with contextlib.suppress(OSError, ValueError):
            os.write(sys.stderr.fileno(), STOP_NOTICE)

    @contextlib.contextmanager
    def installed(self) -> Iterator[StopSignals]:
        """Handle the stop signals inside the block; the previous handlers come back."""
        previous = {signum: signal.signal(signum, self._handle) for signum in STOP_SIGNALS}
        try:
            yield self
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
