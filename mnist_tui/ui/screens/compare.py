"""Two to six runs side by side: what differs, which is best, where they disagree."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from mnist_tui.core.evaluation import Evaluation
from mnist_tui.core.run_record import RunInfo
from mnist_tui.tables import compare_tables, disagreement_lines, run_letter


class CompareScreen(Screen[None]):
    """The comparison of the runs marked in the Runs tab (the first is the baseline A).

    Built from saved records and test probabilities: the same tables and disagreement
    counts as ``mnist-tui compare``. Names are shown as written (never as markup).
    """

    BINDINGS = [Binding("escape,q", "app.pop_screen", "Back", id="compare.back",
                        tooltip="Back to the runs")]

    DEFAULT_CSS = """
    CompareScreen VerticalScroll { padding: 0 1; }
    CompareScreen .compare-runs { margin-bottom: 1; }
    CompareScreen .compare-disagreements { margin-top: 1; text-style: bold; }
    """

    def __init__(self, runs: list[RunInfo], evaluations: list[Evaluation]) -> None:
        super().__init__()
        self._runs, self._evaluations = runs, evaluations

    def compose(self) -> ComposeResult:
        names = "\n".join(f"{run_letter(i)}  {run.label}  {run.config.summary()}"
                          for i, run in enumerate(self._runs))
        with VerticalScroll(id="compare-body"):
            yield Static(names, classes="compare-runs", markup=False)
            for table in compare_tables(self._runs):  # their cells are escaped
                yield Static(table)
            yield Static("\n".join(disagreement_lines(self._evaluations)),
                         classes="compare-disagreements", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#compare-body").focus()
