"""Issue 22 in the app, from the defaults a user gets: the Runs list at 80x24, steering
messages, ctrl+a, a stop mid-epoch, escape back to Compare, the sample grid, a smoothed
loss, the form's error at 80x24 and what the palette's Quit says."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, Static

from mnist_tui.core.config import PRESETS, TrainConfig
from mnist_tui.core.data.mnist import MnistData
from mnist_tui.core.runs.store import RUN_FILE, RunStore
from mnist_tui.ui.app import MnistApp
from mnist_tui.ui.screens.compare import CompareScreen
from mnist_tui.ui.screens.dialogs import ConfirmScreen
from mnist_tui.ui.screens.rate import RateScreen
from mnist_tui.ui.tabs.runs_view import RunsView
from mnist_tui.ui.tabs.samples_view import SampleViewer
from mnist_tui.ui.tabs.training_view import TrainingView
from mnist_tui.ui.widgets.footer import KeysFooter
from mnist_tui.ui.widgets.line_chart import LineChart
from tests.ui.conftest import grid_drawn, screen_lines, wait_for, write_fixed_run

AppFactory = Callable[..., MnistApp]
NARROW, ROOMY = (80, 24), (120, 40)
DEFAULTS = TrainConfig()


@pytest.fixture(autouse=True)
def one_step_per_call(monkeypatch: pytest.MonkeyPatch) -> None:
    """A compiled call per step and a tick after each: a run slow enough to steer."""
    from mnist_tui.core.engine import training

    monkeypatch.setattr(training, "TARGET_EXECUTION_FLOPS", 1)
    monkeypatch.setattr(training, "PROGRESS_INTERVAL", 0.0)


def fixed_run(
    runs_dir: Path,
    data: MnistData,
    run_id: str,
    *,
    accuracy: float = 0.9,
    name: str = "",
    **record: Any,
) -> Path:
    """A saved run (:func:`write_fixed_run`) with some of its ``run.json`` replaced."""
    folder = write_fixed_run(runs_dir, data, run_id=run_id, accuracy_target=accuracy)
    data_ = json.loads((folder / RUN_FILE).read_text())
    data_.update(record)
    (folder / RUN_FILE).write_text(json.dumps(data_))
    if name:
        RunStore(runs_dir).annotate(RunStore(runs_dir).load(run_id), name=name)
    return folder


def status(app: MnistApp) -> str:
    return str(app.query_one("#train-status", Static).render())


def toasts(app: MnistApp, text: str) -> list[str]:
    return [str(note.message) for note in app._notifications if text in str(note.message)]


def run_rows(app: MnistApp) -> list[str]:
    """The screen's rows that show a run of the Runs table."""
    return [line for line in screen_lines(app) if re.search(r"\d\d\.\d\d%", line)]


LONG = "50"
"""Epochs typed in the form, so that a loaded machine cannot end the run before a key."""


@contextlib.asynccontextmanager
async def steered(app: MnistApp, size: tuple[int, int]) -> AsyncIterator[Pilot[None]]:
    """``app.run_test``, whose training is let go at the end even if a check failed while
    it was paused (else it would wait for good)."""
    async with app.run_test(size=size) as pilot:
        try:
            yield pilot
        finally:
            if app.session is not None:
                app.session.stop_event.set()
                app.session.control.resume()


async def start(app: MnistApp, pilot: Pilot[None], steps: int = 2) -> None:
    """Type :data:`LONG` epochs into the form of defaults, train, and wait until ``steps``
    steps are on the rate chart."""
    await wait_for(lambda: app.data is not None, pilot)
    app.query_one("#field-epochs", Input).value = LONG
    await pilot.pause()
    await pilot.press("ctrl+t")
    chart = app.query_one("#rate-plot", LineChart)
    await wait_for(lambda: bool(chart.series) and len(chart.series[0].values) >= steps, pilot)


# --- 4. the Runs list --------------------------------------------------------------------


