"""A data table whose columns fit their cells as soon as the rows are added, and that
measures plain text cells at a tenth of Textual's cost."""

from __future__ import annotations

from typing import Any

import textual.widgets._data_table as data_table_module
from rich.cells import cell_len
from rich.console import Console, RenderableType
from rich.text import Text, TextType
from textual.render import measure
from textual.widgets import DataTable
from textual.widgets.data_table import CellType, RowKey


def text_width(text: Text) -> int:
    """The width Rich measures for ``text`` (its widest line), without building the
    console options Rich's own measure asks for: the same number, ten times quicker."""
    lines = text.plain.splitlines()
    return max(cell_len(line) for line in lines) if lines else 0


def quick_measure(console: Console, renderable: RenderableType, default: int, **kwargs: Any) -> int:
    """Textual's ``measure``, with :func:`text_width` for a plain :class:`Text` (Rich's
    maximum for it never depends on the console's width)."""
    if type(renderable) is Text and not kwargs:
        return text_width(renderable)
    return measure(console, renderable, default, **kwargs)


# Every DataTable measures each new row's cells when it is next idle; 3,000 runs made
# 24,000 measures that took 0.8 s of the Runs tab's 1.7 s fill (benchmarks/runs_scale.py).
data_table_module.measure = quick_measure  # type: ignore[attr-defined]


class MeasuredTable(DataTable[CellType]):
    """A :class:`DataTable` that widens each auto-width column to a new row's cells at once.

    Textual measures new rows when the table is next idle; a table filled just after it
    was mounted (the tabs after Setup mount after the first frame) did not always get to
    it, and kept its columns as wide as their headers: a run's id read "202".
    """

    def add_row(
        self,
        *cells: CellType,
        height: int | None = 1,
        key: str | None = None,
        label: TextType | None = None,
    ) -> RowKey:
        row_key = super().add_row(*cells, height=height, key=key, label=label)
        console = self.app.console
        for column, cell in zip(self.ordered_columns, cells, strict=False):
            shown: RenderableType = cell if isinstance(cell, str | Text) else str(cell)
            column.content_width = max(column.content_width, quick_measure(console, shown, 1))
        return row_key
