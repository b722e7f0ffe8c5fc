"""The Sweep tab from a user's defaults: keys that never trap, past studies listed,
reopened and resumed, what was searched in sight, and its keys in the palette."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from textual.widgets import DataTable, Input, Static, TabbedContent

from mnist_tui.core.config import TrainConfig
from mnist_tui.core.data.mnist import MnistData
from mnist_tui.core.runs.store import RunStore
from mnist_tui.core.sweeps.space import SearchSpace
from mnist_tui.core.sweeps.storage import SweepSettings, SweepStorage, default_storage_url
from mnist_tui.core.sweeps.worker import run_worker
from mnist_tui.ui.app import MnistApp
from mnist_tui.ui.screens.dialogs import HelpScreen
from mnist_tui.ui.tabs import TABS
from mnist_tui.ui.tabs.runs_view import RunsView
from mnist_tui.ui.tabs.sweep_view import SweepView
from mnist_tui.ui.widgets.line_chart import LineChart
from tests.ui.conftest import palette_found, screen_lines, wait_for
from tests.ui.test_help import help_table_text

AppFactory = Callable[..., MnistApp]
SIZE = (120, 40)


def past_study(runs_dir: Path, data: MnistData, name: str, trials: int = 2) -> None:
    """A study run before the app starts: the MLP's default space with small layers and
    one epoch, so each trial takes a second."""
    space = SearchSpace.build(TrainConfig().to_dict(), {"epochs": "1", "hidden_units": "16|32"})
    with SweepStorage(default_storage_url(runs_dir)) as storage:
        storage.create(name, SweepSettings(space, "none"))
        run_worker(
            storage,
            name,
            data,
            RunStore(runs_dir),
            lambda _event: None,
            trials=trials,
            sampler_seed=0,
        )


def text(app: MnistApp, selector: str) -> str:
    return str(app.query_one(selector, Static).render())


def active(app: MnistApp) -> str:
    return str(app.query_one(TabbedContent).active)


async def test_the_sweep_tab_never_traps_the_keys(make_app: AppFactory) -> None:
    app = make_app(TrainConfig())
    async with app.run_test(size=SIZE) as pilot:
        study = app.query_one("#sweep-study", Input)
        name = study.value
        await pilot.press("6")
        await pilot.pause()
        assert not isinstance(app.focused, Input)  # arriving puts the cursor in no field
        await pilot.press("7")
        assert active(app) == "draw" and study.value == name
        for field in ("#sweep-study", "#sweep-field-dropout", "#sweep-trials"):
            await pilot.press("6")
            app.query_one(field, Input).focus()
            await pilot.pause()
            before = app.query_one(field, Input).value
            await pilot.press("escape")  # leaves the field, on its tab
            assert not isinstance(app.focused, Input) and active(app) == "sweep"
            await pilot.press("7")
            assert active(app) == "draw", field
            assert app.query_one(field, Input).value == before  # no 7 typed into it
        await pilot.press("f1")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        help_text = " ".join(" ".join(help_table_text(app)).split())
        assert f"1-{len(TABS)} switch tabs" in help_text and "1-6" not in help_text


async def test_a_past_study_is_listed_reopened_and_resumed(
    make_app: AppFactory, slice_data: MnistData, tmp_path: Path
) -> None:
    runs_dir = tmp_path / "runs"
    past_study(runs_dir, slice_data, "old-study")
    app = make_app(TrainConfig())
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(lambda: app.data is not None, pilot)
        await pilot.press("6")
        studies = app.query_one("#sweep-studies", DataTable)
        await wait_for(lambda: studies.row_count == 1, pilot)
        assert app.focused is studies  # the past studies, not a text field
        assert "old-study" in "\n".join(screen_lines(app))
        await pilot.press("enter")  # reopens it: its trials, chart and importances
        trials = app.query_one("#sweep-trials-table", DataTable)
        await wait_for(lambda: trials.row_count == 2, pilot)
        assert text(app, "#sweep-status").startswith("Study old-study: 2 trials: 2 done")
        chart = app.query_one("#sweep-chart", LineChart)
        assert [line.name for line in chart.series] == ["trial", "best"]
        await wait_for(
            lambda: "Which settings mattered (2 complete trials" in text(app, "#sweep-importance"),
            pilot,
        )
        lines = screen_lines(app)
        ticks = lines[chart.region.bottom - 1][chart.region.x : chart.region.right]
        assert ticks.split() == ["trial", "0", "1"]  # whole trials, not 0.1 … 0.9
        rows = [
            line[trials.region.x : trials.region.right]
            for line in lines[trials.region.y + 1 : trials.region.y + 3]
        ]
        assert all("lr=" in row for row in rows), rows  # the rate is never cut off
        # The fields show the study's own space, which running more trials searches.
        units = app.query_one("#sweep-field-hidden_units", Input)
        assert units.value == "16|32" and units.disabled
        assert "Run more trials" in str(app.query_one("#sweep-run").label)  # type: ignore[attr-defined]
        study = app.query_one("#sweep-study", Input)
        assert study.value == "old-study"
        study.value = "another-study"  # a new name: a new space
        await pilot.pause()
        assert not units.disabled and "Run sweep" in str(app.query_one("#sweep-run").label)  # type: ignore[attr-defined]
        study.value = "old-study"  # typing a past study's name reopens it too
        await pilot.pause()
        assert units.disabled
        app.query_one("#sweep-trials", Input).value = "1"
        app.query_one(SweepView).focus_main()
        await pilot.pause()
        await pilot.press("ctrl+r")  # one more trial (it may be over at once)
        view = app.query_one(SweepView)
        await wait_for(lambda: trials.row_count == 3 and not view.running, pilot, timeout=120)
        await wait_for(
            lambda: text(app, "#sweep-status").startswith("Study old-study: 3 trials: 3 done"),
            pilot,
        )
        assert {
            run.sweep.study for run in RunStore(runs_dir).list()[0] if run.sweep is not None
        } == {"old-study"}
        await pilot.press("5", "slash", *"old-study")  # the Runs tab finds its trials
        await pilot.pause()
        assert app.query_one(RunsView).table.row_count == 3


async def test_a_past_study_at_80x24_switches_between_space_and_trials(
    make_app: AppFactory, slice_data: MnistData, tmp_path: Path
) -> None:
    past_study(tmp_path / "runs", slice_data, "narrow-study")
    app = make_app(TrainConfig())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("6")
        studies = app.query_one("#sweep-studies", DataTable)
        await wait_for(lambda: studies.row_count == 1, pilot)
        await pilot.press("enter")
        trials = app.query_one("#sweep-trials-table", DataTable)
        await wait_for(lambda: trials.row_count == 2, pilot)
        for shown in ("Architecture", "validation accuracy", "Architecture"):
            await pilot.press("e")
            await pilot.pause()
            screen = "\n".join(screen_lines(app))
            assert shown in screen, screen
            focused = app.focused
            assert focused is not None and focused.region.area > 0  # never on a hidden one


async def test_the_palette_offers_the_sweep_tabs_keys_while_it_is_shown(
    make_app: AppFactory,
) -> None:
    app = make_app(TrainConfig())
    async with app.run_test(size=SIZE) as pilot:

        def titles() -> list[str]:
            return [command.title for command in app.get_system_commands(app.screen)]

        assert not any(title.startswith("Sweep:") for title in titles())
        await pilot.press("6")
        await pilot.pause()
        assert "Sweep: Run sweep" in titles()
        assert "Sweep: Best → form" not in titles()  # no trial yet
        await pilot.press("ctrl+p", *"Run sweep")
        await wait_for(lambda: palette_found(app), pilot)  # the search has answered
        await pilot.press("enter")
        view = app.query_one(SweepView)
        await wait_for(lambda: view.running, pilot)
        assert "Sweep: Stop" in titles()
        await pilot.press("ctrl+s")
        await wait_for(lambda: not view.running, pilot, timeout=120)