async def test_the_runs_list_fits_80_columns_and_shows_its_sort_column(
    make_app: AppFactory, tmp_path: Path, slice_data: MnistData
) -> None:
    runs_dir = tmp_path / "runs"
    fixed_run(runs_dir, slice_data, "20261124-120000-mlp-0001")
    fixed_run(
        runs_dir,
        slice_data,
        "20261124-130000-mlp-0002",
        status="stopped",
        config=PRESETS["deeper MLP"].to_dict(),
    )
    app = make_app(config=DEFAULTS)
    async with app.run_test(size=NARROW) as pilot:
        await wait_for(lambda: app.data is not None, pilot)
        await pilot.press("5")
        await pilot.pause()
        rows = run_rows(app)
        assert len(rows) == 2
        assert "stopped" in rows[0] and "done" in rows[1], rows  # the status column whole
        footer = screen_lines(app)[-1]
        for key in ("c Compare", "/ Filter", "o Sort", "n Name", "d Delete"):
            assert key in footer, footer
        footer_widget = app.query_one(KeysFooter)
        palette = next(key for key in footer_widget.children if key.has_class("-command-palette"))
        assert all(
            key.region.right <= palette.region.x
            for key in footer_widget.children
            if key is not palette
        )
        assert "space marks runs" in "".join(screen_lines(app)[3:5])  # not in the footer
        headers = {"loss": "test loss", "duration": "train time", "params": "params"}
        for key in ("acc", "loss", "duration", "params", "name"):
            await pilot.press("o")
            await pilot.pause()
            assert app.query_one(RunsView).sort_key == key
            header = next(line for line in screen_lines(app) if "test acc" in line)
            if key in headers:
                assert headers[key] in header, header
            assert not any(word in header for shown, word in headers.items() if shown != key)


async def test_marks_move_down_and_escape_clears_them(
    make_app: AppFactory, tmp_path: Path, slice_data: MnistData
) -> None:
    runs_dir = tmp_path / "runs"
    for number in range(3):
        fixed_run(
            runs_dir, slice_data, f"20261124-12000{number}-mlp-000{number}", name=f"run {number}"
        )
    app = make_app(config=DEFAULTS)
    async with app.run_test(size=ROOMY) as pilot:
        await wait_for(lambda: app.data is not None, pilot)
        await pilot.press("5")
        view = app.query_one(RunsView)
        assert "moves down" in app.screen.active_bindings["space"].binding.tooltip
        assert view.check_action("clear_marks", ()) is False  # escape is not ours: no marks
        await pilot.press("space", "space")
        assert [run.name for run in view.marked] == ["run 2", "run 1"]
        assert view.table.cursor_row == 2  # moved down with each mark
        await pilot.press("d")  # the cursor is on a run that is not marked
        await wait_for(lambda: isinstance(app.screen, ConfirmScreen), pilot)
        asked = " ".join(str(widget.render()) for widget in app.screen.query(Static))
        assert "run 2" in asked and "run 1" in asked
        assert "The marked runs, not run 0 (20261124-120000-mlp-0000) under the cursor" in asked
        await pilot.press("n")
        await pilot.press("slash", "r", "escape")  # escape in the filter leaves the marks
        assert len(view.marked) == 2 and view.table.has_focus
        await pilot.press("escape")
        assert view.marked == [] and "marked" not in screen_lines(app)[3]
        assert len(RunStore(runs_dir).list()[0]) == 3


async def test_a_run_quit_in_its_first_epoch_lists_as_under_one(
    make_app: AppFactory, tmp_path: Path, slice_data: MnistData
) -> None:
    folder = fixed_run(
        tmp_path / "runs", slice_data, "20261124-120000-mlp-0001", status="stopped", history=[]
    )
    record = json.loads((folder / RUN_FILE).read_text())
    record["steps"] = {name: values[:5] for name, values in record["steps"].items()}
    (folder / RUN_FILE).write_text(json.dumps(record))  # 5 of 8 ticks of epoch 1
    app = make_app(config=DEFAULTS)
    async with app.run_test(size=ROOMY) as pilot:
        await wait_for(lambda: app.data is not None, pilot)
        await pilot.press("5")
        await pilot.pause()
        assert " <1/3 " in run_rows(app)[0] and "0/3" not in run_rows(app)[0]
        await pilot.press("enter", "2")
        await pilot.pause()
        line = next(line for line in screen_lines(app) if "epoch 1/3" in line)
        assert "62%" in line, line  # where it stopped, not an empty or a full bar


# --- 6. steering -------------------------------------------------------------------------


