"""The app around its tabs: keys that say why, the palette, quitting, and the Runs tab's
finding, marking, naming and comparing."""

from __future__ import annotations

import asyncio
import gc
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.app import App
from textual.widgets import DataTable, Input, Static, TabbedContent, TabPane

from mnist_tui.core.config import TrainConfig
from mnist_tui.core.data.mnist import MnistData
from mnist_tui.core.runs.store import RunStore
from mnist_tui.ui.app import MnistApp
from mnist_tui.ui.screens.annotate import AnnotateScreen
from mnist_tui.ui.screens.compare import CompareScreen
from mnist_tui.ui.screens.dialogs import ConfirmScreen
from mnist_tui.ui.screens.main import MainScreen
from mnist_tui.ui.tabs import TABS
from mnist_tui.ui.tabs.runs_view import RunsView
from mnist_tui.ui.tabs.training_view import TrainingView
from tests.ui.conftest import FAST, wait_for, write_fixed_run

SIZE = (120, 40)
AppFactory = Callable[..., MnistApp]


def notices(app: MnistApp) -> list[str]:
    return [str(note.message) for note in app._notifications]


def table_text(app: MnistApp) -> list[str]:
    table = app.query_one("#runs-table", DataTable)
    return [" ".join(str(cell) for cell in table.get_row_at(row)) for row in range(table.row_count)]


def hold_later_tabs(monkeypatch: pytest.MonkeyPatch) -> Callable[[MnistApp], None]:
    """Keep the tabs after Setup from mounting at start; the returned function mounts
    them as the app would (from its own message queue)."""
    mount = MainScreen._mount_later_tabs

    async def held(screen: MainScreen) -> None:
        return None

    monkeypatch.setattr(MainScreen, "_mount_later_tabs", held)
    return lambda app: app.call_later(mount, app.main) and None


