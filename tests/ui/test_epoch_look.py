"""The Results tab's look inside each epoch: the validation confusion matrix and
per-digit accuracy while a run trains, and each digit's accuracy by epoch after."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from textual.widgets import DataTable, Input, Static

from mnist_tui.core.config import PRESETS
from mnist_tui.ui.app import MnistApp
from mnist_tui.ui.tabs.results_view import NEEDS_SPLIT, ResultsView
from mnist_tui.ui.tabs.setup_form import ConfigForm
from tests.ui.conftest import screen_lines, wait_for

SIZE = (120, 40)
AppFactory = Callable[..., MnistApp]
DIGITS = [str(digit) for digit in range(10)]


def text_of(app: MnistApp, selector: str) -> str:
    return str(app.query_one(selector, Static).render())


@pytest.fixture
def epoch_two_waits(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Epoch 2's validation pass waits until the returned event is set, so the test can
    look at epoch 1's while the run is still training."""
    from mnist_tui.core.engine import training

    gate = threading.Event()
    real = training.measure_validation
    calls: list[int] = []

    def gated(*args: Any) -> Any:
        calls.append(1)
        if len(calls) == 2:
            gate.wait(60)
        return real(*args)

    monkeypatch.setattr(training, "measure_validation", gated)
    return gate


async def test_the_results_tab_looks_inside_each_epoch(
    make_app: AppFactory, epoch_two_waits: threading.Event
) -> None:
    app = make_app(config=PRESETS["seed MLP"])
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(lambda: app.data is not None, pilot)
        form = app.query_one(ConfigForm)
        assert form.config == PRESETS["seed MLP"] and app.query_one("#preset").value == ("seed MLP")  # type: ignore[attr-defined]
        await pilot.click("#field-validation_split")
        await pilot.press("end", "ctrl+u", *"0.1")
        await pilot.pause()
        assert app.query_one("#field-validation_split", Input).value == "0.1"
        assert form.config == PRESETS["seed MLP"].replace(validation_split=0.1)
        try:
            await pilot.press("ctrl+t", "3")
            view = app.query_one(ResultsView)
            confusion = app.query_one("#confusion", DataTable)
            await wait_for(lambda: confusion.row_count == 10, pilot)
            # Epoch 1's look, while epoch 2 waits: labelled as validation, not test.
            assert app.training
            assert text_of(app, "#confusion-caption").startswith(
                "Confusion matrix (validation, epoch 1)"
            )
            assert "validation, epoch 1" in text_of(app, "#per-class-caption")
            summary = text_of(app, "#results-summary")
            epochs = PRESETS["seed MLP"].epochs
            assert summary.startswith(f"Validation, epoch 1 of {epochs}") and "Test" not in summary
            (epoch,) = view.live_epochs
            assert epoch.val_confusion is not None
            shown = [
                [int(str(confusion.get_cell_at((row, col))).replace("·", "0")) for col in range(10)]
                for row in range(10)
            ]
            assert shown == [list(row) for row in epoch.val_confusion]
            assert sum(map(sum, shown)) == 300  # a tenth of the 3,000 digits held out
            recalls = [
                str(cells[2])
                for cells in (
                    app.query_one("#per-class", DataTable).get_row_at(r) for r in range(10)
                )
            ]
            diagonal = [shown[d][d] / sum(shown[d]) for d in range(10)]
            assert recalls == [f"{accuracy:.3f}" for accuracy in diagonal]
            assert "validation digits" in text_of(app, "#confusion-cell")
            chart = view.digit_chart
            assert chart.display and [line.marker for line in chart.series] == DIGITS
            assert all(line.xs == (1.0,) for line in chart.series)
            assert any("validation, epoch 1" in line for line in screen_lines(app))
            await pilot.press("enter")  # validation digits are not the test digits: no jump
            assert app.query_one("#tabs").active == "results"  # type: ignore[attr-defined]
        finally:
            epoch_two_waits.set()
        await wait_for(lambda: not app.training, pilot, timeout=120)
        await pilot.pause()
        # The run's test results replace the look; the chart of all five epochs stays.
        assert text_of(app, "#results-summary").splitlines()[1].startswith("Test accuracy")
        assert text_of(app, "#confusion-caption").startswith("Confusion matrix: rows true")
        chart = view.digit_chart
        assert chart.display and len(chart.series) == 10
        assert [line.marker for line in chart.series] == DIGITS
        assert all(
            line.xs == tuple(float(e) for e in range(1, PRESETS["seed MLP"].epochs + 1))
            for line in chart.series
        )
        drawn = "".join(chart.render_line(y).text for y in range(chart.size.height))
        assert sum(digit in drawn for digit in DIGITS) >= 5  # the digits mark the lines
        after_training = chart.series
        await pilot.press("5", "enter")  # reopened from the Runs tab: the same chart
        await wait_for(lambda: app.query_one("#tabs").active == "results", pilot)  # type: ignore[attr-defined]
        await pilot.pause()
        assert view.digit_chart.series == after_training


async def test_without_a_split_one_line_says_what_it_needs(make_app: AppFactory) -> None:
    app = make_app(config=PRESETS["seed MLP"].replace(epochs=1))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(lambda: app.data is not None, pilot)
        await pilot.press("ctrl+t", "3")
        assert NEEDS_SPLIT in [line.strip() for line in screen_lines(app)]
        assert not app.query_one(ResultsView).digit_chart.display
        await wait_for(lambda: not app.training, pilot, timeout=120)
        await pilot.pause()
        assert text_of(app, "#results-summary").splitlines()[1].startswith("Test accuracy")
        assert text_of(app, "#digit-note") == NEEDS_SPLIT
        assert not app.query_one(ResultsView).digit_chart.display
