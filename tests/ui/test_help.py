"""The help screen is built from the bindings, so it lists every key and only real keys."""

from __future__ import annotations

import io
import re
from collections.abc import Callable

from rich.console import Console
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

from mnist_tui.core.config import TrainConfig
from mnist_tui.ui.app import MnistApp
from mnist_tui.ui.screens.compare import CompareScreen
from mnist_tui.ui.screens.dialogs import HelpScreen
from mnist_tui.ui.tabs.draw_view import DrawView
from mnist_tui.ui.tabs.inside import InsideView
from mnist_tui.ui.tabs.results_view import ResultsView
from mnist_tui.ui.tabs.runs_view import RunsView
from mnist_tui.ui.tabs.samples_view import SampleViewer
from mnist_tui.ui.tabs.setup_form import ConfigForm
from mnist_tui.ui.tabs.sweep_view import SweepView
from mnist_tui.ui.tabs.training_view import TrainingView
from mnist_tui.ui.widgets.compare_curves import CompareCurves
from mnist_tui.ui.widgets.line_chart import LineChart
from tests.ui.conftest import screen_lines

AppFactory = Callable[..., MnistApp]
WIDGETS = (
    ConfigForm,
    TrainingView,
    ResultsView,
    SampleViewer,
    RunsView,
    LineChart,
    CompareScreen,
    CompareCurves,
    SweepView,
    DrawView,
    InsideView,
)
COLUMNS = re.compile(r"\s{2,}")


def own_bindings(cls: type) -> list[Binding]:
    """The bindings ``cls`` declares itself, one per key."""
    return list(Binding.make_bindings(vars(cls).get("BINDINGS", [])))


def key_rows(lines: list[str]) -> list[list[str]]:
    """The rows of the key table among ``lines``: [keys, what, ...] (not headings, not the
    wrapped ends of long explanations)."""
    cells = [COLUMNS.split(line.strip()) for line in lines if line.strip()]
    return [row for row in cells if len(row) >= 2]


def help_table_text(app: MnistApp) -> list[str]:
    """The whole key table, scrolled or not, as lines."""
    table = app.screen.query_one("#help-keys", Static)
    console = Console(
        width=table.content_region.width,
        file=io.StringIO(),
        record=True,
        color_system=None,
        legacy_windows=False,
    )
    console.print(table.content)
    return console.export_text().splitlines()


async def test_every_key_is_listed_and_only_real_keys(make_app: AppFactory) -> None:
    app = make_app(config=TrainConfig())
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f1")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        lines = help_table_text(app)
        rows = key_rows(lines)
        listed = {(row[0], row[1]) for row in rows}
        sources: list[type] = [type(app), *WIDGETS]
        real_keys = set()
        for source in sources:
            for binding in own_bindings(source):
                real_keys.add(app.get_key_display(binding))
                if binding.show and binding.description:
                    assert any(
                        app.get_key_display(binding) in keys.split() and what == binding.description
                        for keys, what in listed
                    ), (source.__name__, binding.key, binding.description)
        shown_keys = {key for keys, _ in listed for key in keys.split()}
        from textual.screen import Screen
        from textual.widgets import DataTable

        for extra in (Screen, DataTable):  # focus keys, the matrix's Enter
            real_keys |= {app.get_key_display(b) for b in own_bindings(extra)}
        real_keys.add(app.get_key_display(Binding(app.COMMAND_PALETTE_BINDING, "")))
        assert shown_keys <= real_keys, shown_keys - real_keys  # no j/k that is not a key
        for old in ("h l", "1 … 5", "enter / s / d"):
            assert old not in "\n".join(lines)
        close = str(app.screen.query_one("#help-close", Static).render())
        assert "close" in close and "esc" in close


async def test_a_page_of_keys_at_80x24_and_it_scrolls(make_app: AppFactory) -> None:
    app = make_app(config=TrainConfig())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f1")
        await pilot.pause()
        table = app.screen.query_one("#help-keys", Static)
        box = table.content_region.intersection(app.screen.query_one(VerticalScroll).region)
        visible = [line[box.x : box.right] for line in screen_lines(app)[box.y : box.bottom]]
        rows = key_rows(visible)
        assert len(rows) >= 12, visible
        assert any("close" in line for line in screen_lines(app))  # how to leave it
        scroll = app.screen.query_one(VerticalScroll)
        assert scroll.max_scroll_y > 0
        await pilot.press("pagedown")
        await pilot.pause()
        assert scroll.scroll_y > 0
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)
