"""The real app, driven headless through its whole journey on small real data."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from textual.widgets import Button, DataTable, Input, Select, Static
from textual.widgets._footer import FooterKey

from mnist_tui.core.data.mnist import DataError, MnistData
from mnist_tui.core.runs.store import RunStore
from mnist_tui.ui.app import MnistApp
from mnist_tui.ui.screens.dialogs import ConfirmScreen, ErrorScreen
from mnist_tui.ui.tabs.samples_view import SampleViewer
from mnist_tui.ui.tabs.setup_form import ConfigForm
from mnist_tui.ui.tabs.training_view import TrainingView
from mnist_tui.ui.widgets.line_chart import LineChart
from mnist_tui.ui.widgets.progress_lines import ProgressLines
from tests.ui.conftest import FAST, wait_for, write_fixed_run

SIZE = (120, 40)
AppFactory = Callable[..., MnistApp]


def text_of(app: MnistApp, selector: str) -> str:
    return str(app.query_one(selector, Static).render())


def footer_keys_off(app: MnistApp) -> dict[str, bool]:
    """Whether the footer shows the Train and Stop keys as unavailable."""
    return {
        key.action: key.has_class("-disabled")
        for key in app.query(FooterKey)
        if key.action in ("train", "stop")
    }


def epoch_table_lines(app: MnistApp) -> list[str]:
    """The data rows of the live epoch table, as a person reads them on screen."""
    lines = text_of(app, "#epoch-table").splitlines()
    return [line for line in lines[1:] if line.strip() and line.split()[0].isdigit()]


async def test_bad_value_blocks_training_until_fixed(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(lambda: app.data is not None, pilot)
        field = app.query_one("#field-hidden_units", Input)
        field.value = "128,abc"
        await pilot.pause()
        assert "whole numbers separated by commas" in text_of(app, "#hint-hidden_units")
        assert text_of(app, "#form-error") == (  # named and why: the field may be out of sight
            "Fix Hidden units to train: use whole numbers separated by commas, e.g. 256,128."
        )
        assert app.query_one("#train-button", Button).disabled
        assert app.check_action("train", ()) is None
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert not app.training
        app.query_one("#field-validation_split", Input).value = "0"
        app.query_one("#field-early_stopping_patience", Input).value = "3"
        field.value = "64"
        await pilot.pause()
        assert "needs a validation split" in text_of(app, "#hint-early_stopping_patience")
        app.query_one("#field-early_stopping_patience", Input).value = "0"
        await pilot.pause()
        assert not app.query_one("#train-button", Button).disabled
        assert app.query_one(ConfigForm).config == FAST.replace(validation_split=0.0)


async def test_typing_into_the_form(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.click("#field-epochs")
        await pilot.press("end", "ctrl+u", "x", "9")
        await pilot.pause()
        assert "'x9' is not a whole number" in text_of(app, "#hint-epochs")
        await pilot.press("backspace", "backspace", "3")
        await pilot.pause()
        config = app.query_one(ConfigForm).config
        assert config is not None and config.epochs == 3


async def test_presets_fill_the_form(make_app: AppFactory) -> None:
    from mnist_tui.core.config import PRESET_HINTS, PRESETS

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.query_one("#preset").value = "CNN"  # type: ignore[attr-defined]
        await pilot.pause()
        assert app.query_one(ConfigForm).config == PRESETS["CNN"]
        assert app.query_one("#field-conv_filters", Input).value == "16,32"
        assert app.query_one("#field-augment", Select).value == "on"
        app.query_one("#preset").value = "CNN quick"  # type: ignore[attr-defined]
        await pilot.pause()
        assert app.query_one(ConfigForm).config == PRESETS["CNN quick"]
        assert app.query_one("#field-epochs", Input).value == "1"
        hint = str(app.query_one("#preset-hint", Static).render())
        assert hint == f"{PRESET_HINTS['CNN quick']}, 2 cores" and "99" in hint
        app.query_one("#field-epochs", Input).focus()
        await pilot.press("end", "ctrl+u", "2")  # no preset any more: the hint says so
        await pilot.pause()
        assert str(app.query_one("#preset-hint", Static).render()) == (
            "start from a known-good recipe"
        )


async def test_train_results_samples_journey(make_app: AppFactory, tmp_path: Path) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(lambda: app.data is not None, pilot)
        await pilot.press("ctrl+t")
        assert app.query_one("#tabs").active == "training"  # type: ignore[attr-defined]
        await wait_for(lambda: not app.training, pilot, timeout=120)
        view = app.query_one(TrainingView)
        assert [row.epoch for row in view.history] == [1, 2]
        rows = epoch_table_lines(app)
        assert len(rows) == 2 and rows[1].split()[0] == "2"
        chart = app.query_one("#loss-plot", LineChart)
        train = next(line for line in chart.series if line.name == "train")
        assert [train.value_at(row.epoch) for row in view.history] == [
            row.loss for row in view.history
        ]  # each epoch's own figure at its end
        drawn = "".join(chart.render_line(y).text for y in range(chart.size.height))
        assert any("\u2800" < char <= "\u28ff" for char in drawn)  # braille dots: a line
        epoch_bar, overall_bar = app.query_one(ProgressLines).rows
        assert (epoch_bar.label, epoch_bar.done) == ("epoch 2/2", 1.0)
        assert overall_bar.done == 1.0 and "done in" in overall_bar.text
        status = text_of(app, "#train-status")
        assert "Saved to" in status and str(tmp_path / "runs") in status
        runs, _ = RunStore(tmp_path / "runs").list()
        assert len(runs) == 1 and runs[0].status == "completed"
        assert not app.query_one(ConfigForm).has_class("-locked")

        await pilot.press("3")
        assert "Test accuracy" in text_of(app, "#results-summary")
        assert app.query_one("#confusion", DataTable).row_count == 10
        assert app.query_one("#per-class", DataTable).row_count == 10

        await pilot.press("4")
        viewer = app.query_one(SampleViewer)
        assert viewer.current_index == 0 and len(viewer.selection) == 500
        await pilot.press("right", "right")
        assert viewer.current_index == 2
        await pilot.press("m")
        evaluation = viewer._evaluation
        assert evaluation is not None
        mistakes = list(evaluation.misclassified)
        assert list(viewer.selection) == mistakes  # most confident mistakes first
        assert "WRONG" in str(app.query_one("#digit-info", Static).render())
        await pilot.press("right")
        assert viewer.current_index == mistakes[1 % len(mistakes)]
        await pilot.press("t")  # true class 0 only
        assert all(evaluation.labels[i] == 0 for i in viewer.selection)
        await pilot.press("c", "g")
        await pilot.pause()
        assert "✓" in str(app.query_one("#digit-grid", Static).render())


async def test_long_lived_objects_frozen_and_each_runs_model_collected(
    make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gc
    import weakref

    import mnist_tui.core.session as session

    models: list[weakref.ref[object]] = []
    real = session.train_evaluate_save

    def spy(*args: object, **kwargs: object) -> session.SessionResult:
        result = real(*args, **kwargs)  # type: ignore[arg-type]
        models.append(weakref.ref(result.result.model))
        return result

    full_while_training: list[str] = []

    def on_collection(phase: str, info: dict[str, int]) -> None:
        if phase == "start" and info["generation"] == 2 and app.training:
            full_while_training.append(threading.current_thread().name)

    monkeypatch.setattr(session, "train_evaluate_save", spy)
    app = make_app(FAST.replace(epochs=1))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(lambda: app.device != "TensorFlow not loaded yet", pilot)
        assert gc.get_freeze_count() > 1000  # no full collection walks TensorFlow's objects
        gc.callbacks.append(on_collection)
        try:
            for _ in range(2):
                await pilot.press("ctrl+t")
                await wait_for(lambda: not app.training, pilot, timeout=120)
                await app.workers.wait_for_complete()
                await pilot.pause()
        finally:
            gc.callbacks.remove(on_collection)
        assert len(models) == 2
        assert [ref() for ref in models] == [None, None]  # collected, not frozen for good
        assert full_while_training == []  # full collections wait until the run is over


async def test_a_short_terminal_shows_the_newest_epochs(make_app: AppFactory) -> None:
    from mnist_tui.core.events import EpochEnd

    history = [
        EpochEnd(
            epoch=e,
            loss=1 / e,
            accuracy=1 - 1 / (e + 1),
            val_loss=None,
            val_accuracy=None,
            seconds=0.3,
        )
        for e in range(1, 13)
    ]
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("2")
        view = app.query_one(TrainingView)
        view.show_history(history, "a long run", planned=50)
        await pilot.pause()
        epoch_bar, overall_bar = app.query_one(ProgressLines).rows
        assert (epoch_bar.label, overall_bar.done) == ("epoch 12/50", 12 / 50)  # stopped early
        table = app.query_one("#epoch-table", Static)
        shown = view.region.bottom - table.region.y  # the lines not cut off at the bottom
        assert shown < table.size.height  # 24 rows leave the table less than its 8 lines
        lines = text_of(app, "#epoch-table").splitlines()
        rows = len(epoch_table_lines(app))
        assert lines == [lines[0], *lines[1 : rows + 1], f"(last {rows} of 12 epochs)"]
        assert len(lines) == shown and rows >= 1  # every line on screen, the newest last
        assert epoch_table_lines(app)[-1].split()[0] == "12"
        await pilot.press("4")  # an epoch ends while another tab is shown
        view.show_epoch(
            EpochEnd(
                epoch=13, loss=0.07, accuracy=0.93, val_loss=None, val_accuracy=None, seconds=0.3
            )
        )
        await pilot.press("2")
        await pilot.pause()
        assert len(text_of(app, "#epoch-table").splitlines()) == shown
        assert epoch_table_lines(app)[-1].split()[0] == "13"
        await pilot.resize_terminal(120, 40)
        await pilot.pause()
        assert len(epoch_table_lines(app)) == 6  # room again: the usual six


async def test_grid_rows_and_enlarging_the_current_digit(
    make_app: AppFactory, tmp_path: Path, slice_data: MnistData
) -> None:
    write_fixed_run(tmp_path / "runs", slice_data)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(lambda: app.data is not None, pilot)
        await pilot.press("5", "enter")
        await wait_for(lambda: app.shown_run is not None, pilot)
        await pilot.press("4", "g")
        await pilot.pause()
        viewer = app.query_one(SampleViewer)
        columns = viewer._grid_columns()
        assert columns > 1
        await pilot.press("down")
        assert viewer._position == columns  # a row down: the digit below
        await pilot.press("right", "up")
        assert viewer._position == 1
        await pilot.press("enter")
        await pilot.pause()
        assert not viewer.has_class("-grid") and viewer._position == 1  # that digit, large
        await pilot.press("down")
        assert viewer._position == 2  # in the large view a row is one digit


async def test_confusion_cell_opens_filtered_viewer(
    make_app: AppFactory, tmp_path: Path, slice_data: MnistData
) -> None:
    write_fixed_run(tmp_path / "runs", slice_data)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(lambda: app.data is not None, pilot)
        await pilot.press("5", "enter")
        await wait_for(lambda: app.query_one("#tabs").active == "results", pilot)  # type: ignore[attr-defined]
        confusion = app.query_one("#confusion", DataTable)
        assert app.shown_run is not None
        counts = app.shown_run.confusion.copy()
        np.fill_diagonal(counts, 0)
        true, pred = divmod(int(counts.argmax()), 10)  # the most frequent confusion
        assert counts[true, pred] > 0
        confusion.move_cursor(row=true, column=pred)
        await pilot.press("enter")
        await pilot.pause()
        viewer = app.query_one(SampleViewer)
        assert app.query_one("#tabs").active == "samples"  # type: ignore[attr-defined]
        assert len(viewer.selection) == counts[true, pred]
        evaluation = viewer._evaluation
        assert evaluation is not None
        for index in viewer.selection:
            assert (evaluation.labels[index], evaluation.predictions[index]) == (true, pred)


async def test_stop_mid_run_keeps_and_saves(make_app: AppFactory, tmp_path: Path) -> None:
    app = make_app(FAST.replace(epochs=1000))
    async with app.run_test(size=SIZE) as pilot:
        animation_level = app.animation_level
        await wait_for(lambda: app.data is not None, pilot)
        await pilot.press("ctrl+t")
        view = app.query_one(TrainingView)
        await wait_for(lambda: len(view.history) >= 1, pilot, timeout=120)
        assert app.training and app.check_action("train", ()) is None
        assert app.animation_level == "none"  # no animation frames compete with TensorFlow
        await wait_for(lambda: footer_keys_off(app) == {"train": True, "stop": False}, pilot)
        await pilot.press("1")  # the form is locked whenever it is seen during training
        assert app.query_one(ConfigForm).has_class("-locked")
        assert app.query_one("#field-epochs", Input).is_disabled
        await pilot.press("ctrl+t")  # a second training is impossible while one runs
        await pilot.press("ctrl+s")
        await wait_for(lambda: not app.training, pilot, timeout=60)
        runs, _ = RunStore(tmp_path / "runs").list()
        assert len(runs) == 1
        run = runs[0]
        assert run.status == "stopped" and 1 <= run.epochs_done < 300
        assert "stopped by you" in text_of(app, "#train-status")
        assert not app.query_one(ConfigForm).has_class("-locked")
        await wait_for(lambda: footer_keys_off(app) == {"train": False, "stop": True}, pilot)
        assert app.animation_level == animation_level  # the user's level is back


async def test_the_runs_cursor_stays_on_the_opened_run(
    make_app: AppFactory, tmp_path: Path, slice_data: MnistData
) -> None:
    from mnist_tui.ui.tabs.runs_view import RunsView

    for run_id in ("20261124-120000-mlp-aaaa", "20261124-130000-mlp-bbbb"):
        write_fixed_run(tmp_path / "runs", slice_data, run_id=run_id)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(lambda: app.data is not None, pilot)
        await pilot.press("5", "down")
        runs = app.query_one(RunsView)
        chosen = runs.selected
        assert chosen is not None and chosen.run_id == runs._runs[1].run_id
        await pilot.press("enter")
        await wait_for(lambda: chosen.run_id in text_of(app, "#results-summary"), pilot)
        await pilot.press("5")  # the list is read again when shown
        await pilot.pause()
        assert runs.selected is not None and runs.selected.run_id == chosen.run_id


async def test_open_delete_and_reuse_a_saved_run(
    make_app: AppFactory, tmp_path: Path, slice_data: MnistData
) -> None:
    runs_dir = tmp_path / "runs"
    write_fixed_run(runs_dir, slice_data, run_id="20261124-120000-mlp-aaaa")
    (runs_dir / "not-a-run").mkdir()
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(lambda: app.data is not None, pilot)
        await pilot.press("5")
        assert app.query_one("#runs-table", DataTable).row_count == 1
        assert "not a run" in text_of(app, "#runs-problems")
        await pilot.press("enter")
        await wait_for(
            lambda: "20261124-120000-mlp-aaaa" in text_of(app, "#results-summary"), pilot
        )
        assert len(epoch_table_lines(app)) == 3  # its history, no training

        await pilot.press("5", "s")
        assert app.query_one("#tabs").active == "setup"  # type: ignore[attr-defined]
        assert app.query_one("#field-epochs", Input).value == "3"

        await pilot.press("5", "d")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        assert (runs_dir / "20261124-120000-mlp-aaaa").exists()
        await pilot.press("d", "y")
        await pilot.pause()
        assert not (runs_dir / "20261124-120000-mlp-aaaa").exists()
        assert app.query_one("#runs-table", DataTable).row_count == 0
        # It was the run on show: its results, digits and curves are taken down.
        gone = "Run 20261124-120000-mlp-aaaa was deleted."
        assert text_of(app, "#results-summary") == gone
        assert app.query_one("#confusion", DataTable).row_count == 0
        assert text_of(app, "#viewer-position") == gone
        assert app.query_one(SampleViewer).current_index is None
        assert text_of(app, "#train-status") == gone and not epoch_table_lines(app)
        await pilot.press("4", "right", "m", "g")  # keys on an empty viewer do nothing
        assert text_of(app, "#viewer-position") == gone


async def test_missing_data_shows_what_was_tried(tmp_path: Path) -> None:
    def no_data(_say: object) -> MnistData:
        raise DataError("MNIST could not be loaded from any source.", ["cache: not found"])

    app = MnistApp(runs_dir=tmp_path, data_loader=no_data)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(lambda: isinstance(app.screen, ErrorScreen), pilot)
        await pilot.pause()
        shown = " ".join(str(s.render()) for s in app.screen.query(Static))
        assert "cache: not found" in shown and "--data PATH" in shown
        await pilot.press("escape")
        assert app.check_action("train", ()) is None
        assert "could not be loaded" in text_of(app, "#status-bar")


async def test_worker_failure_is_a_dialog_and_the_app_lives_on(
    make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mnist_tui.core.session as session

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("the GPU caught fire")

    monkeypatch.setattr(session, "train_evaluate_save", broken)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(lambda: app.data is not None, pilot)
        await pilot.press("ctrl+t")
        await wait_for(lambda: isinstance(app.screen, ErrorScreen), pilot)
        assert not app.training
        await pilot.press("escape")
        assert app.check_action("train", ()) is True


async def test_help_screen(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f1")
        assert type(app.screen).__name__ == "HelpScreen"
        await pilot.pause()
        from textual.containers import VerticalScroll

        scroll = app.screen.query_one(VerticalScroll)
        assert scroll.max_scroll_y > 0  # the key table is taller than the dialog
        await pilot.press("pagedown")
        await pilot.pause()
        assert scroll.scroll_y > 0  # the keys scroll it without a Tab first
        await pilot.press("escape")
        assert app.screen is app.main  # back on the tabs


async def test_the_theme_is_remembered_and_a_damaged_file_forgotten(make_app: AppFactory) -> None:
    from textual import constants

    from mnist_tui.core.paths import preferences_path

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        assert app.theme == constants.DEFAULT_THEME
        app.theme = "textual-light"  # as the command palette's theme picker does
        await pilot.pause()
    again = make_app()
    async with again.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert again.theme == "textual-light"
    preferences_path().write_text("{not json", encoding="utf-8")
    third = make_app()
    async with third.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert third.theme == constants.DEFAULT_THEME  # it starts all the same


async def test_stop_before_the_first_step_says_nothing_was_saved(
    make_app: AppFactory, tmp_path: Path
) -> None:
    app = make_app(FAST.replace(epochs=1))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(lambda: app.device != "TensorFlow not loaded yet", pilot)
        app.action_train()
        app.action_stop()  # before the worker has built the model (a key here would wait
        # for the process to go idle, and the small run would be over by then)
        await wait_for(lambda: not app.training, pilot, timeout=60)
        await pilot.pause()
        assert "nothing was trained, and no run was saved" in text_of(app, "#train-status")
        assert app.store.list() == ([], [])
        await pilot.press("ctrl+t")  # and the next run trains as usual
        await wait_for(lambda: not app.training, pilot, timeout=120)
        assert len(app.store.list()[0]) == 1


@pytest.mark.parametrize("tab", ["2", "3", "4", "5"])
async def test_closing_a_dialog_keeps_the_tab(make_app: AppFactory, tab: str) -> None:
    from textual.widgets import TabbedContent

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(tab)
        shown = app.query_one(TabbedContent).active
        assert shown != "setup"
        for opener in ("f1", "ctrl+p"):
            await pilot.press(opener)
            await pilot.pause()
            await pilot.press("escape")
            await pilot.pause()
            assert app.query_one(TabbedContent).active == shown, opener


async def test_escape_leaves_a_field_so_digits_switch_tabs(make_app: AppFactory) -> None:
    from textual.widgets import TabbedContent

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        units = app.query_one("#field-hidden_units", Input)
        units.focus()
        await pilot.pause()
        before = units.value
        await pilot.press("escape", "3")
        await pilot.pause()
        assert app.query_one(TabbedContent).active == "results"
        assert units.value == before  # the digit went to the app, not into the field


def test_ui_import_does_not_load_tensorflow() -> None:
    code = "import mnist_tui.ui.app, sys; print('tensorflow' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-I", "-c", code], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "False"


QUIT_SCRIPT = textwrap.dedent("""
    import asyncio, sys, time
    from pathlib import Path
    from mnist_tui.core.config import PRESETS
    from mnist_tui.core.data.mnist import MnistData, load_mnist
    from mnist_tui.ui.app import MnistApp

    full = load_mnist()
    data = MnistData(full.x_train[:3000], full.y_train[:3000], full.x_test[:500],
                     full.y_test[:500])
    app = MnistApp(config=PRESETS[sys.argv[2]].replace(epochs=500),
                   runs_dir=Path(sys.argv[1]), data_loader=lambda _say: data)

    async def main():
        async with app.run_test() as pilot:
            while app.data is None:
                await pilot.pause(0.05)
            await pilot.press("ctrl+t")
            view = app.query_one("#train-view")
            while not view.history:
                await pilot.pause(0.05)
            print(time.time(), flush=True)
            await pilot.press("ctrl+q")

    asyncio.run(main())
""")


@pytest.mark.parametrize("preset", ["seed MLP", "CNN quick", "CNN"])
def test_quit_mid_training_exits_promptly(tmp_path: Path, preset: str) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-I", "-c", QUIT_SCRIPT, str(tmp_path), preset],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    out, err = proc.communicate(timeout=180)
    ended = time.time()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    quit_at = float(out.strip().splitlines()[-1])
    assert ended - quit_at < 2.0
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no half run
    runs, bad = RunStore(tmp_path).list()
    assert not bad and [run.status for run in runs] == ["stopped"]  # what was learned is kept
