"""Saved runs: a table to find, open, mark, compare, name, delete or retrain from."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import DataTable, Input, Static

from mnist_tui.core.events import plural
from mnist_tui.core.files.printable import printable
from mnist_tui.core.runs.comparison import MAX_RUNS
from mnist_tui.core.runs.query import SORT_KEYS, filter_runs, sort_runs
from mnist_tui.core.runs.store import BadRun, RunSummary
from mnist_tui.ui.widgets.measured_table import MeasuredTable

STATUS_WORDS = {"completed": "done", "stopped": "stopped", "early_stopped": "early"}
"""A run's status in the table: short, so the columns a user scans first fit 80 columns."""
COLUMNS: tuple[tuple[str, str | None], ...] = (
    ("", None),
    ("run", "name"),
    ("test acc", "acc"),
    ("epochs", "epochs"),
    ("status", None),
    ("settings", None),
    ("saved (UTC)", "date"),
)
"""Each column's header and the sort key a click on it applies. The marks, the run, its
accuracy, epochs and status come first, short enough for 80 columns; the settings (cut
there) and the save time (off to the right there) last."""
SORT_COLUMNS: dict[str, tuple[str, Callable[[RunSummary], str]]] = {
    "loss": ("test loss", lambda run: "-" if math.isnan(run.test_loss) else f"{run.test_loss:.4f}"),
    "duration": ("train time", lambda run: f"{run.train_seconds:,.1f}s"),
    "params": ("params", lambda run: f"{run.param_count:,}"),
}
"""The sort keys with no column of their own: while the runs are sorted by one, its
column shows after the accuracy."""
SORT_CYCLE = ("date", "acc", "loss", "duration", "params", "name")


