"""Tables that both front ends draw: Rich tables for the CLI, plain aligned lines for the
app's live view (a Rich table's layout cost 3 ms per epoch on the UI thread)."""

from __future__ import annotations

from collections.abc import Sequence

from rich import box
from rich.table import Table

from mnist_tui.core.events import EpochEnd

EPOCH_HEADERS = ("epoch", "loss", "accuracy", "val loss", "val acc", "seconds")


def fmt(value: float | None, digits: int = 4) -> str:
    """A metric for a table cell; a dash when missing. A diverged loss in the
    millions is written as ``1.14e+07``, so it keeps to its column."""
    if value is None:
        return "-"
    return f"{value:.2e}" if abs(value) >= 1000 else f"{value:.{digits}f}"


def epoch_cells(row: EpochEnd) -> tuple[str, ...]:
    """One epoch's figures as table cells, in the order of ``EPOCH_HEADERS``."""
    return (str(row.epoch), fmt(row.loss), fmt(row.accuracy), fmt(row.val_loss),
            fmt(row.val_accuracy), f"{row.seconds:.1f}")


def epoch_table(rows: Sequence[EpochEnd], *, title: str | None = None) -> Table:
    """Per-epoch metrics as a Rich table (the CLI's)."""
    table = Table(title=title, title_justify="left", header_style="bold",
                  box=box.HEAVY_HEAD)
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
        return "  ".join([first.ljust(EPOCH_WIDTHS[0]),
                          *(cell.rjust(width) for cell, width in zip(rest, EPOCH_WIDTHS[1:],
                                                                     strict=True))])

    lines = [line(EPOCH_HEADERS)]
    lines += [line(epoch_cells(row)) for row in shown]
    if len(shown) < len(rows):
        lines.append(f"(last {len(shown)} of {len(rows)} epochs)")
    return lines
