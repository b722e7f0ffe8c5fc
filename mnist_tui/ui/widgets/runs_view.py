"""Saved runs: a table to open, delete or retrain from."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.widgets import DataTable, Static

from mnist_tui.core.runs import BadRun, RunInfo


class RunsView(Vertical):
    """The runs directory as a table; Enter opens a run."""

    BINDINGS = [
        Binding("enter", "open", "Open", id="runs.open", tooltip="Open the selected run"),
        Binding("d,delete", "delete", "Delete", id="runs.delete",
                tooltip="Delete the selected run (asks first)"),
        Binding("s", "settings", "Use settings", id="runs.settings",
                tooltip="Load the selected run's settings into the form"),
        Binding("r", "refresh_runs", "Refresh", id="runs.refresh",
                tooltip="Read the runs directory again"),
    ]

    @dataclass
    class Chosen(Message):
        """The user asked to do ``what`` (open, delete, settings) with ``run``."""

        run: RunInfo
        what: str

    class RefreshRequested(Message):
        """The user asked to list the runs again."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._runs: list[RunInfo] = []

    def compose(self) -> ComposeResult:
        yield Static("", id="runs-caption", markup=False)
        table: DataTable[Text] = DataTable(id="runs-table", cursor_type="row",
                                           zebra_stripes=True)
        # The settings, the widest column, come last: an 80-column terminal still shows
        # every run's accuracy, epochs, status and date.
        table.add_columns("run", "test acc", "epochs", "status", "saved (UTC)", "settings")
        yield table
        yield Static("", id="runs-problems", markup=False)

    def show_runs(self, root: str, runs: list[RunInfo], bad: list[BadRun]) -> None:
        """Fill the table; the cursor stays on the run it was on, if that run is still there.

        Every cell is plain text (a run's id is its folder's name, which may hold anything).
        """
        chosen = self.selected
        self._runs = runs
        table = self.query_one("#runs-table", DataTable)
        table.clear()
        for run in runs:
            cells = (run.run_id, f"{run.test_accuracy:.2%}",
                     f"{run.epochs_done}/{run.config.epochs}", run.status.replace("_", " "),
                     run.created[5:16].replace("T", " "), run.config.summary())
            table.add_row(*(Text(cell, end="") for cell in cells), key=run.run_id)
        ids = [run.run_id for run in runs]
        if chosen is not None and chosen.run_id in ids:
            table.move_cursor(row=ids.index(chosen.run_id))
        caption = (f"{len(runs)} run{'s' if len(runs) != 1 else ''} in {root}.  "
                   "Enter open · s use settings · d delete · r refresh")
        if not runs:
            caption = f"No saved runs in {root} yet: train one (ctrl+t)."
        self.query_one("#runs-caption", Static).update(caption)
        self.query_one("#runs-problems", Static).update(
            Content("\n").join(Content.from_markup("[yellow]skipped[/] $reason",
                                                    reason=item.reason) for item in bad))

    @property
    def selected(self) -> RunInfo | None:
        """The run under the cursor."""
        table = self.query_one("#runs-table", DataTable)
        if not self._runs or table.cursor_row < 0 or table.cursor_row >= len(self._runs):
            return None
        return self._runs[table.cursor_row]

    def _choose(self, what: str) -> None:
        run = self.selected
        if run is not None:
            self.post_message(self.Chosen(run, what))

    def action_open(self) -> None:
        """Open the selected run."""
        self._choose("open")

    def action_delete(self) -> None:
        """Delete the selected run."""
        self._choose("delete")

    def action_settings(self) -> None:
        """Load the selected run's settings into the form."""
        self._choose("settings")

    def action_refresh_runs(self) -> None:
        """List the runs again."""
        self.post_message(self.RefreshRequested())

    @on(DataTable.RowSelected, "#runs-table")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self._choose("open")
