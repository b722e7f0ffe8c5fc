"""A data table whose columns fit their cells as soon as the rows are added."""

from __future__ import annotations

from rich.console import RenderableType
from rich.text import Text, TextType
from textual.render import measure
from textual.widgets import DataTable
from textual.widgets.data_table import CellType, RowKey


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
            column.content_width = max(column.content_width, measure(console, shown, 1))
        return row_key
