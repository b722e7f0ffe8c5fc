"""The Training tab's curves: they move within an epoch, and read back a saved run."""

from __future__ import annotations

from collections.abc import Callable

from textual.app import App, ComposeResult

from mnist_tui.core.events import BatchProgress, EpochEnd, StepPoint, TrainingStarted
from mnist_tui.ui.app import MnistApp
from mnist_tui.ui.tabs.training_view import TrainingView
from mnist_tui.ui.widgets.line_chart import LineChart

STARTED = TrainingStarted(
    epochs=2, steps_per_epoch=100, train_samples=1000, val_samples=100, param_count=10, device="CPU"
)


def point(step: int, loss: float, rate: float = 0.001) -> StepPoint:
    epoch = (step - 1) // 100 + 1
    return StepPoint(
        step=step,
        samples=step * 10,
        epoch=epoch,
        loss=loss + 0.1,
        loss_mean=loss,
        accuracy=0.5,
        accuracy_mean=0.6,
        learning_rate=rate,
    )


def progress(step: int, loss: float, rate: float = 0.001) -> BatchProgress:
    return BatchProgress(
        epoch=(step - 1) // 100 + 1,
        step=(step - 1) % 100 + 1,
        steps=100,
        loss=loss,
        accuracy=0.6,
        samples_per_second=100.0,
        epoch_seconds=1.0,
        point=point(step, loss, rate),
    )


class ViewApp(App[None]):
    def compose(self) -> ComposeResult:
        yield TrainingView(id="view")


def series(app: App[None], chart: str) -> dict[str, tuple[tuple[float, ...], tuple[float, ...]]]:
    return {
        line.name: (line.xs, line.values)
        for line in app.query_one(f"#{chart}-plot", LineChart).series
    }


async def test_the_loss_moves_within_the_first_epoch_raw_beside_the_running_mean() -> None:
    app = ViewApp()
    async with app.run_test(size=(120, 40)) as pilot:
        view = app.query_one(TrainingView)
        view.show_started(STARTED)
        view.show_batch(progress(25, 2.0))
        view.show_batch(progress(50, 1.5))
        await pilot.pause()
        loss = series(app, "loss")
        assert loss["train"] == ((0.25, 0.5), (2.0, 1.5))  # fractions of the first epoch
        assert loss["raw"] == ((0.25, 0.5), (2.1, 1.6))
        chart = app.query_one("#loss-plot", LineChart)
        assert next(line for line in chart.series if line.name == "raw").faint
        drawn = "".join(chart.render_line(y).text for y in range(chart.size.height))
        assert any("\u2800" < char <= "\u28ff" for char in drawn)  # a line before epoch 1 ends
        assert series(app, "rate")["rate"] == ((0.25, 0.5), (0.001, 0.001))
        view.show_epoch(
            EpochEnd(epoch=1, loss=1.2, accuracy=0.7, val_loss=1.3, val_accuracy=0.65, seconds=1.0)
        )
        await pilot.pause()
        loss = series(app, "loss")
        assert loss["train"] == ((0.25, 0.5, 1.0), (2.0, 1.5, 1.2))  # the epoch's figure
        assert loss["val"] == ((1.0,), (1.3,))


async def test_a_reopened_run_shows_its_saved_steps_and_learning_rate() -> None:
    app = ViewApp()
    async with app.run_test(size=(120, 40)) as pilot:
        view = app.query_one(TrainingView)
        history = [
            EpochEnd(epoch=1, loss=1.0, accuracy=0.7, val_loss=None, val_accuracy=None, seconds=1.0)
        ]
        view.show_history(
            history,
            "Saved run",
            planned=1,
            steps=(point(50, 1.5, 0.002), point(100, 1.0, 0.001)),
            train_samples=1000,
        )
        await pilot.pause()
        assert series(app, "loss")["train"] == ((0.5, 1.0, 1.0), (1.5, 1.0, 1.0))
        assert series(app, "rate")["rate"] == ((0.5, 1.0), (0.002, 0.001))
        assert app.query_one("#rate-plot").display


async def test_a_narrow_terminal_drops_the_rate_chart_not_the_loss(
    make_app: Callable[..., MnistApp],
) -> None:
    for width, shown in ((120, True), (80, False)):
        app = make_app()
        async with app.run_test(size=(width, 24)) as pilot:
            await pilot.press("2")
            await pilot.pause()
            assert app.query_one("#rate-plot").display is shown
            assert app.query_one("#loss-plot").region.width >= 30
