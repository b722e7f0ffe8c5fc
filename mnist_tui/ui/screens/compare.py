"""Two to six runs side by side: what differs, which is best, where they disagree."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from mnist_tui.core.engine.evaluation import Evaluation
from mnist_tui.core.runs.record import RunInfo
from mnist_tui.tables import compare_tables, disagreement_lines, run_letter
from mnist_tui.ui.messages import BrowseDisagreements
from mnist_tui.ui.widgets.compare_curves import CompareCurves


class CompareScreen(Screen[None]):
    """The comparison of the runs marked in the Runs tab (the first is the baseline A).

    Built from saved records and test probabilities: the same tables and disagreement
    counts as ``mnist-tui compare``. Names are shown as written (never as markup).
    """

    BINDINGS = [
        Binding(
            "escape,q", "app.pop_screen", "Back", id="compare.back", tooltip="Back to the runs"
        ),
        Binding(
            "x",
            "toggle_x_axis",
            "Epochs/samples",
            id="compare.x_axis",
            tooltip="Draw the curves by epoch or by samples seen",
        ),
        Binding(
            "d",
            "disagreements",
            "Disagreements",
            id="compare.disagreements",
            tooltip="Browse the digits where A and B disagree, with both "
            "predictions, in the Samples tab (b there: another pair)",
        ),
    ]

    DEFAULT_CSS = """
    CompareScreen VerticalScroll { padding: 0 1; }
    CompareScreen .compare-runs { margin-bottom: 1; }
    CompareScreen .compare-hint { color: $text-muted; }
    CompareScreen CompareCurves { margin-bottom: 1; }
    CompareScreen .compare-disagreements { margin-top: 1; text-style: bold; }
    """

    def __init__(
        self, runs: list[RunInfo], evaluations: list[Evaluation], train_digits: int
    ) -> None:
        """``train_digits``: the training set the runs learnt from (before validation)."""
        super().__init__()
        self._runs, self._evaluations = runs, evaluations
        self._train_digits = train_digits

    def compose(self) -> ComposeResult:
        names = "\n".join(
            f"{run_letter(i)}  {run.label}  {run.summary}" for i, run in enumerate(self._runs)
        )
        with VerticalScroll(id="compare-body"):
            yield Static(names, classes="compare-runs", markup=False)
            yield Static(
                "Train solid (A), validation dashed (a). Tab to a chart, then ← → "
                "read values, l log scale; x epochs or samples.",
                classes="compare-hint",
                markup=False,
            )
            yield CompareCurves(self._runs, self._train_digits)
            for table in compare_tables(self._runs):  # their cells are escaped
                yield Static(table)
            yield Static(
                "\n".join(disagreement_lines(self._evaluations)),
                classes="compare-disagreements",
                markup=False,
            )
        yield Footer()

    def action_disagreements(self) -> None:
        """Browse the disagreements in the Samples tab, from the results computed here."""
        self.post_message(BrowseDisagreements(self._runs, self._evaluations))

    def action_toggle_x_axis(self) -> None:
        """Draw the curves by epoch or by samples seen."""
        self.query_one(CompareCurves).action_toggle_x()

    def on_mount(self) -> None:
        self.query_one("#compare-body").focus()
