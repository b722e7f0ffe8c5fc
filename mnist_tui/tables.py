"""Rich tables that both front ends draw (the CLI prints them, the app shows them)."""

from __future__ import annotations

from collections.abc import Sequence

from rich import box
from rich.table import Table

from mnist_tui.core.events import EpochEnd

EPOCH_HEADERS = ("epoch", "loss", "accuracy", "val loss", "val acc", "seconds")


def fmt(value: float | None, digits: int = 4) -> str:
    """A metric for a table cell; a dash when missing."""
    return "-" if value is None else f"{value:.{digits}f}"


def epoch_table(rows: Sequence[EpochEnd], *, title: str | None = None,
                last: int | None = None, compact: bool = False) -> Table:
    """Per-epoch metrics; with ``last``, only the newest rows and a caption saying so."""
    shown = list(rows[-last:]) if last else list(rows)
    hidden = len(rows) - len(shown)
    table = Table(title=title, title_justify="left", header_style="bold",
                  box=None if compact else box.HEAVY_HEAD, pad_edge=not compact,
                  caption=f"(last {len(shown)} of {len(rows)} epochs)" if hidden else None,
                  caption_justify="left")
    for header in EPOCH_HEADERS:
        table.add_column(header, justify="right")
    for row in shown:
        table.add_row(str(row.epoch), fmt(row.loss), fmt(row.accuracy), fmt(row.val_loss),
                      fmt(row.val_accuracy), f"{row.seconds:.1f}")
    return table
