"""``mnist-tui export RUN``: a run's history as CSV or JSON Lines, for other tools."""

from __future__ import annotations

import argparse
import csv
import dataclasses
import io
import math
import sys
from collections.abc import Sequence
from typing import Any

from mnist_tui.cli.parser import CliError
from mnist_tui.core import strict_json
from mnist_tui.core.atomic import atomic_write_text
from mnist_tui.core.events import STEP_FIELDS, EpochEnd
from mnist_tui.core.run_record import RunInfo
from mnist_tui.core.runs import RunStore

EPOCH_FIELDS = tuple(field.name for field in dataclasses.fields(EpochEnd)
                     if field.name != "val_confusion")
"""The per-epoch columns: the figures, not the validation confusion matrix (a 10x10
table is no CSV cell; it stays in run.json)."""


def history_rows(run: RunInfo, per_step: bool) -> tuple[tuple[str, ...], list[dict[str, Any]]]:
    """The columns and rows of a run's history: one row per epoch, or per progress tick."""
    if per_step:
        return STEP_FIELDS, [dataclasses.asdict(point) for point in run.steps]
    return EPOCH_FIELDS, [{name: getattr(row, name) for name in EPOCH_FIELDS}
                          for row in run.history]


def to_csv(columns: Sequence[str], rows: list[dict[str, Any]]) -> str:
    """A header row, then one row each; a missing or non-finite value is an empty cell."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if value is None or (isinstance(value, float)
                                                 and not math.isfinite(value)) else value
                         for value in (row[name] for name in columns)])
    return buffer.getvalue()


def to_jsonl(rows: list[dict[str, Any]]) -> str:
    """One strict JSON object per line (``null`` for a missing or non-finite value)."""
    return "".join(strict_json.dumps(row) + "\n" for row in rows)


def cmd_export(args: argparse.Namespace) -> int:
    """Write a run's history to stdout or, atomically, to ``--out``."""
    run = RunStore(args.runs_dir).load(args.run)
    if args.per_step and not run.steps:
        raise CliError(f"{run.run_id} has no per-step history (saved before it was "
                       "recorded); export it per epoch")
    columns, rows = history_rows(run, args.per_step)
    text = to_csv(columns, rows) if args.format == "csv" else to_jsonl(rows)
    if args.out is None:
        sys.stdout.write(text)
        return 0
    try:
        atomic_write_text(args.out, text)
    except OSError as exc:
        raise CliError(f"cannot write {args.out}: {exc.strerror or exc}") from None
    print(f"Wrote {len(rows)} rows of {run.run_id} to {args.out}", file=sys.stderr)
    return 0
