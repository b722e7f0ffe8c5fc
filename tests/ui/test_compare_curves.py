"""The Compare screen's curves: every marked run overlaid, by epoch or by samples seen."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from mnist_tui.core.data.mnist import MnistData
from mnist_tui.ui.app import MnistApp
from mnist_tui.ui.screens.compare import CompareScreen
from mnist_tui.ui.tabs.runs_view import RunsView
from mnist_tui.ui.widgets.compare_curves import CompareCurves
from mnist_tui.ui.widgets.line_chart import LineChart
from tests.ui.conftest import wait_for, write_fixed_run

RUNS = (
    ("20261124-120000-mlp-aaaa", 0.9),
    ("20261124-130000-mlp-bbbb", 0.7),
    ("20261124-140000-mlp-cccc", 0.8),
)


async def open_compare(app: MnistApp, pilot: object) -> CompareScreen:
    await wait_for(lambda: app.data is not None, pilot)
    await pilot.press("5")  # type: ignore[attr-defined]
    app.query_one(RunsView).table.move_cursor(row=0)
    await pilot.press("space", "space", "space", "c")  # type: ignore[attr-defined]
    await wait_for(lambda: isinstance(app.screen, CompareScreen), pilot)
    assert isinstance(app.screen, CompareScreen)
    return app.screen


async def test_the_compared_runs_are_overlaid_by_epoch_then_by_samples(
    make_app: Callable[..., MnistApp], tmp_path: Path, slice_data: MnistData
) -> None:
    for run_id, target in RUNS:
        write_fixed_run(tmp_path / "runs", slice_data, run_id=run_id, accuracy_target=target)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_compare(app, pilot)
        loss = screen.query_one("#compare-loss", LineChart)
        names = [line.name for line in loss.series]
        assert names == ["A train", "A val", "B train", "B val", "C train", "C val"]
        assert [line.marker for line in loss.series] == ["A", "a", "B", "b", "C", "c"]
        assert len({line.colour for line in loss.series}) == 3  # a colour per run
        assert all(line.dashed for line in loss.series if line.name.endswith("val"))
        await pilot.pause()
        legend = loss.render_line(0).text.split()
        assert legend[:4] == ["loss", "A━━", "A", "B━━"]  # the letter, not the long name
        assert loss.series[0].xs == (1.0, 2.0, 3.0)
        per_epoch = len(slice_data.x_train)  # no validation split in the fixed runs
        await pilot.press("x")
        await pilot.pause()
        assert loss.x_label == "samples seen"
        train = loss.series[0]
        assert train.xs[-1] == 3 * per_epoch and len(train.xs) > 3  # the steps join in
        assert loss.series[1].xs == tuple(float(e * per_epoch) for e in (1, 2, 3))
        await pilot.press("x")
        assert screen.query_one(CompareCurves).x_axis == "epoch"


async def test_the_readout_names_each_run_at_the_cursor(
    make_app: Callable[..., MnistApp], tmp_path: Path, slice_data: MnistData
) -> None:
    for run_id, target in RUNS[:2]:
        write_fixed_run(tmp_path / "runs", slice_data, run_id=run_id, accuracy_target=target)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(lambda: app.data is not None, pilot)
        await pilot.press("5")
        app.query_one(RunsView).table.move_cursor(row=0)
        await pilot.press("space", "space", "c")
        await wait_for(lambda: isinstance(app.screen, CompareScreen), pilot)
        accuracy = app.screen.query_one("#compare-accuracy", LineChart)
        accuracy.focus()
        await pilot.press("home", "right")
        await pilot.pause()
        shown = " ".join(accuracy.render_line(y).text for y in range(3)).split()
        assert shown[:14] == [
            "epoch",
            "2",
            "A",
            "train",
            "0.9000",
            "A",
            "val",
            "0.8800",
            "B",
            "train",
            "0.9000",
            "B",
            "val",
            "0.8800",
        ]
