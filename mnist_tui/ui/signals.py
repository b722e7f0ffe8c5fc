"""The signals that quit the app as ctrl+q does, taken over while it runs and given back
after."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Callable
from types import FrameType

QUIT_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)
)
"""Signals that quit the app as ctrl+q does (SIGHUP: the terminal or SSH session went away)."""
SignalHandler = Callable[[int, FrameType | None], object] | int | None
"""What ``signal.getsignal`` returns."""


class QuitSignals:
    """SIGTERM and SIGHUP call ``quit(128 + the signal's number)`` while taken."""

    def __init__(self, quit: Callable[[int], object]) -> None:
        self._quit = quit
        self._previous: dict[int, SignalHandler] = {}
        """The handlers our quit signals had before the app took them over."""

    def take(self) -> None:
        """Take the quit signals over, only where asyncio can watch signals (the main
        thread, not Windows); a signal the process was started ignoring (``nohup``) stays
        ignored. Call it on the app's event loop."""
        if threading.current_thread() is not threading.main_thread():
            return
        loop = asyncio.get_running_loop()
        for signum in QUIT_SIGNALS:
            previous = signal.getsignal(signum)
            if previous == signal.SIG_IGN:
                continue
            try:
                loop.add_signal_handler(signum, self._quit, 128 + signum)
            except (NotImplementedError, RuntimeError, ValueError):
                continue
            self._previous[signum] = previous

    def give_back(self) -> None:
        """The quit signals get back the handlers they had before the app started (the
        default one where that handler was not set from Python)."""
        loop = asyncio.get_running_loop()
        for signum, previous in self._previous.items():
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(signum)  # back to the default
                if previous is not None:
                    signal.signal(signum, previous)
        self._previous.clear()
