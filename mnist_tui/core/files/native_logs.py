"""Keep TensorFlow's C++ log lines off the terminal.

TensorFlow's native code writes straight to file descriptor 2, below Python, so
``TF_CPP_MIN_LOG_LEVEL`` does not silence all of it (absl logs before it is read).
Those lines would scribble over a full-screen app or a live progress bar. While
:func:`native_stderr_to_log` is active, descriptor 2 goes to a log file and the caller
gets a text stream on the real terminal for its own output.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import TextIO

from mnist_tui.core.paths import native_log_path

MAX_LOG_BYTES = 1_000_000


def _open_log() -> int:
    path = native_log_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_file() and path.stat().st_size > MAX_LOG_BYTES:
            path.unlink()
        return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    except OSError:
        return os.open(os.devnull, os.O_WRONLY)


@contextlib.contextmanager
def native_stderr_to_log() -> Iterator[TextIO]:
    """Point fd 2 at the native log; yield a stream on the original stderr.

    ``sys.stderr`` and ``sys.__stderr__`` are swapped for that stream meanwhile, so
    Python-level output (and Textual, which draws on ``sys.__stderr__``) still reaches
    the terminal. Everything is restored on exit.
    """
    sys.stderr.flush()
    saved_fd = os.dup(2)
    log_fd = _open_log()
    terminal = os.fdopen(
        os.dup(saved_fd),
        "w",
        buffering=1,
        encoding=getattr(sys.stderr, "encoding", None) or "utf-8",
        errors="replace",
    )
    old_stderr, old_dunder = sys.stderr, sys.__stderr__
    os.dup2(log_fd, 2)
    os.close(log_fd)
    sys.stderr = sys.__stderr__ = terminal  # type: ignore[misc]
    try:
        yield terminal
    finally:
        terminal.flush()
        sys.stderr, sys.__stderr__ = old_stderr, old_dunder  # type: ignore[misc]
        os.dup2(saved_fd, 2)
        os.close(saved_fd)
        terminal.close()