async def test_steering_says_the_net_change_once_and_the_run_reads_as_steered(
    make_app: AppFactory,
) -> None:
    app = make_app(config=DEFAULTS)
    async with steered(app, ROOMY) as pilot:
        await start(app, pilot)
        await pilot.press("p")
        await wait_for(lambda: app.paused, pilot)
        assert app.session is not None
        rate = app.session.learning_rate  # on the cosine schedule: 0.00998… and more digits
        assert len(repr(rate)) > 8
        await pilot.press("minus", "plus")
        assert f"Learning rate stays {rate:.3g} when training resumes" in status(app)
        await pilot.press("r")
        await wait_for(lambda: isinstance(app.screen, RateScreen), pilot)
        field = app.screen.query_one(Input)
        assert field.value == f"{rate:.3g}"  # three significant digits
        await pilot.press("ctrl+a", *"0.003", "enter")  # ctrl+a: the typing replaces it
        await wait_for(lambda: not isinstance(app.screen, RateScreen), pilot)
        assert f"Learning rate {rate:.3g} → 0.003 when training resumes" in status(app)
        await pilot.press("minus")
        assert f"Learning rate {rate:.3g} → 0.0015 when training resumes" in status(app)
        await pilot.press("p")
        await wait_for(lambda: bool(toasts(app, "Learning rate now")), pilot)
        await pilot.pause(0.3)
        assert toasts(app, "Learning rate") == [toasts(app, "Learning rate now")[0]]
        assert "Learning rate now 0.0015" in toasts(app, "Learning rate")[0]
        await wait_for(lambda: not app.training and app.shown_run is not None, pilot)
        run = app.shown_run
        assert run is not None
        assert [(c.kind, round(c.value, 6)) for c in run.controls if c.kind != "resume"] == [
            ("pause", 0.0),
            ("learning_rate", 0.0015),
        ]
        assert "lr=0.01→0.0015" in run.summary
        await pilot.press("3")
        await pilot.pause()
        assert "lr=0.01→0.0015" in str(app.query_one("#results-summary", Static).render())
        await pilot.press("5")
        await pilot.pause()
        assert "lr=0.01→0.0015" in run_rows(app)[0]


async def test_the_palettes_quit_says_a_training_is_saved_first(make_app: AppFactory) -> None:
    app = make_app(config=DEFAULTS)
    async with steered(app, ROOMY) as pilot:

        def quit_help() -> str:
            return next(
                command.help
                for command in app.get_system_commands(app.screen)
                if command.title == "Quit"
            )

        await wait_for(lambda: app.data is not None, pilot)
        assert quit_help() == "Quit the application (^q)"
        await start(app, pilot)
        await pilot.press("p")
        await wait_for(lambda: app.paused, pilot)
        assert "as soon as possible" not in quit_help()
        assert "the running training is stopped and its run saved first" in quit_help()
        await pilot.press("ctrl+s")
        await wait_for(lambda: not app.training, pilot)


# --- 7. smaller things -------------------------------------------------------------------


async def test_ctrl_a_selects_a_field_so_typing_replaces_it(make_app: AppFactory) -> None:
    app = make_app(config=DEFAULTS)
    async with app.run_test(size=ROOMY) as pilot:
        field = app.query_one("#field-hidden_units", Input)
        field.focus()
        await pilot.press("end", "ctrl+a", *"256,64")
        assert field.value == "256,64"


async def test_a_stop_mid_epoch_shows_that_epoch_partly_done(make_app: AppFactory) -> None:
    app = make_app(config=DEFAULTS)
    async with steered(app, ROOMY) as pilot:
        view = app.query_one(TrainingView)
        await start(app, pilot)
        await wait_for(lambda: len(view.history) >= 1, pilot)
        await pilot.press("p")
        await wait_for(lambda: app.paused, pilot)
        last = view._last_batch
        assert last is not None
        if last.epoch == len(view.history) or last.step == last.steps:  # at an epoch's end
            await pilot.press("p")
            await wait_for(lambda: view._last_batch is not last, pilot)
            await pilot.press("p")
            await wait_for(lambda: app.paused, pilot)
        last = view._last_batch
        assert last is not None and last.step < last.steps
        await pilot.press("ctrl+s")
        await wait_for(lambda: not app.training and app.shown_run is not None, pilot)
        assert app.shown_run is not None and app.shown_run.epochs_done == last.epoch - 1
        await pilot.press("2")
        await pilot.pause()
        line = next(line for line in screen_lines(app) if "epoch " in line and "%" in line)
        assert f"epoch {last.epoch}/{LONG}" in line and "100%" not in line, line


