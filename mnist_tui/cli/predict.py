"""``mnist-tui predict``: a saved run's model reads the user's own images."""

from __future__ import annotations

import argparse
import sys
import time
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from rich.console import Console
from rich.markup import escape

from mnist_tui.cli.console import console
from mnist_tui.cli.exit_codes import ExitCode
from mnist_tui.core.digits.drawing import Predict, predictor
from mnist_tui.core.digits.images import (
    ImageError,
    digit_from_bytes,
    iter_sources,
    json_name,
    read_source,
    shown_name,
)
from mnist_tui.core.digits.textart import render_ascii, render_halfblocks
from mnist_tui.core.events import plural
from mnist_tui.core.files import strict_json
from mnist_tui.core.runs.store import RunStore

BATCH = 256
"""Most digits the model reads in one call."""
FLUSH_SECONDS = 0.5
"""Digits waiting longer than this for a full batch are classified (and shown) at once."""
"""Exit code when any image could not be read (as for a missing or broken run)."""


@dataclass(frozen=True)
class Read:
    """One image read: its preprocessed digit (uint8 28x28), or why it failed."""

    name: str
    digit: np.ndarray | None
    error: str = ""


def cmd_predict(args: argparse.Namespace) -> int:
    """Classify each image; 0 if every one was read, :attr:`ExitCode.RUN` if any was not."""
    store = RunStore(args.runs_dir)
    run = store.load(args.run)
    predict = predictor(store.load_model(run))
    out, err = console(), console(stderr=True)
    use_ascii = not (out.encoding or "").lower().startswith("utf")
    if not args.json:
        out.print(
            f"[bold]{escape(run.label)}[/]  {escape(run.summary)}  "
            f"(test accuracy {run.test_accuracy:.2%})",
            soft_wrap=True,
            emoji=False,
        )
    total = failed = 0
    first = True
    if args.json:
        sys.stdout.write("[")
    for read, probabilities in classified(_reads(args.images), predict):
        total += 1
        if read.error:
            failed += 1
            err.print(
                escape(f"{shown_name(read.name)}: {shown_name(read.error)}"),
                soft_wrap=True,
                emoji=False,
            )
        if args.json:
            sys.stdout.write(("\n" if first else ",\n") + _json_line(read, probabilities))
            first = False
        elif probabilities is not None and read.digit is not None:
            _print_result(out, read, probabilities, art=not args.no_art, use_ascii=use_ascii)
    if args.json:
        sys.stdout.write("\n]\n")
    if failed:
        err.print(f"{failed} of {plural(total, 'image')} could not be classified")
    return ExitCode.RUN if failed else ExitCode.OK


def _reads(arguments: list[str]) -> Iterator[Read]:
    """Each image of ``arguments`` read and preprocessed, one at a time."""
    stdin = getattr(sys.stdin, "buffer", None) if "-" in arguments else None
    for source in iter_sources(arguments):
        name = "-" if source.path is None and not source.problem else source.name
        try:
            if source.path is None and stdin is not None and stdin.isatty():
                raise ImageError("standard input is a terminal: pipe an image in")
            yield Read(name, digit_from_bytes(read_source(source, stdin)))
        except ImageError as exc:
            yield Read(name, None, str(exc))


def classified(reads: Iterator[Read], predict: Predict) -> Iterator[tuple[Read, np.ndarray | None]]:
    """Each read with its probabilities (None for a failed one), in order; the model
    reads up to :data:`BATCH` digits a call, and none waits over :data:`FLUSH_SECONDS`."""
    pending: list[Read] = []
    waiting_since = 0.0
    count = 0
    for read in reads:
        if not pending:
            waiting_since = time.monotonic()
        pending.append(read)
        count += read.digit is not None
        if count >= BATCH or time.monotonic() - waiting_since > FLUSH_SECONDS:
            yield from _flush(pending, predict)
            pending, count = [], 0
    yield from _flush(pending, predict)


def _flush(pending: list[Read], predict: Predict) -> Iterator[tuple[Read, np.ndarray | None]]:
    digits = [read.digit for read in pending if read.digit is not None]
    answers = iter(predict(np.stack(digits)) if digits else ())
    for read in pending:
        yield read, None if read.digit is None else next(answers)


def _json_line(read: Read, probabilities: np.ndarray | None) -> str:
    name = json_name(read.name)
    if probabilities is None:
        value: dict[str, object] = {"file": name, "error": read.error}
    else:
        best = int(np.argmax(probabilities))
        value = {
            "file": name,
            "prediction": best,
            "confidence": float(probabilities[best]),
            "probabilities": [float(p) for p in probabilities],
        }
    return _escape_controls(strict_json.dumps(value))


def _escape_controls(text: str) -> str:
    """JSON text with every control or format character (only ever inside a string)
    written as ``\\uXXXX``: the same JSON, safe on a terminal."""
    return "".join(
        _json_escape(c) if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") else c for c in text
    )


def _json_escape(char: str) -> str:
    units = char.encode("utf-16-be")
    return "".join(
        f"\\u{int.from_bytes(units[i : i + 2], 'big'):04x}" for i in range(0, len(units), 2)
    )


def _print_result(
    out: Console, read: Read, probabilities: np.ndarray, *, art: bool, use_ascii: bool
) -> None:
    order = np.argsort(-probabilities, kind="stable")
    best, *others = (int(i) for i in order[:3])
    guesses = ", ".join(f"{i} ({probabilities[i]:.1%})" for i in others)
    out.print(
        f"{escape(shown_name(read.name))}: [bold]{best}[/] ({probabilities[best]:.1%}); "
        f"next {guesses}",
        soft_wrap=True,
        emoji=False,
    )
    if art and read.digit is not None:  # our own glyphs only: written as they are, at speed
        drawn = render_ascii(read.digit) if use_ascii else render_halfblocks(read.digit)
        out.file.write("".join(f"{line.rstrip()}\n" for line in drawn) + "\n")
