"""Every exit code of ``mnist-tui``, in one place: the commands return these and
``docs/cli.md`` is generated from them."""

from __future__ import annotations

import signal
from enum import IntEnum


class ExitCode(IntEnum):
    """How a command ended. A stop by a signal other than these exits 128 + its number."""

    OK = 0
    DECLINED = 1
    USAGE = 2
    DATA = 3
    RUN = 4
    SWEEP = 5
    SERVE = 6
    HANGUP = 128 + signal.SIGHUP
    INTERRUPTED = 128 + signal.SIGINT
    TERMINATED = 128 + signal.SIGTERM


MEANINGS: dict[ExitCode, str] = {
    ExitCode.OK: "done (a run stopped with Ctrl-C is still saved: 0)",
    ExitCode.DECLINED: "a question answered no (`delete` kept the run), or the app failed",
    ExitCode.USAGE: "bad arguments",
    ExitCode.DATA: "no usable MNIST data",
    ExitCode.RUN: "a missing or broken run, image or export destination",
    ExitCode.SWEEP: "a sweep storage problem",
    ExitCode.SERVE: "`serve` could not listen (its port in use)",
    ExitCode.HANGUP: "stopped by SIGHUP (the terminal went away), the run saved",
    ExitCode.INTERRUPTED: "aborted by a second Ctrl-C",
    ExitCode.TERMINATED: "stopped by SIGTERM, the run saved",
}
"""What each code means, as the docs say it."""


def signal_exit(signum: int) -> int:
    """The code of a command stopped by signal ``signum``: 128 + its number."""
    return 128 + signum
