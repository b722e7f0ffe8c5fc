"""What every headless command shares: its consoles, the data, JSON output."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.segment import Segment

from mnist_tui.core.data.mnist import MnistData, load_mnist
from mnist_tui.core.files import strict_json
from mnist_tui.core.files.printable import printable


class PrintableConsole(Console):
    """A Rich console that never lets text act on the terminal: every character of the
    text it writes that a terminal would obey (ESC, C1, bidi overrides, zero-width) is
    shown as a visible escape (:func:`~mnist_tui.core.files.printable.printable`). This is the
    one place the CLI's text leaves the program; Rich's own styles and cursor moves are
    not text and pass as they are."""

    def _render_buffer(self, buffer: Iterable[Segment]) -> str:
        return str(
            super()._render_buffer(
                segment if segment.control else Segment(printable(segment.text), segment.style)
                for segment in buffer
            )
        )


def console(stderr: bool = False) -> Console:
    """A console on stdout (or stderr): 140 columns off a terminal, no highlighting, no
    emoji codes, text made printable (:class:`PrintableConsole`)."""
    stream = sys.stderr if stderr else sys.stdout
    # Off a terminal (pipes, logs, CI) rich would assume 80 columns and wrap tables.
    return PrintableConsole(
        stderr=stderr, highlight=False, emoji=False, width=None if stream.isatty() else 140
    )


def load_data(args: argparse.Namespace, quiet: bool = False) -> MnistData:
    """Load MNIST, narrating to stderr (so ``--json`` output stays clean)."""
    err = console(stderr=True)
    say = (lambda _m: None) if quiet else (lambda message: err.print(f"[dim]{escape(message)}[/]"))
    return load_mnist(getattr(args, "data", None), progress=say)


def print_json(value: Any, *, depth: int | None = None) -> None:
    """Strict JSON on stdout: ``null`` for non-finite numbers, never colour codes; ASCII
    with ``\\u`` escapes where stdout's encoding cannot hold the text as it is.

    Indented by two spaces; with ``depth``, only that many levels are, and what lies
    deeper is one line each (``runs --json``: a run a line, 20 times quicker to write
    than Python's indenting encoder for 3,000 runs)."""
    text = _dumps(value, depth)
    try:
        text.encode(getattr(sys.stdout, "encoding", None) or "utf-8")
    except (UnicodeError, LookupError):
        text = _dumps(value, depth, ascii_only=True)
    sys.stdout.write(text + "\n")


def _dumps(value: Any, depth: int | None, *, ascii_only: bool = False, level: int = 0) -> str:
    if depth is None:
        return strict_json.dumps(value, indent=2, ascii_only=ascii_only)
    if level >= depth or not isinstance(value, (dict, list)) or not value:
        return strict_json.dumps(value, ascii_only=ascii_only)
    pad, inner = "  " * level, "  " * (level + 1)
    if isinstance(value, dict):
        items = [
            f"{inner}{strict_json.dumps(str(key), ascii_only=ascii_only)}: "
            f"{_dumps(item, depth, ascii_only=ascii_only, level=level + 1)}"
            for key, item in value.items()
        ]
        return "{\n" + ",\n".join(items) + f"\n{pad}}}"
    items = [
        f"{inner}{_dumps(item, depth, ascii_only=ascii_only, level=level + 1)}" for item in value
    ]
    return "[\n" + ",\n".join(items) + f"\n{pad}]"
