"""The app's own keys, and the command palette's entries: what can run now, each with its
key, found by binding id."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache, partial
from typing import TYPE_CHECKING, Any

from textual.actions import parse
from textual.app import SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import TabbedContent

from mnist_tui.ui.tabs import TABS, find_tab, tab_keys
from mnist_tui.ui.tabs.sweep_view import SweepView
from mnist_tui.ui.tabs.training_view import TrainingView

if TYPE_CHECKING:
    from mnist_tui.ui.app import MnistApp

TEXTUAL_COMMANDS = frozenset({"Theme", "Change theme", "Keys", "Quit", "Quit the application"})
"""Textual's own palette entries that are useful here (by title)."""


def action_name(binding: Binding) -> str:
    """The name of the action a binding runs, as ``check_action`` receives it
    (``scale_rate`` for ``app.scale_rate(0.5)``)."""
    return parse(binding.action)[1]


STEERING = frozenset(action_name(b) for b in Binding.make_bindings(TrainingView.BINDINGS))
"""Actions that steer a running training (the Training tab's keys, palette commands)."""


APP_BINDINGS: list[BindingType] = [
    Binding(
        "ctrl+t",
        "train",
        "Train",
        priority=True,
        id="app.train",
        tooltip="Train a model with the settings in the form",
    ),
    Binding(
        "ctrl+s",
        "stop",
        "Stop",
        priority=True,
        id="app.stop",
        tooltip="Stop training now; what was learned is evaluated and saved",
    ),
    Binding("f1", "help", "Help", id="app.help", tooltip="Keys and what they do"),
    Binding(
        "ctrl+a",
        "select_all",
        "Select all",
        show=False,
        priority=True,
        id="app.select_all",
        tooltip="In a text field: select all of it, so what is typed replaces it",
    ),
    Binding(
        "ctrl+q",
        "quit",
        "Quit",
        priority=True,
        id="app.quit",
        tooltip="Quit (a running training is stopped and saved first)",
    ),
    Binding(
        "escape",
        "leave_field",
        "Leave field",
        show=False,
        id="app.leave_field",
        tooltip=f"Leave the text field for its tab's keys ({tab_keys()} switch tabs)",
    ),
    *[
        Binding(
            tab.key,
            f"show_tab('{tab.id}')",
            tab.title,
            show=False,
            id=f"app.tab.{tab.id}",
            tooltip=f"Show the {tab.title} tab",
        )
        for tab in TABS
    ],
]
"""The app's own keys, acting anywhere (the palette finds them by ``id``)."""


@cache
def bindings_by_id(app_class: type[MnistApp]) -> dict[str, Binding]:
    """Every binding of the app and of its tabs' widgets, by its ``id``."""
    found: dict[str, Binding] = {}
    for cls in (app_class, *(tab.widget for tab in TABS)):
        for binding in Binding.make_bindings(vars(cls).get("BINDINGS", [])):
            if binding.id is not None:
                found.setdefault(binding.id, binding)
    return found


def binding(app: MnistApp, binding_id: str) -> Binding:
    """The binding with ``binding_id`` (the app's or a tab's)."""
    return bindings_by_id(type(app))[binding_id]


def key_of(app: MnistApp, binding_id: str) -> str:
    """How the key of a binding is shown, e.g. ``^t``."""
    return app.get_key_display(binding(app, binding_id))


@dataclass(frozen=True)
class Command:
    """A palette entry that runs a binding's action, when the app says it can."""

    title: str
    help: str
    binding: str
    """The id of the binding it runs (its key is shown beside it)."""
    title_when_paused: str = ""
    """Its title while the training waits, if another."""


COMMANDS = (
    Command("Train", "Train with the settings in the form", "app.train"),
    Command("Stop training", "Stop now; the run is evaluated and saved", "app.stop"),
    Command(
        "Pause training",
        "Wait between steps, or carry on",
        "training.pause",
        title_when_paused="Resume training",
    ),
    Command("Halve the learning rate", "From the next step", "training.rate_half"),
    Command("Double the learning rate", "From the next step", "training.rate_double"),
    Command(
        "Set the learning rate", "Type a new rate for the rest of the run", "training.rate_set"
    ),
    Command(
        "Stop after this epoch",
        "End and save the run when this epoch ends (again: carry on)",
        "training.finish_epoch",
    ),
    Command("Toggle early stopping", "Turn early stopping on or off", "training.early_stopping"),
)
"""The app's own entries, each shown only when its action can run."""


def system_commands(
    app: MnistApp, screen: Screen[Any], textual: Iterable[SystemCommand]
) -> Iterable[SystemCommand]:
    """Only what can run now, each with its key; of Textual's own (``textual``), the
    theme, the keys panel and quitting (not the screenshot, maximize or minimize entries)."""
    for entry in textual:
        if entry.title == "Quit":  # Textual's says "as soon as possible"
            first = "; the running training is stopped and its run saved first"
            yield SystemCommand(
                "Quit",
                f"Quit the application{first if app.training else ''} ({key_of(app, 'app.quit')})",
                app.quit_now,
            )
        elif entry.title in TEXTUAL_COMMANDS:
            yield entry
    paused = app.session is not None and app.session.control.paused
    for command in COMMANDS:
        found = binding(app, command.binding)
        if app.why_not(action_name(found)) is None:
            yield SystemCommand(
                (paused and command.title_when_paused) or command.title,
                f"{command.help} ({app.get_key_display(found)})",
                partial(app.run_action, found.action),
            )
    for each in TABS:
        yield SystemCommand(
            f"Show {each.title}",
            f"Switch to the {each.title} tab ({each.key})",
            partial(app.action_show_tab, each.id),
        )
    if app.shown_run is not None:
        yield SystemCommand(
            "Mistakes only",
            f"Browse the misclassified digits of {app.shown_run.label}, most confident first",
            app.main.browse_mistakes,
        )
    yield SystemCommand("Refresh runs", "Read the runs directory again", app.main.refresh_runs)
    tabs = screen.query(TabbedContent)
    if tabs and tabs.first().active == find_tab("sweep").id:
        yield from sweep_commands(app)


def sweep_commands(app: MnistApp) -> Iterable[SystemCommand]:
    """The Sweep tab's keys that can act now (it is on show), and stopping its sweep."""
    view = app.query_one(SweepView)
    for found in Binding.make_bindings(SweepView.BINDINGS):
        if view.check_action(found.action, ()) is True:
            yield SystemCommand(
                f"Sweep: {found.description}",
                f"{found.tooltip} ({app.get_key_display(found)})",
                partial(view.run_action, found.action),
            )
    if app.sweeping:
        yield SystemCommand(
            "Sweep: Stop",
            f"Save the trial in training as stopped and start no other ({key_of(app, 'app.stop')})",
            app.action_stop,
        )