async def test_escape_from_disagreements_goes_back_to_the_comparison(
    make_app: AppFactory, tmp_path: Path, slice_data: MnistData
) -> None:
    runs_dir = tmp_path / "runs"
    fixed_run(runs_dir, slice_data, "20261124-120000-mlp-0001", accuracy=0.9)
    fixed_run(runs_dir, slice_data, "20261124-130000-mlp-0002", accuracy=0.6)
    app = make_app(config=DEFAULTS)
    async with app.run_test(size=ROOMY) as pilot:
        await wait_for(lambda: app.data is not None, pilot)
        await pilot.press("5", "space", "space", "c")
        await wait_for(lambda: isinstance(app.screen, CompareScreen), pilot)
        await pilot.press("d")
        viewer = app.query_one(SampleViewer)
        await wait_for(lambda: viewer.comparing, pilot)
        assert app.query_one("#tabs").active == "samples"  # type: ignore[attr-defined]
        await pilot.press("escape")
        await wait_for(lambda: isinstance(app.screen, CompareScreen), pilot)
        assert not viewer.comparing
        await pilot.press("escape")
        await pilot.pause()
        assert app.query_one("#tabs").active == "runs"  # type: ignore[attr-defined]


async def test_the_grid_fills_its_rows_and_marks_the_current_digit(
    make_app: AppFactory, tmp_path: Path, slice_data: MnistData
) -> None:
    fixed_run(tmp_path / "runs", slice_data, "20261124-120000-mlp-0001")
    app = make_app(config=DEFAULTS)
    async with app.run_test(size=NARROW) as pilot:
        await wait_for(lambda: app.data is not None, pilot)
        await pilot.press("5", "enter")
        await wait_for(lambda: app.shown_run is not None, pilot)
        await pilot.press("4", "g", "right")
        await wait_for(lambda: grid_drawn(app), pilot)
        await pilot.pause()
        lines = screen_lines(app)
        grid = [line for line in lines if line.startswith(" █") and line.rstrip().endswith("█")]
        captions = [re.findall(r"(?<!\S)\d(?: ✓|→\d)", line) for line in grid]
        assert sum(len(found) for found in captions) == 8  # two rows of four at 80x24
        body = [line for line in grid if line.strip(" █")]
        assert len(body) == len(grid), "\n".join(lines)  # no empty row
        marked = [line for line in grid if "┃" in line]
        assert len(marked) == 7 and all(line.index("┃") == 18 for line in marked)


async def test_a_smoothed_runs_loss_says_where_its_floor_is(
    make_app: AppFactory, tmp_path: Path, slice_data: MnistData
) -> None:
    fixed_run(
        tmp_path / "runs",
        slice_data,
        "20261124-120000-cnn-0001",
        config=PRESETS["CNN quick"].to_dict(),
    )
    app = make_app(config=DEFAULTS)
    async with app.run_test(size=NARROW) as pilot:
        await wait_for(lambda: app.data is not None, pilot)
        await pilot.press("5", "enter")
        await wait_for(lambda: app.shown_run is not None, pilot)
        await pilot.press("2")
        await pilot.pause()
        assert any("loss (smoothed: ≥0.50)" in line for line in screen_lines(app))


async def test_a_form_error_is_seen_at_80x24(make_app: AppFactory) -> None:
    app = make_app(config=DEFAULTS)
    async with app.run_test(size=NARROW) as pilot:
        await wait_for(lambda: app.data is not None, pilot)
        app.query_one("#field-hidden_units", Input).value = ",".join(["8192"] * 8)
        batch = app.query_one("#field-batch_size", Input)
        batch.focus()
        await pilot.press("ctrl+a", *"8192")
        await pilot.pause(0.2)
        shown = "\n".join(screen_lines(app))
        assert "Batch size" in shown, shown  # the field typed in, on screen
        assert "Fix Hidden units to train: needs about" in shown  # why Train is off, too
