"""What every headless command shares: its consoles, the data, JSON output."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from rich.console import Console
from rich.markup import escape

from mnist_tui.core import strict_json
from mnist_tui.core.data import MnistData, load_mnist


def console(stderr: bool = False) -> Console:
    """A console on stdout (or stderr): 140 columns off a terminal, no highlighting."""
    stream = sys.stderr if stderr else sys.stdout
    # Off a terminal (pipes, logs, CI) rich would assume 80 columns and wrap tables.
    return Console(stderr=stderr, highlight=False, width=None if stream.isatty() else 140)


def load_data(args: argparse.Namespace, quiet: bool = False) -> MnistData:
    """Load MNIST, narrating to stderr (so ``--json`` output stays clean)."""
    err = console(stderr=True)
    say = (lambda _m: None) if quiet else (
        lambda message: err.print(f"[dim]{escape(message)}[/]"))
    return load_mnist(getattr(args, "data", None), progress=say)


def print_json(value: Any) -> None:
    """Strict JSON on stdout: ``null`` for non-finite numbers, never colour codes; ASCII
    with ``\\u`` escapes where stdout's encoding cannot hold the text as it is."""
    text = strict_json.dumps(value, indent=2)
    try:
        text.encode(getattr(sys.stdout, "encoding", None) or "utf-8")
    except (UnicodeError, LookupError):
        text = strict_json.dumps(value, indent=2, ascii_only=True)
    sys.stdout.write(text + "\n")
