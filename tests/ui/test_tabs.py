"""The tab registry is the one place tabs are named: the tab bar, the digit keys, the
help, the palette and the messages that name a tab all come from it."""

from __future__ import annotations

from collections.abc import Callable

from textual.binding import Binding
from textual.widgets import TabbedContent, TabPane

from mnist_tui.ui.app import MnistApp
from mnist_tui.ui.screens.dialogs import help_groups
from mnist_tui.ui.tabs import TABS, find_tab, tab_hint, tab_keys

AppFactory = Callable[..., MnistApp]


def test_each_tab_has_its_own_digit_key_in_order() -> None:
    assert [tab.key for tab in TABS] == [str(n) for n in range(1, len(TABS) + 1)]
    assert len({tab.id for tab in TABS}) == len(TABS)
    assert tab_keys() == f"1-{len(TABS)}"
    assert tab_hint("runs") == f"Runs, {find_tab('runs').key}"


def test_the_digit_bindings_and_the_help_come_from_the_registry() -> None:
    bindings = {b.id: b for b in MnistApp.BINDINGS if isinstance(b, Binding)}
    for tab in TABS:
        binding = bindings[f"app.tab.{tab.id}"]
        assert (binding.key, binding.action) == (tab.key, f"show_tab('{tab.id}')")
    groups = [title for title, _rows in help_groups(MnistApp())]
    tab_groups = [title for title in groups if title in {tab.title for tab in TABS}]
    assert tab_groups == [tab.title for tab in TABS if tab.title in groups]


async def test_the_tab_bar_and_palette_list_every_tab(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        panes = app.query_one(TabbedContent).query(TabPane)
        assert [pane.id for pane in panes] == [tab.id for tab in TABS]
        for tab in TABS:
            assert app.main.panes.pane(tab.id) is app.query_one(f"#{tab.id}", TabPane).children[0]
        titles = {command.title: command.help for command in app.get_system_commands(app.screen)}
        for tab in TABS:
            assert f"({tab.key})" in titles[f"Show {tab.title}"]
        for tab in reversed(TABS):
            await pilot.press(tab.key)
            assert app.query_one(TabbedContent).active == tab.id
