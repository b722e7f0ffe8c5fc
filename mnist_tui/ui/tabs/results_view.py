"""Test-set results: headline figures, confusion heatmap, per-class table; while a run
trains with a validation split, each epoch's look at the validation digits in the same
tables; and each digit's validation accuracy by epoch."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.widgets import DataTable, Static

from mnist_tui.core.engine.evaluation import (
    ClassMetrics,
    Evaluation,
    confusions_text,
    error_count,
    per_class_metrics,
)
from mnist_tui.core.events import EpochEnd, plural
from mnist_tui.ui.widgets.curves import digit_accuracy_curves
from mnist_tui.ui.widgets.line_chart import LineChart
from mnist_tui.ui.widgets.measured_table import MeasuredTable

TEST_CAPTION = "Confusion matrix: rows true, columns predicted. Enter on a cell shows its digits."
NEEDS_SPLIT = "Per-epoch confusion and per-digit accuracy need a validation split (Setup)."
"""The one line that stands for the per-epoch look of a run trained without a split."""


def heat_cell(count: int, share: float, diagonal: bool) -> Text:
    """A confusion-matrix count on a background whose strength is ``share`` (0..1)."""
    if count == 0:
        return Text("·", style="dim", justify="right")
    level = 0.25 + 0.75 * share
    red, green = (30, int(90 + 130 * level)) if diagonal else (int(90 + 165 * level), 40)
    ink = "black" if diagonal else "white"  # the most contrast on bright green / deep red
    style = f"bold {ink} on rgb({red},{green},{40 if diagonal else 50})"
    return Text(str(count), style=style, justify="right")


def describe_cell(true_class: int, pred_class: int, count: int, browsable: bool = True) -> str:
    """A confusion-matrix cell in words, e.g. ``true 9 → predicted 4: 69 digits, Enter to
    view`` (a diagonal cell counts the digits got right, as ``correct``). The validation
    digits of a run in training are not browsable: their cell names them so instead."""
    where = f"true {true_class} → predicted {pred_class}: "
    if not count:
        return f"{where}none"
    if not browsable:
        right = "correct" if true_class == pred_class else ""
        return f"{where}{count:,} validation digits {right}".rstrip()
    what = f"{count:,} correct" if true_class == pred_class else plural(count, "digit")
    return f"{where}{what}, Enter to view"


def digit_look_note(history: Sequence[EpochEnd]) -> str:
    """What stands in for the accuracy-per-digit chart when a run has none to show."""
    if not history:
        return "Accuracy per digit by epoch: no whole epoch was trained."
    if all(row.val_loss is None for row in history):
        return NEEDS_SPLIT
    return "Accuracy per digit by epoch: not recorded when this run was saved."


class ResultsView(VerticalScroll):
    """Accuracy and loss, the confusion matrix as a heatmap, per-class figures, and each
    digit's validation accuracy by epoch (a chart under the tables).

    The matrix's true classes are row labels, so its cursor only ever rests on a count
    (row ``true``, column ``predicted``); the cell under it is named below the matrix.

    While a run trains (:meth:`follow_training`), the tables show its newest epoch's
    validation figures (:meth:`add_epoch`, drawn by :meth:`show_live`), labelled as such,
    and the chart grows; its test results replace them when it ends (:meth:`show`).
    """

    DEFAULT_CSS = """
    #results-summary {
        height: auto;
        padding-bottom: 1;
    }

    #results-tables {
        height: auto;
    }

    ResultsView.-narrow #results-tables {
        layout: vertical;
    }

    ResultsView.-empty #results-tables {
        display: none;
    }

    ResultsView.-narrow #confusion-box, ResultsView.-narrow #per-class-box {
        width: 100%;
        margin-bottom: 1;
    }

    #confusion-box {
        width: auto;
        min-width: 50;
        height: auto;
        margin-right: 2;
    }

    #per-class-box {
        width: 1fr;
        height: auto;
    }

    #per-class {
        height: auto;
    }

    .caption {
        color: $text-muted;
        height: auto;
    }

    #confusion {
        width: auto;
        height: auto;
    }

    #digit-plot {
        height: 1fr;
        min-height: 10;  /* 7 plotted rows: fits under the tables from 110x36 on */
        margin-top: 1;
    }

    #digit-note {
        margin-top: 1;
    }
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
        self._browsable = True
        """The counts on show are test digits, which Enter opens in the viewer."""
        self._live_title = ""
        self._live_epochs = 0
        self._live: list[EpochEnd] = []
        """The epochs of the run in training, as they end."""

    def compose(self) -> ComposeResult:
        yield Static(
            "No results yet: train a model or open a saved run.", id="results-summary", markup=False
        )
        with Horizontal(id="results-tables"):
            with Vertical(id="confusion-box"):
                yield Static(TEST_CAPTION, id="confusion-caption", classes="caption", markup=False)
                yield MeasuredTable(id="confusion", cursor_type="cell")
                yield Static("", id="confusion-cell", markup=False)
            with Vertical(id="per-class-box"):
                yield Static("Per class", id="per-class-caption", classes="caption", markup=False)
                yield MeasuredTable(id="per-class", cursor_type="row", zebra_stripes=True)
        yield LineChart(
            "validation accuracy per digit (each line marked with its digit)",
            bounds=(0.0, 1.0),
            id="digit-plot",
        )
        yield Static("", id="digit-note", classes="caption", markup=False)

    @property
    def digit_chart(self) -> LineChart:
        """The chart of each digit's validation accuracy by epoch."""
        return self.query_one("#digit-plot", LineChart)

    def on_mount(self) -> None:
        self._empty_tables()  # nothing to show yet
        self._show_digit_curves([], "")

    def on_resize(self) -> None:
        # Side by side when there is room, else the per-class table goes below.
        self.set_class(self.size.width < 100, "-narrow")

    def show(self, evaluation: Evaluation, title: str, history: Sequence[EpochEnd] = ()) -> None:
        """Fill every table from ``evaluation``, from the top (a new run's title shows),
        and the chart from the run's ``history``.

        ``title`` is plain text, shown as written.
        """
        self.scroll_home(animate=False)
        self._summary(title, "Test", evaluation.accuracy, evaluation.loss, evaluation.confusion)
        self._fill(evaluation.confusion, evaluation.per_class, browsable=True)
        self._caption(TEST_CAPTION, "Per class")
        self._show_digit_curves(history)

    def follow_training(self, title: str, epochs: int, validation: bool) -> None:
        """A run begins to train: from now on this view is about it (``title`` plain).

        With a ``validation`` split, each epoch's validation figures come through
        :meth:`add_epoch`; without, a line says the per-epoch look needs one.
        """
        self._live_title, self._live_epochs, self._live = title, epochs, []
        self._empty_tables()  # until the first epoch ends
        self._show_digit_curves([], NEEDS_SPLIT if not validation else "")
        waiting = "\nEach epoch's look at the validation digits appears here as it ends."
        self._summary_text(
            Content.from_markup(
                "[b]$title[/b] is training: its test results appear here when it ends.$waiting",
                title=title,
                waiting=waiting if validation else "",
            )
        )

    def add_epoch(self, event: EpochEnd) -> None:
        """An epoch of the run in training ended: kept for :meth:`show_live` (nothing is
        drawn here, so a hidden tab costs no layout)."""
        if event.val_confusion is not None:
            self._live.append(event)

    @property
    def live_epochs(self) -> tuple[EpochEnd, ...]:
        """The epochs of the run in training that have a validation look, so far."""
        return tuple(self._live)

    def show_live(self) -> None:
        """The newest epoch's validation figures of the run in training, and the chart."""
        if not self._live or self._live[-1].val_confusion is None:
            return
        latest = self._live[-1]
        matrix = np.asarray(latest.val_confusion, dtype=np.int64)
        where = f"validation, epoch {latest.epoch}"
        self._summary(
            f"Validation, epoch {latest.epoch} of {self._live_epochs}, while "
            f"{self._live_title} trains (its test results come at the end)",
            "Validation",
            float(latest.val_accuracy or 0.0),
            latest.val_loss,
            matrix,
        )
        self._fill(matrix, per_class_metrics(matrix), browsable=False)
        self._caption(
            f"Confusion matrix ({where}): rows true, columns predicted.",
            f"Per class ({where}; recall is the digit's accuracy)",
        )
        self._show_digit_curves(self._live)

    def _summary(
        self, title: str, what: str, accuracy: float, loss: float | None, matrix: np.ndarray
    ) -> None:
        self._summary_text(
            Content.from_markup(
                "[b]$title[/b]\n$what accuracy [b]$accuracy[/b]   loss $loss   $errors wrong\n"
                "Most confused (true→predicted): $confused",
                title=title,
                what=what,
                accuracy=f"{accuracy:.2%}",
                loss="-" if loss is None else f"{loss:.4f}",
                errors=f"{error_count(matrix):,} of {int(matrix.sum()):,}",
                confused=confusions_text(matrix),
            )
        )

    def _summary_text(self, content: Content) -> None:
        self.query_one("#results-summary", Static).update(content)

    def _caption(self, confusion: str, per_class: str) -> None:
        self.query_one("#confusion-caption", Static).update(confusion)
        self.query_one("#per-class-caption", Static).update(per_class)

    def _fill(
        self, matrix: np.ndarray, per_class_rows: Sequence[ClassMetrics], browsable: bool
    ) -> None:
        """The heatmap of ``matrix`` and the per-class table (the cursor keeps its cell)."""
        confusion = self.query_one("#confusion", DataTable)
        cursor = confusion.cursor_coordinate if confusion.row_count else None
        confusion.clear(columns=True)
        for digit in range(10):
            confusion.add_column(f"→{digit}", key=str(digit))
        self._confusion, self._browsable = matrix, browsable
        self.remove_class("-empty")
        off = matrix - np.diag(np.diag(matrix))
        top_off, top_diag = max(1, int(off.max())), max(1, int(np.diag(matrix).max()))
        for digit, row in enumerate(matrix):
            cells = [
                heat_cell(int(c), int(c) / (top_diag if col == digit else top_off), col == digit)
                for col, c in enumerate(row)
            ]
            confusion.add_row(*cells, key=str(digit), label=Text(str(digit), style="bold"))
        row, column = 0, 0
        if cursor is not None and not browsable:  # a live look: stay on the cell watched
            row, column = cursor.row, cursor.column
        confusion.move_cursor(row=row, column=column, scroll=False)
        self._name_cell(row, column)
        per_class = self.query_one("#per-class", DataTable)
        per_class.clear(columns=True)
        per_class.add_columns("digit", "precision", "recall", "f1", "support")
        for metrics in per_class_rows:
            per_class.add_row(
                str(metrics.digit),
                f"{metrics.precision:.3f}",
                f"{metrics.recall:.3f}",
                f"{metrics.f1:.3f}",
                str(metrics.support),
            )

    def _show_digit_curves(self, history: Sequence[EpochEnd], note: str | None = None) -> None:
        """The accuracy-per-digit chart of ``history``, or a line saying why there is none."""
        curves = digit_accuracy_curves(history)
        chart = self.digit_chart
        chart.set_data(curves)
        chart.display = bool(curves)
        text = "" if curves else (note if note is not None else digit_look_note(history))
        label = self.query_one("#digit-note", Static)
        label.update(text)
        label.display = bool(text)

    def _empty_tables(self) -> None:
        """No counts on show: the tables are emptied and hidden (``-empty``)."""
        self._confusion = None
        self.add_class("-empty")
        self.query_one("#confusion-cell", Static).update("")
        for table in self.query(DataTable):
            table.clear(columns=True)

    def focus_main(self) -> None:
        """Put the focus on the confusion matrix."""
        self.query_one("#confusion").focus()

    def clear(self, note: str) -> None:
        """No results on show: ``note`` (plain text) says why."""
        self.query_one("#results-summary", Static).update(note)
        self._empty_tables()
        self._show_digit_curves([], "")

    def _name_cell(self, true_class: int, pred_class: int) -> None:
        if self._confusion is not None:
            count = int(self._confusion[true_class, pred_class])
            self.query_one("#confusion-cell", Static).update(
                describe_cell(true_class, pred_class, count, self._browsable)
            )

    @on(DataTable.CellHighlighted, "#confusion")
    def _cell_highlighted(self, event: DataTable.CellHighlighted) -> None:
        event.stop()
        self._name_cell(event.coordinate.row, event.coordinate.column)

    @on(DataTable.CellSelected, "#confusion")
    def _cell_selected(self, event: DataTable.CellSelected) -> None:
        event.stop()
        if self._browsable:  # validation digits are not the test digits the viewer shows
            self.post_message(
                self.CellChosen(true_class=event.coordinate.row, pred_class=event.coordinate.column)
            )