async def test_keys_before_the_later_tabs_mount_are_safe(
    make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = hold_later_tabs(monkeypatch)
    app = make_app(config=TrainConfig())
    # Textual's own run_test: the suite's pilot would wait for the tabs.
    async with App.run_test(app, size=SIZE, notifications=True) as pilot:
        await wait_for(lambda: app.data is not None, pilot)
        assert [len(pane.children) for pane in app.query(TabPane)] == [1] + [0] * (len(TABS) - 1)
        epochs = app.query_one("#field-epochs", Input)
        epochs.focus()
        await pilot.press("end", "backspace", "backspace", "1")  # the form takes keys at once
        assert epochs.value == "1"
        await pilot.press("escape", "5")  # out of the form to the tab bar, then Runs
        await pilot.pause()
        assert app.query_one(TabbedContent).active == "runs"  # empty until mounted
        await pilot.press("ctrl+t")  # typed ahead: it waits for the tabs
        await pilot.pause()
        assert not app.training
        release(app)
        await wait_for(lambda: app.training, pilot)
        assert [len(pane.children) for pane in app.query(TabPane)] == [1] * len(TABS)
        assert app.query_one(TabbedContent).active == "training"
        assert isinstance(app.focused, TrainingView)
        await wait_for(lambda: app.shown_run is not None, pilot)
        assert app.shown_run is not None
        assert app.shown_run.config.epochs == 1  # the value typed early


async def test_cycles_are_collected_again_after_the_first_frame(
    make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = hold_later_tabs(monkeypatch)
    gc.disable()  # as the ``mnist-tui`` entry point starts the app
    try:
        app = make_app()
        async with App.run_test(app, size=SIZE) as pilot:
            await pilot.pause()
            assert not gc.isenabled()
            release(app)
            await wait_for(lambda: app.tabs_mounted, pilot)
            assert gc.isenabled()
    finally:
        gc.enable()


@pytest.mark.parametrize("mount_meanwhile", [False, True])
async def test_quitting_before_the_later_tabs_mount(
    make_app: AppFactory, monkeypatch: pytest.MonkeyPatch, mount_meanwhile: bool
) -> None:
    mount = MainScreen._mount_later_tabs
    hold_later_tabs(monkeypatch)
    app = make_app()
    async with App.run_test(app, size=SIZE) as pilot:
        if mount_meanwhile:  # as a quit signal at start can: the mount runs as it closes
            original_shutdown = app._shutdown

            async def shutdown() -> None:
                await asyncio.gather(original_shutdown(), mount(app.main))

            monkeypatch.setattr(app, "_shutdown", shutdown)
        await pilot.press("ctrl+q")
    assert app.return_code == 0 and not app.tabs_mounted


async def test_the_runs_table_is_measured_as_it_is_filled(
    make_app: AppFactory, slice_data: MnistData, tmp_path: Path
) -> None:
    write_fixed_run(tmp_path / "runs", slice_data)
    app = make_app(runs_dir=tmp_path / "runs")
    async with app.run_test(size=SIZE):
        runs, bad = app.store.summaries()
        app.main.panes.runs_view.show_runs("runs", runs, bad)
        table = app.query_one("#runs-table", DataTable)
        # Before the table is next idle (a freshly mounted one sometimes was not, and
        # showed a run's id as "202").
        widths = [column.get_render_width(table) for column in table.ordered_columns]
        assert widths[1] == len(runs[0].run_id) + 2 * table.cell_padding


async def test_keys_that_cannot_act_now_say_why(make_app: AppFactory) -> None:
    app = make_app(config=TrainConfig())
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await wait_for(lambda: app.data is not None, pilot)
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert any("Nothing is training" in text for text in notices(app))
        app.form_valid = False
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert any("Fix the marked fields" in text for text in notices(app))
        assert not app.training


async def test_a_key_during_training_says_a_training_runs(make_app: AppFactory) -> None:
    app = make_app(config=FAST.replace(epochs=1000))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await wait_for(lambda: app.data is not None, pilot)
        await pilot.press("ctrl+t")
        await wait_for(lambda: app.training, pilot)
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert any("A training is running" in text for text in notices(app))
        await pilot.press("ctrl+s")
        await wait_for(lambda: not app.training, pilot)


async def test_the_palette_offers_what_can_run_now_with_its_key(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(lambda: app.data is not None, pilot)
        commands = {command.title: command.help for command in app.get_system_commands(app.screen)}
        assert "Train" in commands and "^t" in commands["Train"]
        assert "Stop training" not in commands  # nothing to stop
        assert "Mistakes only" not in commands  # no run on show
        for useless in ("Screenshot", "Maximize", "Minimize"):
            assert useless not in commands
        assert {"Theme", "Quit"} <= set(commands)


async def test_quitting_mid_training_names_the_run_saved_after_the_save(
    make_app: AppFactory, tmp_path: Path
) -> None:
    app = make_app(config=FAST.replace(epochs=1000))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(lambda: app.data is not None, pilot)
        await pilot.press("ctrl+t")
        await wait_for(lambda: app.training, pilot)
        view = app.query_one(TrainingView)
        await wait_for(lambda: len(view.history) >= 1, pilot, timeout=120)  # a run to save
        assert app.training
        await pilot.press("ctrl+q")
    for _ in range(600):  # the worker finishes evaluating and saving after the app exits
        if app.farewell:
            break
        await asyncio.sleep(0.05)
    run = RunStore(tmp_path / "runs").load("latest")
    assert app.farewell is not None and run.run_id in app.farewell
    assert f"{run.test_accuracy:.2%}" in app.farewell and "stopped by you" in app.farewell


async def test_runs_can_be_found_marked_named_compared_and_deleted(
    make_app: AppFactory, tmp_path: Path, slice_data: MnistData
) -> None:
    runs_dir = tmp_path / "runs"
    for run_id, target in (("20261124-120000-mlp-aaaa", 0.9), ("20261124-130000-mlp-bbbb", 0.7)):
        write_fixed_run(runs_dir, slice_data, run_id=run_id, accuracy_target=target)
    shutil.copytree(runs_dir / "20261124-120000-mlp-aaaa", runs_dir / "copy-of-aaaa")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(lambda: app.data is not None, pilot)
        await pilot.press("5")
        view = app.query_one(RunsView)
        assert len(table_text(app)) == 3  # a copy lists beside its original
        await pilot.press("o")  # by accuracy, best first
        accuracies = [run.test_accuracy for run in view._runs]
        assert view.sort_key == "acc" and accuracies == sorted(accuracies, reverse=True)
        await pilot.press("slash", *"copy", "escape")
        assert [run.run_id for run in view._runs] == ["copy-of-aaaa"]
        await pilot.press("slash", *["backspace"] * 4, "escape")
        assert len(view._runs) == 3
        await pilot.press("n")  # name the run under the cursor
        assert isinstance(app.screen, AnnotateScreen)
        await pilot.press(*"best", "space", *"one")
        name = app.screen.query_one("#annotate-name", Input)
        assert name.value == "best one", (name.value, app.focused)
        await pilot.press("enter")
        await wait_for(lambda: any("best one" in row for row in table_text(app)), pilot)
        assert any(run.name == "best one" for run in RunStore(runs_dir).list()[0])
        view.table.move_cursor(row=0)
        await pilot.press("space", "space")  # two runs marked
        assert len(view.marked) == 2
        await pilot.press("c")
        await wait_for(lambda: isinstance(app.screen, CompareScreen), pilot)
        shown = " ".join(str(widget.render()) for widget in app.screen.query(Static))
        assert "right, B wrong:" in shown
        await pilot.press("escape")
        await pilot.press("d")  # the marked runs
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await wait_for(lambda: len(table_text(app)) == 1, pilot)
        assert len(RunStore(runs_dir).list()[0]) == 1


async def test_a_finished_run_does_not_replace_the_run_the_user_opened_meanwhile(
    make_app: AppFactory, tmp_path: Path, slice_data: MnistData
) -> None:
    write_fixed_run(tmp_path / "runs", slice_data, run_id="20261124-120000-mlp-aaaa")
    app = make_app(config=FAST.replace(epochs=1000))
    said: list[str] = []
    notify = app.notify
    app.notify = lambda message, **kw: (
        said.append(str(message)),  # type: ignore[method-assign]
        notify(message, **kw),
    )[1]
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await wait_for(lambda: app.data is not None, pilot)
        await pilot.press("ctrl+t")
        await wait_for(lambda: app.training, pilot)
        await pilot.press("5", "enter")  # open the saved run while training runs
        await wait_for(lambda: app.shown_run is not None, pilot)
        await pilot.press("4")
        assert "20261124-120000-mlp-aaaa" in str(
            app.main.panes.viewer.query_one("#viewer-title", Static).render()
        )
        assert app.training  # still training: the run was opened meanwhile
        await pilot.press("ctrl+s")
        await wait_for(lambda: not app.training, pilot)
        await pilot.pause()
        assert app.shown_run is not None and app.shown_run.run_id == "20261124-120000-mlp-aaaa"
        assert "20261124-120000-mlp-aaaa" in str(
            app.main.panes.viewer.query_one("#viewer-title", Static).render()
        )
        assert any("Still showing 20261124-120000-mlp-aaaa" in text for text in said), said


async def test_a_run_named_in_the_form_is_saved_with_its_name(
    make_app: AppFactory, tmp_path: Path
) -> None:
    app = make_app(config=FAST.replace(epochs=1))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await wait_for(lambda: app.data is not None, pilot)
        app.query_one("#run-name", Input).value = "first [try]"
        app.query_one("#run-note", Input).value = "a baseline"
        app.query_one("#run-tags", Input).value = "bad tag!"
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert not app.training and any("tags cannot be kept" in text for text in notices(app))
        app.query_one("#run-tags", Input).value = "base, mlp"
        await pilot.press("ctrl+t")
        await wait_for(lambda: app.shown_run is not None, pilot)
        run = RunStore(tmp_path / "runs").load("latest")
        assert (run.name, run.annotation.note, run.annotation.tags) == (
            "first [try]",
            "a baseline",
            ("base", "mlp"),
        )
        assert app.query_one("#run-name", Input).value == ""  # the next run needs its own
        await pilot.press("3")
        assert "first [try]" in str(app.query_one("#results-summary", Static).render())
        await pilot.press("5")
        assert any("first [try]" in row for row in table_text(app))
