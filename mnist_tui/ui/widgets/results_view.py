"""Test-set results: headline figures, confusion heatmap, per-class table."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.widgets import DataTable, Static

from mnist_tui.core.evaluation import Evaluation, confusions_text
from mnist_tui.core.events import plural


def heat_cell(count: int, share: float, diagonal: bool) -> Text:
    """A confusion-matrix count on a background whose strength is ``share`` (0..1)."""
    if count == 0:
        return Text("·", style="dim", justify="right")
    level = 0.25 + 0.75 * share
    red, green = (30, int(90 + 130 * level)) if diagonal else (int(90 + 165 * level), 40)
    ink = "black" if diagonal else "white"  # the most contrast on bright green / deep red
    style = f"bold {ink} on rgb({red},{green},{40 if diagonal else 50})"
    return Text(str(count), style=style, justify="right")


def describe_cell(true_class: int, pred_class: int, count: int) -> str:
    """A confusion-matrix cell in words, e.g. ``true 9 → predicted 4: 69 digits, Enter to
    view`` (a diagonal cell counts the digits got right, as ``correct``)."""
    where = f"true {true_class} → predicted {pred_class}: "
    if not count:
        return f"{where}none"
    what = f"{count:,} correct" if true_class == pred_class else plural(count, "digit")
    return f"{where}{what}, Enter to view"


class ResultsView(VerticalScroll):
    """Accuracy and loss, the confusion matrix as a heatmap, per-class figures.

    The matrix's true classes are row labels, so its cursor only ever rests on a count
    (row ``true``, column ``predicted``); the cell under it is named below the matrix.
    """

    @dataclass
    class CellChosen(Message):
        """A confusion-matrix cell was selected: show those samples."""

        true_class: int
        pred_class: int

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._confusion: np.ndarray | None = None
        """The counts on show (rows true, columns predicted)."""

    def compose(self) -> ComposeResult:
        yield Static("No results yet: train a model or open a saved run.", id="results-summary",
                     markup=False)
        with Horizontal(id="results-tables"):
            with Vertical(id="confusion-box"):
                yield Static("Confusion matrix: rows true, columns predicted. "
                             "Enter on a cell shows its digits.", classes="caption")
                yield DataTable(id="confusion", cursor_type="cell")
                yield Static("", id="confusion-cell", markup=False)
            with Vertical(id="per-class-box"):
                yield Static("Per class", classes="caption")
                yield DataTable(id="per-class", cursor_type="row", zebra_stripes=True)

    def on_resize(self) -> None:
        # Side by side when there is room, else the per-class table goes below.
        self.set_class(self.size.width < 100, "-narrow")

    def show(self, evaluation: Evaluation, title: str) -> None:
        """Fill every table from ``evaluation``, from the top (a new run's title shows).

        ``title`` is plain text, shown as written.
        """
        self.scroll_home(animate=False)
        errors = int(evaluation.confusion.sum() - np.trace(evaluation.confusion))
        self.query_one("#results-summary", Static).update(Content.from_markup(
            "[b]$title[/b]\nTest accuracy [b]$accuracy[/b]   loss $loss   $errors wrong\n"
            "Most confused (true→predicted): $confused", title=title,
            accuracy=f"{evaluation.accuracy:.2%}", loss=f"{evaluation.loss:.4f}",
            errors=f"{errors} of {len(evaluation.labels):,}",
            confused=confusions_text(evaluation.confusion)))
        confusion = self.query_one("#confusion", DataTable)
        confusion.clear(columns=True)
        for digit in range(10):
            confusion.add_column(f"→{digit}", key=str(digit))
        matrix = self._confusion = evaluation.confusion
        off = matrix - np.diag(np.diag(matrix))
        top_off, top_diag = max(1, int(off.max())), max(1, int(np.diag(matrix).max()))
        for digit, row in enumerate(matrix):
            cells = [heat_cell(int(c), int(c) / (top_diag if col == digit else top_off),
                               col == digit) for col, c in enumerate(row)]
            confusion.add_row(*cells, key=str(digit), label=Text(str(digit), style="bold"))
        confusion.move_cursor(row=0, column=0, scroll=False)
        self._name_cell(0, 0)
        per_class = self.query_one("#per-class", DataTable)
        per_class.clear(columns=True)
        per_class.add_columns("digit", "precision", "recall", "f1", "support")
        for row in evaluation.per_class:
            per_class.add_row(str(row.digit), f"{row.precision:.3f}", f"{row.recall:.3f}",
                              f"{row.f1:.3f}", str(row.support))

    def focus_main(self) -> None:
        """Put the focus on the confusion matrix."""
        self.query_one("#confusion").focus()

    def clear(self, note: str) -> None:
        """No results on show: ``note`` (plain text) says why."""
        self.query_one("#results-summary", Static).update(note)
        self._confusion = None
        self.query_one("#confusion-cell", Static).update("")
        for table in self.query(DataTable):
            table.clear(columns=True)

    def _name_cell(self, true_class: int, pred_class: int) -> None:
        if self._confusion is not None:
            count = int(self._confusion[true_class, pred_class])
            self.query_one("#confusion-cell", Static).update(
                describe_cell(true_class, pred_class, count))

    @on(DataTable.CellHighlighted, "#confusion")
    def _cell_highlighted(self, event: DataTable.CellHighlighted) -> None:
        event.stop()
        self._name_cell(event.coordinate.row, event.coordinate.column)

    @on(DataTable.CellSelected, "#confusion")
    def _cell_selected(self, event: DataTable.CellSelected) -> None:
        event.stop()
        self.post_message(self.CellChosen(true_class=event.coordinate.row,
                                          pred_class=event.coordinate.column))
