"""Tables that both front ends draw: Rich tables for the CLI, plain aligned lines for the
app's live view (a Rich table's layout cost 3 ms per epoch on the UI thread)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from rich import box
from rich.markup import escape
from rich.table import Table

from mnist_tui.core.engine.evaluation import Evaluation
from mnist_tui.core.events import EpochEnd
from mnist_tui.core.runs.comparison import (
    differing_settings,
    disagreements,
    metric_rows,
    recall_by_digit,
)
from mnist_tui.core.runs.record import RunInfo

EPOCH_HEADERS = ("epoch", "loss", "accuracy", "val loss", "val acc", "seconds")


def fmt(value: float | None, digits: int = 4) -> str:
    """A metric for a table cell; a dash when missing. A diverged loss in the
    millions is written as ``1.14e+07``, so it keeps to its column."""
    if value is None:
        return "-"
    return f"{value:.2e}" if abs(value) >= 1000 else f"{value:.{digits}f}"


def epoch_cells(row: EpochEnd) -> tuple[str, ...]:
    """One epoch's figures as table cells, in the order of ``EPOCH_HEADERS``."""
    return (
        str(row.epoch),
        fmt(row.loss),
        fmt(row.accuracy),
        fmt(row.val_loss),
        fmt(row.val_accuracy),
        f"{row.seconds:.1f}",
    )


def epoch_table(rows: Sequence[EpochEnd], *, title: str | None = None) -> Table:
    """Per-epoch metrics as a Rich table (the CLI's)."""
    table = Table(title=title, title_justify="left", header_style="bold", box=box.HEAVY_HEAD)
    for header in EPOCH_HEADERS:
        table.add_column(header, justify="right")
    for row in rows:
        table.add_row(*epoch_cells(row))
    return table


EPOCH_WIDTHS = (5, 8, 8, 8, 8, 7)
"""Characters per column of :func:`epoch_lines`."""


def epoch_lines(rows: Sequence[EpochEnd], *, last: int | None = None) -> list[str]:
    """The header and one line per epoch (the newest ``last``, with a note of the rest)."""
    shown = list(rows[-last:]) if last else list(rows)

    def line(cells: Sequence[str]) -> str:  # the epoch to the left, figures to the right
        first, *rest = cells
        return "  ".join(
            [
                first.ljust(EPOCH_WIDTHS[0]),
                *(cell.rjust(width) for cell, width in zip(rest, EPOCH_WIDTHS[1:], strict=True)),
            ]
        )

    lines = [line(EPOCH_HEADERS)]
    lines += [line(epoch_cells(row)) for row in shown]
    if len(shown) < len(rows):
        lines.append(f"(last {len(shown)} of {len(rows)} epochs)")
    return lines


# --- comparing runs ---------------------------------------------------------------------

RECALL_GAP = 0.01
"""A digit's recall that differs from the baseline's by this much is highlighted."""


def run_letter(index: int) -> str:
    """A, B, C…: how a comparison names its runs."""
    return chr(ord("A") + index)


def _heading(run: RunInfo, index: int) -> str:
    return f"{run_letter(index)} {escape(run.name or run.run_id)}"


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
    table = Table(
        title="Recall per digit (vs A: green better, red worse)",
        title_justify="left",
        header_style="bold",
    )
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


def compare_tables(runs: list[RunInfo]) -> list[Table]:
    """The settings that differ, the results with the best marked, recall per digit."""
    return [settings_table(runs), metrics_table(runs), recall_table(runs)]


def disagreement_lines(evaluations: list[Evaluation]) -> list[str]:
    """``A right, B wrong: 84 · B right, A wrong: 61 · both wrong: 121``, A against each."""
    lines = []
    for found in disagreements(evaluations):
        a, b = run_letter(found.a), run_letter(found.b)
        counts = found.counts()
        lines.append(
            f"{a} right, {b} wrong: {counts['a_right_b_wrong']:,} · {b} right, {a} "
            f"wrong: {counts['b_right_a_wrong']:,} · both wrong: "
            f"{counts['both_wrong']:,}"
        )
    return lines
