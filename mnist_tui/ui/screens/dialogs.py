"""Small modal dialogs: confirm, error, help."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from rich.table import Table
from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.dom import DOMNode
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from mnist_tui.ui.screens.compare import CompareScreen
from mnist_tui.ui.tabs import TABS, HelpSource
from mnist_tui.ui.widgets.compare_curves import CompareCurves
from mnist_tui.ui.widgets.line_chart import LineChart


class ConfirmScreen(ModalScreen[bool]):
    """Ask a yes/no question (plain text, shown as written); dismisses with the answer."""

    BINDINGS = [
        Binding("y", "answer(True)", "Yes", id="confirm.yes", tooltip="Yes"),
        Binding("n,escape", "answer(False)", "No", id="confirm.no", tooltip="No"),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self._question = question

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self._question, classes="dialog-text", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Yes (y)", id="yes", variant="error")
                yield Button("No (n)", id="no", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, answer: bool) -> None:
        """Dismiss with ``answer``."""
        self.dismiss(answer)


class ErrorScreen(ModalScreen[None]):
    """Show an error (a plain-text title and message, shown as written); the app lives on."""

    BINDINGS = [
        Binding("escape,enter", "dismiss", "Close", id="error.close", tooltip="Close this message")
    ]

    def __init__(self, title: str, message: str) -> None:
        super().__init__()
        self._title, self._message = title, message

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog error-dialog"):
            yield Static(Content.styled(self._title, "bold"), classes="dialog-title", markup=False)
            with VerticalScroll(classes="dialog-scroll"):
                yield Static(self._message, classes="dialog-text", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Close", id="close", variant="primary")

    def on_button_pressed(self, _event: Button.Pressed) -> None:
        self.dismiss()


HELP_GROUPS: tuple[tuple[str, tuple[HelpSource, ...]], ...] = (
    *((tab.title, (HelpSource(tab.widget), *tab.help)) for tab in TABS),
    ("Charts", (HelpSource(LineChart),)),
    ("Compare", (HelpSource(CompareScreen), HelpSource(CompareCurves))),
)
"""Where keys act, after the app-wide ones: each tab (:data:`~mnist_tui.ui.tabs.TABS`, in
the order of the tab bar), then the charts they hold and the comparison screen."""


@dataclass(frozen=True)
class HelpRow:
    """One action: its keys as Textual shows them, its name and what it does."""

    keys: tuple[str, ...]
    description: str
    tooltip: str


def declared_bindings(cls: type[DOMNode], *, inherited: bool = False) -> list[Binding]:
    """The bindings ``cls`` declares (and, if ``inherited``, those of its bases that it
    keeps), one per key, in Textual's order."""
    merged: dict[str, Binding] = {}
    for base in reversed(cls.__mro__) if inherited else (cls,):
        for binding in Binding.make_bindings(vars(base).get("BINDINGS", [])):
            merged[binding.key] = binding
    return list(merged.values())


def help_rows(
    bindings: Iterable[Binding], app: App[object], only: Mapping[str, tuple[str, str]] | None = None
) -> list[HelpRow]:
    """One row per action that has a description, its keys together (``→ l j``)."""
    keys: dict[str, list[str]] = {}
    first: dict[str, Binding] = {}
    for binding in bindings:
        if only is not None and binding.action not in only:
            continue
        if not binding.description and only is None:
            continue
        keys.setdefault(binding.action, []).append(app.get_key_display(binding))
        first.setdefault(binding.action, binding)
    rows = []
    for action, binding in first.items():
        description, tooltip = (only or {}).get(action, (binding.description, binding.tooltip))
        rows.append(HelpRow(tuple(keys[action]), description, tooltip))
    return rows


def help_groups(app: App[object]) -> list[tuple[str, list[HelpRow]]]:
    """Every key of the app, grouped by where it acts (groups with no keys left out)."""
    anywhere = declared_bindings(type(app), inherited=True)
    if app.ENABLE_COMMAND_PALETTE:
        anywhere.append(
            Binding(
                app.COMMAND_PALETTE_BINDING,
                "command_palette",
                "palette",
                key_display=app.COMMAND_PALETTE_DISPLAY,
                tooltip="Open the command palette: every action by name",
            )
        )
    groups = [("App", help_rows(anywhere, app))]
    for title, sources in HELP_GROUPS:
        groups.append(
            (
                title,
                [
                    row
                    for source in sources
                    for row in help_rows(declared_bindings(source.widget), app, source.only)
                ],
            )
        )
    return [(title, rows) for title, rows in groups if rows]


def help_table(groups: list[tuple[str, list[HelpRow]]]) -> Table:
    """A compact table: a heading per group, then a line per key (long tooltips wrap)."""
    table = Table(box=None, show_header=False, padding=(0, 1), pad_edge=False, expand=True)
    table.add_column(
        no_wrap=True,
        style="bold",
        min_width=max(len(title) for title, _ in groups) if groups else 0,
    )
    table.add_column(no_wrap=True)
    table.add_column(ratio=1, style="dim")
    for title, rows in groups:
        table.add_row(Text(title, style="bold underline"))
        for row in rows:
            table.add_row(Text(" ".join(row.keys)), Text(row.description), Text(row.tooltip))
    return table


class HelpScreen(ModalScreen[None]):
    """Every key and what it does, read from the bindings: it cannot drift from them."""

    BINDINGS = [
        Binding("escape,f1,q", "dismiss", "Close", id="help.close", tooltip="Close the help")
    ]

    SCROLL_ACTIONS = ("scroll_up", "scroll_down", "page_up", "page_down")
    """The scrolling keys the closing line names."""

    def compose(self) -> ComposeResult:
        app = self.app
        close = [
            app.get_key_display(binding)
            for binding in declared_bindings(type(self))
            if binding.action == "dismiss"
        ]
        scroll = [
            app.get_key_display(binding)
            for binding in declared_bindings(VerticalScroll, inherited=True)
            if binding.action in self.SCROLL_ACTIONS
        ]
        with Vertical(classes="dialog help-dialog"):
            yield Static(
                Content.assemble(
                    ("Keys", "bold"),
                    f"   {' '.join(close)}: close this help   {' '.join(scroll)}: scroll",
                ),
                id="help-close",
                markup=False,
            )
            with VerticalScroll(classes="help-scroll"):
                yield Static(help_table(help_groups(app)), id="help-keys")

    def on_mount(self) -> None:
        """↑/↓ and page keys scroll the help at once."""
        self.query_one(VerticalScroll).focus()
