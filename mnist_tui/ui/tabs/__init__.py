"""The app's tabs: one module per tab, and :data:`TABS`, the one table of them.

The tab bar, the digit keys, the panes mounted after the first frame, the help screen,
the command palette and every message that names a tab and its key ("Runs, 5") are
read from :data:`TABS`. A new tab is one module here and one row there.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from textual.dom import DOMNode
from textual.widget import Widget
from textual.widgets import DataTable

from mnist_tui.core.config import TrainConfig
from mnist_tui.core.sweeps.storage import default_storage_url, new_study_name
from mnist_tui.ui.tabs.draw_view import DrawView
from mnist_tui.ui.tabs.inside import InsideView
from mnist_tui.ui.tabs.results_view import ResultsView
from mnist_tui.ui.tabs.runs_view import RunsView
from mnist_tui.ui.tabs.samples_view import SampleViewer
from mnist_tui.ui.tabs.setup_form import ConfigForm
from mnist_tui.ui.tabs.sweep_view import SweepView
from mnist_tui.ui.tabs.training_view import TrainingView


class Pane(Protocol):
    """What the app asks of each tab's widget."""

    def focus_main(self) -> None:
        """Put the focus where the tab's keys act."""


@dataclass(frozen=True)
class TabContext:
    """What a tab's widget is built from: the app's settings at start."""

    config: TrainConfig
    """The settings the app started with (the form's first values)."""
    runs_root: Path
    """The runs folder (a sweep's default storage lives in it)."""


@dataclass(frozen=True)
class HelpSource:
    """A class whose ``BINDINGS`` act in one part of the app."""

    widget: type[DOMNode]
    only: Mapping[str, tuple[str, str]] | None = None
    """Only these actions, each with the (description, tooltip) it has here (a Textual
    widget's generic binding, such as a table's Enter, means more in its place); ``None``:
    every binding the class declares itself."""


@dataclass(frozen=True)
class Tab:
    """One tab: its id, its title in the tab bar, its key, and the widget it shows."""

    id: str
    """The tab pane's id (``show_tab('runs')``), and the binding's (``app.tab.runs``)."""
    title: str
    key: str
    """The key that shows it, anywhere but in a text field."""
    widget: type[Widget]
    """The class of its widget (the pane): its bindings are the tab's keys in the help."""
    make: Callable[[TabContext], Widget]
    """Builds its widget (once, when the app is built)."""
    help: tuple[HelpSource, ...] = field(default=())
    """Keys that act in the tab besides its widget's own."""

    @property
    def hint(self) -> str:
        """How a message names it and its key: ``Runs, 5``."""
        return f"{self.title}, {self.key}"


def _draw(context: TabContext) -> Widget:
    return DrawView(
        id="draw-view",
        no_run_hint=f"Open a run ({tab_hint('runs')}) or train one (ctrl+t): its model "
        "reads the drawing.",
    )


def _inside(context: TabContext) -> Widget:
    return InsideView(
        id="inside-view",
        no_run_hint=f"No run on show: open one ({tab_hint('runs')}) or train one (ctrl+t).\n"
        "Then see what its model learned, where it looks in a digit, how the test digits\n"
        "sit in its last hidden layer, and how training moved inside it.",
    )


def _sweep(context: TabContext) -> Widget:
    return SweepView(
        context.config,
        new_study_name(context.config.architecture),
        default_storage_url(context.runs_root),
        id="sweep-view",
    )


TABS: tuple[Tab, ...] = (
    Tab("setup", "Setup", "1", ConfigForm, lambda c: ConfigForm(c.config, id="form")),
    Tab("training", "Training", "2", TrainingView, lambda c: TrainingView(id="train-view")),
    Tab(
        "results",
        "Results",
        "3",
        ResultsView,
        lambda c: ResultsView(id="results-view"),
        help=(
            HelpSource(
                DataTable,
                {
                    "select_cursor": (
                        "Digits",
                        "Show the digits of the confusion-matrix cell under the cursor",
                    )
                },
            ),
        ),
    ),
    Tab("samples", "Samples", "4", SampleViewer, lambda c: SampleViewer(id="viewer")),
    Tab("runs", "Runs", "5", RunsView, lambda c: RunsView(id="runs-view")),
    Tab("sweep", "Sweep", "6", SweepView, _sweep),
    Tab("draw", "Draw", "7", DrawView, _draw),
    Tab("inside", "Inside", "8", InsideView, _inside),
)
"""Every tab, in the order of the tab bar. The first is drawn with the app's first
frame; the others' widgets are mounted just after it."""

_BY_ID = {tab.id: tab for tab in TABS}


def find_tab(tab_id: str) -> Tab:
    """The tab ``tab_id``."""
    return _BY_ID[tab_id]


def tab_hint(tab_id: str) -> str:
    """How a message names a tab and its key: ``tab_hint('runs')`` is ``Runs, 5``."""
    return find_tab(tab_id).hint


def tab_keys() -> str:
    """The digit keys of the tabs, as a range: ``1-8``."""
    return f"{TABS[0].key}-{TABS[-1].key}"
