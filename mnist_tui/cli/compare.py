"""``mnist-tui compare A B [C…]``: runs side by side, headless."""

from __future__ import annotations

import argparse

import numpy as np
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from mnist_tui.cli.console import console, load_data, print_json
from mnist_tui.cli.parser import CliError
from mnist_tui.core.comparison import (
    CompareError,
    check_count,
    comparison_dict,
    differing_settings,
    disagreements,
    metric_rows,
    recall_by_digit,
)
from mnist_tui.core.run_record import RunInfo
from mnist_tui.core.runs import RunStore

RECALL_GAP = 0.01
"""A digit's recall that differs from the baseline's by this much is highlighted."""


def _heading(run: RunInfo, index: int) -> str:
    return f"{chr(ord('A') + index)} {escape(run.name or run.run_id)}"


def settings_table(runs: list[RunInfo]) -> Table:
    """The settings that differ between the runs (all the same: says so)."""
    table = Table(title="Settings that differ", title_justify="left", header_style="bold")
    table.add_column("setting")
    for index, run in enumerate(runs):
        table.add_column(_heading(run, index))
    rows = differing_settings(runs)
    for row in rows:
        table.add_row(row.name.replace("_", " "), *(escape(value) for value in row.values))
    if not rows:
        table.add_row("(none: the same settings)", *("" for _ in runs))
    return table


def metrics_table(runs: list[RunInfo]) -> Table:
    """Test figures, size and time; the best of each row in bold green with a star."""
    table = Table(title="Results (* best)", title_justify="left", header_style="bold")
    table.add_column("")
    for index, run in enumerate(runs):
        table.add_column(_heading(run, index), justify="right")
    for row in metric_rows(runs):
        cells = [row.fmt.format(value) if np.isfinite(value) else "-" for value in row.values]
        if row.best is not None:
            cells[row.best] = f"[bold green]*{cells[row.best]}[/]"
        table.add_row(row.name, *cells)
    return table


def recall_table(runs: list[RunInfo]) -> Table:
    """Recall per digit; a run's cell is green or red where it beats or trails run A."""
    recalls = recall_by_digit(runs)
    table = Table(title="Recall per digit (vs A: green better, red worse)", title_justify="left",
                  header_style="bold")
    table.add_column("digit", justify="right")
    for index, run in enumerate(runs):
        table.add_column(_heading(run, index), justify="right")
    for digit, row in enumerate(recalls):
        cells = [f"{row[0]:.4f}"]
        for value in row[1:]:
            gap = value - row[0]
            style = "green" if gap >= RECALL_GAP else "red" if gap <= -RECALL_GAP else ""
            cells.append(f"[{style}]{value:.4f}[/]" if style else f"{value:.4f}")
        table.add_row(str(digit), *cells)
    return table


def cmd_compare(args: argparse.Namespace) -> int:
    """Compare 2 to 6 runs: settings, results, recall per digit, disagreements."""
    try:
        check_count(len(args.runs))
    except CompareError as exc:
        raise CliError(str(exc)) from None
    store = RunStore(args.runs_dir)
    runs = [store.load(ref) for ref in args.runs]
    if len({run.path.resolve() for run in runs}) != len(runs):
        raise CliError("the same run is named twice")
    data = load_data(args, quiet=args.json)
    evaluations = [store.evaluation(run, data.x_test, data.y_test) for run in runs]
    if args.json:
        print_json(comparison_dict(runs, evaluations))
        return 0
    out: Console = console()
    for index, run in enumerate(runs):
        out.print(f"[bold]{chr(ord('A') + index)}[/] {escape(run.label)}  "
                  f"{escape(run.config.summary())}")
    out.print(settings_table(runs))
    out.print(metrics_table(runs))
    out.print(recall_table(runs))
    for found in disagreements(evaluations):
        a, b = chr(ord("A") + found.a), chr(ord("A") + found.b)
        counts = found.counts()
        out.print(f"{a} right, {b} wrong: {counts['a_right_b_wrong']:,} · {b} right, {a} wrong: "
                  f"{counts['b_right_a_wrong']:,} · both wrong: {counts['both_wrong']:,}")
    return 0
