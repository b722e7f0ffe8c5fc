"""``mnist-tui export RUN``: a run's history as CSV or JSON Lines, or its model as a
SavedModel, ONNX or LiteRT file, verified, for other tools."""

from __future__ import annotations

import argparse
import csv
import dataclasses
import io
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.markup import escape

from mnist_tui.cli.console import console, load_data, print_json
from mnist_tui.cli.exit_codes import ExitCode
from mnist_tui.cli.options import CliError
from mnist_tui.core.engine.exports import (
    FORMATS,
    ExportError,
    ExportFormat,
    ExportResult,
    check_destination,
)
from mnist_tui.core.events import STEP_FIELDS, EpochEnd
from mnist_tui.core.files import strict_json
from mnist_tui.core.files.atomic import atomic_write_text
from mnist_tui.core.files.printable import printable
from mnist_tui.core.runs.record import RunInfo
from mnist_tui.core.runs.store import RunStore

EPOCH_FIELDS = tuple(
    field.name for field in dataclasses.fields(EpochEnd) if field.name != "val_confusion"
)
"""The per-epoch columns: the figures, not the validation confusion matrix (a 10x10
table is no CSV cell; it stays in run.json)."""


def history_rows(run: RunInfo, per_step: bool) -> tuple[tuple[str, ...], list[dict[str, Any]]]:
    """The columns and rows of a run's history: one row per epoch, or per progress tick."""
    if per_step:
        return STEP_FIELDS, [dataclasses.asdict(point) for point in run.steps]
    return EPOCH_FIELDS, [
        {name: getattr(row, name) for name in EPOCH_FIELDS} for row in run.history
    ]


def to_csv(columns: Sequence[str], rows: list[dict[str, Any]]) -> str:
    """A header row, then one row each; a missing or non-finite value is an empty cell."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(
            [
                ""
                if value is None or (isinstance(value, float) and not math.isfinite(value))
                else value
                for value in (row[name] for name in columns)
            ]
        )
    return buffer.getvalue()


def to_jsonl(rows: list[dict[str, Any]]) -> str:
    """One strict JSON object per line (``null`` for a missing or non-finite value)."""
    return "".join(strict_json.dumps(row) + "\n" for row in rows)


def cmd_export(args: argparse.Namespace) -> int:
    """Write a run's history to stdout or, atomically, to ``--out`` (in an existing folder;
    a file there keeps its owner and mode; a link, FIFO or device such as ``/dev/stdout``
    is written through); or export its model (``--format savedmodel|onnx|tflite``),
    verified, into the new folder ``--out``."""
    run = RunStore(args.runs_dir).load(args.run)
    if args.format in FORMATS:
        return export_run_model(args, run)
    if args.per_step and not run.steps:
        raise CliError(
            f"{run.run_id} has no per-step history (saved before it was "
            "recorded); export it per epoch"
        )
    columns, rows = history_rows(run, args.per_step)
    text = to_csv(columns, rows) if args.format == "csv" else to_jsonl(rows)
    if args.out is None:
        sys.stdout.write(text)
        return ExitCode.OK
    try:
        atomic_write_text(args.out, text, through_links=True)
    except OSError as exc:
        raise CliError(f"cannot write {args.out}: {exc.strerror or exc}") from None
    print(printable(f"Wrote {len(rows)} rows of {run.run_id} to {args.out}"), file=sys.stderr)
    return ExitCode.OK


def export_run_model(args: argparse.Namespace, run: RunInfo) -> int:
    """``export RUN --format savedmodel|onnx|tflite``: convert, verify on the test digits,
    print the input contract and the two agreement figures (or ``--json``)."""
    if args.per_step:
        raise CliError("--per-step applies to the history formats (csv, jsonl)")
    fmt: ExportFormat = args.format
    out = args.out if args.out is not None else Path(f"{run.run_id}-{fmt}")
    try:
        check_destination(out)  # before the data and the model are loaded
    except ExportError as exc:
        raise CliError(str(exc)) from None
    data = load_data(args, quiet=args.json)
    err = console(stderr=True)
    model = RunStore(args.runs_dir).load_model(run)
    from mnist_tui.core.engine.exports import export_model  # TensorFlow, loaded by now

    def say(stage: str) -> None:
        if not args.json:
            err.print(f"[dim]{escape(stage)}...[/]")

    try:
        result = export_model(model, run.config, run.run_id, fmt, out, data.x_test, progress=say)
    except ExportError as exc:
        raise CliError(str(exc)) from None
    if args.json:
        print_json(
            {
                "path": str(result.path),
                "size": result.size,
                "seconds": round(result.seconds, 2),
                **result.contract(run.run_id),
            }
        )
        return ExitCode.OK
    _print_export(result)
    return ExitCode.OK


def _print_export(result: ExportResult) -> None:
    out = console()
    check = result.verification
    shape = "x".join("N" if d is None else str(d) for d in result.input.shape)
    out.print(
        f"Exported {escape(result.format)} to "
        f"{escape(str(result.path))} ({result.size / 1e6:.1f} MB, "
        f"{result.seconds:.1f} s)"
    )
    out.print(
        f"  verified: argmax agrees on {check.agree:,} of {check.digits:,} test "
        f"digits; probabilities within {check.max_difference:.1e}"
    )
    out.print(
        f"  input:  {escape(result.input.name)}  {result.input.dtype} {shape}, "
        "grey level / 255 (0 paper, 1 ink: white on black, as MNIST)"
    )
    out.print(
        f"  output: {escape(result.output.name)}  {result.output.dtype} Nx10, probabilities of 0-9"
    )
    out.print(f"  how to run it: {escape(str(result.path / 'README.md'))}")