class RunsView(Vertical):
    """The runs directory as a table; Enter opens a run, space marks runs to compare."""

    DEFAULT_CSS = """
    RunsView #runs-filter.-hidden { display: none; }
    RunsView #runs-filter { height: 3; }
    #runs-caption {
        height: auto;
        color: $text-muted;
    }

    #runs-table {
        height: 1fr;
    }

    #runs-problems {
        height: auto;
        max-height: 5;
    }
    """

    BINDINGS = [
        Binding("enter", "open", "Open", id="runs.open", tooltip="Open the selected run"),
        Binding(
            "c",
            "compare",
            "Compare",
            id="runs.compare",
            tooltip="Compare the marked runs side by side",
        ),
        Binding(
            "slash",
            "find",
            "Filter",
            id="runs.filter",
            tooltip="Show only runs whose name, note, tags or settings hold the words",
        ),
        Binding(
            "o",
            "sort",
            "Sort",
            id="runs.sort",
            tooltip="Sort by the next column: date, accuracy, loss, duration, size, name",
        ),
        Binding(
            "n",
            "annotate",
            "Name",
            id="runs.annotate",
            tooltip="Give the run a name, a note and tags",
        ),
        Binding(
            "d,delete",
            "delete",
            "Delete",
            id="runs.delete",
            tooltip="Delete the marked runs, or the selected one (asks first)",
        ),
        # After the keys above: at 80 columns they are what the footer has room for, and
        # the caption says how to mark.
        Binding(
            "space",
            "mark",
            "Mark",
            id="runs.mark",
            tooltip=f"Mark or unmark the run, to compare (2 to {MAX_RUNS}) or delete; "
            "the cursor moves down to the next run",
        ),
        Binding(
            "escape",
            "clear_marks",
            "Unmark all",
            show=False,
            id="runs.unmark",
            tooltip="Clear every mark (when runs are marked)",
        ),
        Binding(
            "s",
            "settings",
            "Use settings",
            id="runs.settings",
            tooltip="Load the selected run's settings into the form",
        ),
        Binding(
            "x",
            "export",
            "Export",
            id="runs.export",
            tooltip="Export the selected run's model (SavedModel, ONNX, LiteRT), "
            "verified on the test digits",
        ),
        Binding(
            "r",
            "refresh_runs",
            "Refresh",
            id="runs.refresh",
            tooltip="Read the runs directory again",
        ),
    ]

    sort_key: reactive[str] = reactive("date", init=False)
    """The column the runs are sorted by (a key of :data:`SORT_KEYS`)."""
    sort_reversed: reactive[bool] = reactive(False, init=False)
    """Sorted against the column's natural order."""
    filter_text: reactive[str] = reactive("", init=False)
    """Only runs holding every word of this are listed."""

    @dataclass
    class Chosen(Message):
        """The user asked to do ``what`` (open, delete, settings, annotate, export) with
        ``runs`` (as listed: read each in full to open, compare, export or name it)."""

        runs: list[RunSummary]
        what: str
        note: str = ""
        """What the user should know before it is done (plain text), or ``""``."""

        @property
        def run(self) -> RunSummary:
            """The first (for one-run actions, the only) run."""
            return self.runs[0]

    class RefreshRequested(Message):
        """The user asked to list the runs again."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._all: list[RunSummary] = []
        self._runs: list[RunSummary] = []
        self._bad: list[BadRun] = []
        self._root = ""
        self._shown: str | None = None
        self._marked: list[str] = []
        """Paths (as text) of the marked runs, in the order they were marked."""
        self._columns: tuple[tuple[str, str | None], ...] = COLUMNS
        """The columns shown now (:data:`COLUMNS`, and the sort key's own when it has one)."""

    def compose(self) -> ComposeResult:
        yield Static("", id="runs-caption", markup=False)
        yield Input(
            placeholder="filter: words in name, note, tags or settings (Esc: done)",
            id="runs-filter",
            classes="-hidden",
        )
        table: DataTable[Text] = MeasuredTable(
            id="runs-table", cursor_type="row", zebra_stripes=True
        )
        table.add_columns(*(header for header, _key in self._columns))
        yield table
        yield Static("", id="runs-problems", markup=False)

    @property
    def table(self) -> DataTable[Text]:
        """The runs table."""
        return self.query_one("#runs-table", DataTable)

    def focus_main(self) -> None:
        """Put the focus on the table."""
        self.table.focus()

    def show_runs(
        self, root: str, runs: list[RunSummary], bad: list[BadRun], shown: str | None = None
    ) -> None:
        """List ``runs`` (the filter and sort applied); ``shown`` is the id of the run on
        show in the other tabs, marked ▶. Marks and the cursor stay on their runs."""
        self._root, self._all, self._bad, self._shown = root, runs, bad, shown
        paths = {str(run.path) for run in runs}
        self._marked = [path for path in self._marked if path in paths]
        self._fill()

    def _fill(self) -> None:
        chosen = self.selected
        self._runs = sort_runs(
            filter_runs(self._all, self.filter_text), self.sort_key, self.sort_reversed
        )
        table = self.table
        sort_column = SORT_COLUMNS.get(self.sort_key)
        extra = ((sort_column[0], self.sort_key),) if sort_column else ()
        columns = COLUMNS[:3] + extra + COLUMNS[3:]
        if columns != self._columns:
            self._columns = columns
            table.clear(columns=True)
            table.add_columns(*(header for header, _key in columns))
        else:
            table.clear()
        for run in self._runs:
            cells = (
                self._mark(run),
                printable(run.name or run.run_id, lines=False),
                f"{run.test_accuracy:.2%}",
                *((sort_column[1](run),) if sort_column else ()),
                run.progress_text,
                STATUS_WORDS.get(run.status, run.status),
                run.summary,
                run.created[5:16].replace("T", " "),
            )
            # Plain text: a run's id is its folder's name, which may hold anything.
            table.add_row(
                *(cell if isinstance(cell, Text) else Text(cell, end="") for cell in cells),
                key=str(run.path),
            )
        paths = [str(run.path) for run in self._runs]
        if chosen is not None and str(chosen.path) in paths:
            table.move_cursor(row=paths.index(str(chosen.path)))
        self._caption()
        self.query_one("#runs-problems", Static).update(
            Content("\n").join(
                [
                    *(
                        Content.from_markup("[yellow]skipped[/] $reason", reason=item.reason)
                        for item in self._bad
                    ),
                    *(
                        Content.from_markup("[yellow]note[/] $reason", reason=run.annotation_note)
                        for run in self._all
                        if run.annotation_problem
                    ),
                ]
            )
        )

    def _mark(self, run: RunSummary) -> Text:
        """The first cell of ``run``'s row: ● when marked, ▶ when on show in the tabs."""
        marked = "●" if str(run.path) in self._marked else " "
        return Text(marked + ("▶" if run.run_id == self._shown else " "), end="")

    def _remark(self, runs: list[RunSummary]) -> None:
        """Redraw the mark cells of ``runs`` and the caption, not the whole table (a
        refill of thousands of rows at each space would lag)."""
        table = self.table
        column = table.ordered_columns[0].key
        listed = {str(run.path) for run in self._runs}
        for run in runs:
            if str(run.path) in listed:
                table.update_cell(str(run.path), column, self._mark(run))
        self._caption()

    def _caption(self) -> None:
        if not self._all:
            text = f"No saved runs in {self._root} yet: train one (ctrl+t)."
        else:
            order = "↑" if self.sort_reversed else "↓"
            shown = (
                plural(len(self._all), "run")
                if len(self._runs) == len(self._all)
                else f"{len(self._runs)} of {len(self._all)} runs match {self.filter_text!r}"
            )
            marked = (
                f" · {len(self._marked)} marked (esc: unmark all)"
                if self._marked
                else " · space marks runs"
            )
            # One line: the keys are in the footer and the help (f1).
            text = f"{shown} in {self._root}, by {self.sort_key} {order}{marked}"
        self.query_one("#runs-caption", Static).update(text)

    @property
    def selected(self) -> RunSummary | None:
        """The run under the cursor."""
        table = self.table
        if not self._runs or table.cursor_row < 0 or table.cursor_row >= len(self._runs):
            return None
        return self._runs[table.cursor_row]

    @property
    def marked(self) -> list[RunSummary]:
        """The marked runs, in the order they were marked."""
        by_path = {str(run.path): run for run in self._all}
        return [by_path[path] for path in self._marked if path in by_path]

    def _choose(self, what: str, runs: list[RunSummary] | None = None, note: str = "") -> None:
        chosen = runs if runs is not None else ([self.selected] if self.selected else [])
        if chosen:
            self.post_message(self.Chosen(chosen, what, note))

    def action_open(self) -> None:
        """Open the selected run."""
        self._choose("open")

    def action_mark(self) -> None:
        """Mark the selected run, or unmark it; the cursor moves on to the next row."""
        run = self.selected
        if run is None:
            return
        path = str(run.path)
        if path in self._marked:
            self._marked.remove(path)
        elif len(self._marked) >= MAX_RUNS:
            self.notify(
                f"At most {MAX_RUNS} runs can be compared; unmark one first.",
                severity="warning",
                markup=False,
            )
            return
        else:
            self._marked.append(path)
        self._remark([run])
        self.table.move_cursor(row=min(self.table.cursor_row + 1, len(self._runs) - 1))

    def action_clear_marks(self) -> None:
        """Unmark every run."""
        unmarked, self._marked = self.marked, []
        self._remark(unmarked)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Escape clears the marks only when there are some (else it does what it did)."""
        if action == "clear_marks":
            return bool(self._marked)
        return True

    def action_compare(self) -> None:
        """Compare the marked runs (2 to 6)."""
        runs = self.marked
        if len(runs) < 2:
            self.notify(
                "Mark 2 to 6 runs with space first, then press c.", severity="warning", markup=False
            )
            return
        self._choose("compare", runs)

    def action_find(self) -> None:
        """Show the filter field and put the cursor in it."""
        field = self.query_one("#runs-filter", Input)
        field.remove_class("-hidden")
        field.focus()

    def action_sort(self) -> None:
        """Sort by the next key of :data:`SORT_CYCLE`."""
        at = SORT_CYCLE.index(self.sort_key) if self.sort_key in SORT_CYCLE else -1
        self.sort_key, self.sort_reversed = SORT_CYCLE[(at + 1) % len(SORT_CYCLE)], False

    def action_annotate(self) -> None:
        """Name, note and tag the selected run."""
        self._choose("annotate")

    def action_delete(self) -> None:
        """Delete the marked runs, or else the selected one."""
        marked, selected = self.marked, self.selected
        note = ""
        if marked and selected is not None and selected not in marked:
            note = (
                f"The marked {'run' if len(marked) == 1 else 'runs'}, not "
                f"{selected.label} under the cursor."
            )
        self._choose("delete", marked or None, note)

    def action_export(self) -> None:
        """Export the selected run's model."""
        self._choose("export")

    def action_settings(self) -> None:
        """Load the selected run's settings into the form."""
        self._choose("settings")

    def action_refresh_runs(self) -> None:
        """List the runs again."""
        self.post_message(self.RefreshRequested())

    def watch_sort_key(self) -> None:
        self._fill()

    def watch_sort_reversed(self) -> None:
        self._fill()

    def watch_filter_text(self) -> None:
        self._fill()

    @on(Input.Changed, "#runs-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.filter_text = event.value

    @on(Input.Submitted, "#runs-filter")
    def _filter_done(self, event: Input.Submitted) -> None:
        event.stop()
        self.focus_main()

    def key_escape(self, event: events.Key) -> None:
        """Escape in the filter field goes back to the table (the filter stays)."""
        field = self.query_one("#runs-filter", Input)
        if field.has_focus:
            event.stop()  # that is all it does: the marks stay
            if not field.value:
                field.add_class("-hidden")
            self.focus_main()

    @on(DataTable.HeaderSelected, "#runs-table")
    def _header_selected(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        key = self._columns[event.column_index][1]
        if key is None or key not in SORT_KEYS:
            return
        if key == self.sort_key:
            self.sort_reversed = not self.sort_reversed
        else:
            self.sort_key, self.sort_reversed = key, False

    @on(DataTable.RowSelected, "#runs-table")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self._choose("open")
