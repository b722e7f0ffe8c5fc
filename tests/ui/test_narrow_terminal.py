"""A new user's first try in a plain 80x24 terminal (and a roomier 120x40), as seen on screen."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.widgets import TabbedContent
from textual.widgets._footer import FooterKey

from mnist_tui.core.config import TrainConfig
from mnist_tui.core.data.mnist import MnistData
from mnist_tui.core.events import BatchProgress, EpochEnd, TrainingStarted
from mnist_tui.ui.app import MnistApp
from mnist_tui.ui.tabs.training_view import TrainingView
from mnist_tui.ui.widgets.footer import KeysFooter, key_cells
from mnist_tui.ui.widgets.line_chart import LineChart
from mnist_tui.ui.widgets.progress_lines import Figure, ProgressLines, fit_row
from tests.ui.conftest import FAST, screen_lines, wait_for, write_fixed_run

AppFactory = Callable[..., MnistApp]
NARROW, ROOMY = (80, 24), (120, 40)
ACCURACY = re.compile(r"acc \d\.\d{3}$")
"""A running accuracy, whole, at the end of a progress line."""


def line_with(app: MnistApp, text: str) -> str:
    """The first row of the screen that holds ``text``."""
    return next(line for line in screen_lines(app) if text in line)


STARTED = TrainingStarted(
    epochs=5,
    steps_per_epoch=235,
    train_samples=60_000,
    val_samples=0,
    param_count=101_770,
    device="CPU",
)
BATCH = BatchProgress(
    epoch=2,
    step=117,
    steps=235,
    loss=0.23456,
    accuracy=0.93219,
    samples_per_second=12_345.6,
    epoch_seconds=2.4,
)


FIGURES = (
    Figure("steps", "117/235"),
    Figure("throughput", "12,346/s"),
    Figure("eta", "ETA 0:02"),
    Figure("loss", "loss 0.235"),
    Figure("accuracy", "acc 0.932"),
)


@pytest.mark.parametrize(
    ("room", "bar", "kept"),
    [
        (100, 32, ("steps", "throughput", "eta", "loss", "accuracy")),  # everything, a full bar
        (64, 12, ("steps", "throughput", "eta", "loss", "accuracy")),  # the bar shrinks first
        (60, 17, ("throughput", "eta", "loss", "accuracy")),  # then the counts go, the bar regrows
        (45, 12, ("eta", "loss", "accuracy")),  # then the throughput
        (40, 7, ("eta", "loss", "accuracy")),  # then the bar goes below its minimum
        (32, 9, ("loss", "accuracy")),  # then the ETA goes (and what it left, the bar takes)
        (12, 1, ("accuracy",)),  # then the loss; the accuracy stays
        (5, 0, ("accuracy",)),  # (and is cut only when nothing else is left)
    ],
)
def test_fit_row_gives_way_in_order(room: int, bar: int, kept: tuple[str, ...]) -> None:
    from mnist_tui.ui.tabs.training_view import GIVE_WAY

    width, figures = fit_row(FIGURES, room, GIVE_WAY, bar_width=32, min_bar_width=12)
    assert (width, tuple(figure.name for figure in figures)) == (bar, kept)


@pytest.mark.parametrize("size", [NARROW, ROOMY])
async def test_the_epoch_line_keeps_loss_accuracy_and_eta_whole(
    make_app: AppFactory, size: tuple[int, int]
) -> None:
    app = make_app(config=TrainConfig())
    async with app.run_test(size=size) as pilot:
        await pilot.press("2")
        view = app.query_one(TrainingView)
        view.show_started(STARTED)
        view.show_batch(BATCH)
        await pilot.pause()
        line = line_with(app, "epoch 2/5").rstrip()
        assert line.endswith("ETA 0:02  loss 0.235  acc 0.932")  # the figures a user needs
        bar = max(re.findall(r"[━╸]+", line), key=len)
        assert len(bar) >= ProgressLines.MIN_BAR_WIDTH
        if size == ROOMY:  # room for everything: the counts and the throughput too
            assert "117/235  12,346/s  ETA" in line and len(bar) == ProgressLines.BAR_WIDTH
        overall = line_with(app, "overall").rstrip()
        assert re.search(r"\d+:\d\d elapsed  ETA \d+:\d\d$", overall)


async def test_figures_give_way_whole_in_a_designed_order(make_app: AppFactory) -> None:
    app = make_app(config=TrainConfig())
    async with app.run_test(size=NARROW) as pilot:
        await pilot.press("2")
        view = app.query_one(TrainingView)
        view.show_started(STARTED)
        view.show_batch(BATCH)
        seen = []
        for width in (120, 90, 80, 70, 60, 50, 40):
            await pilot.resize_terminal(width, 24)
            await pilot.pause()
            seen.append(line_with(app, "epoch 2/5").rstrip())
        steps, rate, eta, loss = (" 117/235", "12,346/s", "ETA 0:02", "loss 0.235")
        gone = [[figure not in line for figure in (steps, rate, eta, loss)] for line in seen]
        for before, after in itertools.pairwise(gone):  # once gone, gone for good
            assert all(a or not b for a, b in zip(after, before, strict=True))
        assert gone[0] == [False] * 4 and any(g[0] and not g[1] for g in gone)  # counts first
        for line in seen:  # whatever is left is whole: each line ends in a whole figure
            assert re.search(r"(\d+%|\d+/\d+|/s|\d:\d\d|acc \d\.\d{3})$", line), line
        assert all("acc 0.932" in line for line in seen[:6])  # down to 50 columns


@pytest.mark.parametrize("size", [NARROW, ROOMY])
async def test_a_real_training_reads_whole_at_each_size(
    make_app: AppFactory, size: tuple[int, int]
) -> None:
    app = make_app(config=TrainConfig())  # what a user gets: the seed MLP's default run
    async with app.run_test(size=size) as pilot:
        await wait_for(lambda: app.data is not None, pilot)
        view = app.query_one(TrainingView)
        progress = app.query_one(ProgressLines)
        lines: list[str] = []

        def spy(show: Callable[[object], None]) -> Callable[[object], None]:
            def shown(event: object) -> None:
                show(event)
                lines.append(progress.render_line(0).text.rstrip())  # what is painted

            return shown

        view.show_batch = spy(view.show_batch)  # type: ignore[method-assign,assignment]
        view.show_epoch = spy(view.show_epoch)  # type: ignore[method-assign,assignment]
        await pilot.press("ctrl+t")
        await wait_for(lambda: not app.training, pilot, timeout=120)
        await pilot.pause()
        epochs = TrainConfig().epochs  # a line at each epoch's end, and ticks within
        assert len(lines) > epochs and all(ACCURACY.search(line) for line in lines), lines
        last = view.history[-1]
        assert f"acc {last.accuracy:.3f}" in line_with(app, f"epoch {epochs}/{epochs}")  # kept
        for chart in [chart for chart in view.query(LineChart) if chart.display]:
            assert chart.plot_rows >= 8, (chart.id, chart.plot_rows)
            top = chart.render_line(1).text
            assert re.match(r"\s*\d+\.\d+ ┤", top), top  # the y axis is labelled
            assert "epoch" in chart.render_line(chart.size.height - 1).text  # and the x axis
        table = [line for line in screen_lines(app) if re.match(rf"\s*{epochs}\s+0\.\d{{4}}", line)]
        assert table, "the newest epoch shows in the table"


async def test_a_saved_run_shows_its_last_epochs_figures(make_app: AppFactory) -> None:
    history = [
        EpochEnd(
            epoch=e,
            loss=0.5 / e,
            accuracy=0.8 + 0.05 * e,
            val_loss=None,
            val_accuracy=None,
            seconds=1.0,
        )
        for e in (1, 2, 3)
    ]
    app = make_app()
    async with app.run_test(size=NARROW) as pilot:
        await pilot.press("2")
        app.query_one(TrainingView).show_history(history, "a saved run", planned=3)
        await pilot.pause()
        assert line_with(app, "epoch 3/3").rstrip().endswith("loss 0.167  acc 0.950")


def footer_line(app: MnistApp) -> str:
    return screen_lines(app)[-1]


def assert_every_key_whole(app: MnistApp) -> None:
    """Each key the footer shows is wholly on screen, left of the palette key."""
    footer = app.query_one(KeysFooter)
    keys = [key for key in footer.query(FooterKey) if key.display]
    palette = next(key for key in keys if key.has_class("-command-palette"))
    for key in keys:
        width = key_cells(key.key_display, key.description, footer.compact)
        if key is palette:  # always drawn compact, after its border (and a pad if not)
            width = key_cells(key.key_display, key.description, True) + 2 - footer.compact
        assert key.outer_size.width == width
        if key is not palette:
            assert key.region.right <= palette.region.x, key.description


TABS = ("setup", "training", "results", "samples", "runs")


async def test_the_footer_keeps_the_apps_keys_on_every_tab(
    make_app: AppFactory, tmp_path: Path, slice_data: MnistData
) -> None:
    write_fixed_run(tmp_path / "runs", slice_data)
    app = make_app(config=TrainConfig())
    async with app.run_test(size=NARROW) as pilot:
        await wait_for(lambda: app.data is not None, pilot)
        await pilot.press("5", "enter")  # a run on show: every tab has its content
        await wait_for(lambda: app.query_one(TabbedContent).active == "results", pilot)
        for number, tab in enumerate(TABS, 1):
            await pilot.press("escape", str(number))
            await pilot.pause()
            assert app.query_one(TabbedContent).active == tab
            line = footer_line(app)
            # Stop, which cannot act with nothing training, gives way to a tab's own keys.
            for word in ("Quit", "Help", "Train", "palette"):
                assert word in line, (tab, line)
            if tab == "samples":
                assert "Next" in line  # then the tab's own keys, as space allows
            assert_every_key_whole(app)


async def test_the_footer_while_training_and_in_very_narrow_terminals(make_app: AppFactory) -> None:
    app = make_app(FAST.replace(epochs=1000))  # still training when the checks end
    async with app.run_test(size=NARROW) as pilot:
        await wait_for(lambda: app.data is not None, pilot)
        await pilot.press("ctrl+t")
        await wait_for(lambda: len(app.query_one(TrainingView).history) >= 1, pilot, timeout=120)
        for number in range(1, 6):
            await pilot.press(str(number))
            await pilot.pause(0.1)
            line = footer_line(app)
            assert all(word in line for word in ("Quit", "Help", "Stop")), line
        await pilot.resize_terminal(40, 24)  # too narrow for both: Stop (on) before Train (off)
        await pilot.pause(0.2)
        line = footer_line(app)
        assert all(word in line for word in ("Quit", "Help", "Stop", "palette")), line
        assert "Train" not in line
        assert_every_key_whole(app)
        await pilot.press("ctrl+s")
        await wait_for(lambda: not app.training, pilot, timeout=60)
        await pilot.pause(0.2)
        line = footer_line(app)
        assert all(word in line for word in ("Quit", "Help", "Train")) and "Stop" not in line
