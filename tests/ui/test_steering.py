"""Steering a running training from the app: pause and resume, learning-rate keys."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
from textual.pilot import Pilot
from textual.widgets import Static

from mnist_tui.ui.app import MnistApp
from mnist_tui.ui.tabs.training_view import TrainingView
from mnist_tui.ui.widgets.line_chart import LineChart
from tests.ui.conftest import FAST, screen_lines, wait_for

AppFactory = Callable[..., MnistApp]
STEERED = FAST.replace(epochs=30, lr_schedule="constant", learning_rate=0.01)
"""Long enough that a loaded machine's UI lag cannot let the run end before a key lands."""


@pytest.fixture(autouse=True)
def one_step_per_call(monkeypatch: pytest.MonkeyPatch) -> None:
    """A compiled call per step and frequent ticks: a run long enough to steer."""
    from mnist_tui.core.engine import training

    monkeypatch.setattr(training, "TARGET_EXECUTION_FLOPS", 1)
    monkeypatch.setattr(training, "PROGRESS_INTERVAL", 0.0)


def rates(app: MnistApp) -> tuple[float, ...]:
    """The learning rates on the Training tab's chart."""
    series = app.query_one("#rate-plot", LineChart).series
    return series[0].values if series else ()


def status(app: MnistApp) -> str:
    return str(app.query_one("#train-status", Static).render())


def said(app: MnistApp, text: str) -> bool:
    """``text`` is on the status line or in a notification."""
    return text in status(app) or any(text in n.message for n in app._notifications)


async def train_until(app: MnistApp, pilot: Pilot[None], steps: int) -> None:
    """Press ctrl+t (once the data is in) and wait until ``steps`` rates are on the chart."""
    await wait_for(lambda: app.data is not None, pilot)
    await pilot.press("ctrl+t")
    await wait_for(lambda: len(rates(app)) >= steps, pilot)


async def test_pause_holds_the_run_and_resume_finishes_it(make_app: AppFactory) -> None:
    app = make_app(config=STEERED)
    async with app.run_test(size=(120, 40)) as pilot:
        await train_until(app, pilot, 2)
        assert isinstance(app.focused, TrainingView)
        await pilot.press("p")
        await wait_for(lambda: app.paused and "Paused" in status(app), pilot)
        await pilot.pause()  # the paused view drawn
        held = len(rates(app))
        assert "Paused" in status(app)
        assert any("paused" in line for line in screen_lines(app))  # the progress line
        assert "paused" in str(app.query_one("#status-bar", Static).render())
        await pilot.pause(0.8)
        assert len(rates(app)) == held  # no step while paused
        assert app.training
        await pilot.press("p")
        await wait_for(lambda: not app.training and app.shown_run is not None, pilot)
        run = app.shown_run
        assert run is not None and run.status == "completed" and run.epochs_done == STEERED.epochs
        assert len(rates(app)) > held
        assert [c.kind for c in run.controls] == ["pause", "resume"]
        assert run.controls[1].value >= 0.8  # seconds paused, recorded
        assert run.train_seconds < sum(row.seconds for row in run.history) + 0.75


async def test_halving_the_rate_shows_on_the_chart(make_app: AppFactory) -> None:
    app = make_app(config=STEERED)
    async with app.run_test(size=(120, 40)) as pilot:
        await train_until(app, pilot, 2)
        assert rates(app)[-1] == pytest.approx(0.01)
        await pilot.press("minus")
        await wait_for(lambda: said(app, "Learning rate now 0.005"), pilot)
        await wait_for(lambda: rates(app)[-1] == pytest.approx(0.005), pilot)
        assert rates(app)[0] == pytest.approx(0.01)
        await wait_for(lambda: not app.training and app.shown_run is not None, pilot)
        run = app.shown_run
        assert run is not None
        assert [(c.kind, round(c.value, 6)) for c in run.controls] == [("learning_rate", 0.005)]


async def test_doubling_the_rate_while_paused_acts_on_resume(make_app: AppFactory) -> None:
    app = make_app(config=STEERED)
    async with app.run_test(size=(120, 40)) as pilot:
        await train_until(app, pilot, 2)
        await pilot.press("p")
        await wait_for(lambda: app.paused, pilot)
        await pilot.press("plus", "plus")  # x2, twice, while paused
        await pilot.pause(0.3)
        assert rates(app)[-1] == pytest.approx(0.01)  # nothing trains while paused
        await pilot.press("p")
        await wait_for(lambda: rates(app)[-1] == pytest.approx(0.04), pilot)
        await wait_for(lambda: not app.training and app.shown_run is not None, pilot)
        run = app.shown_run
        assert run is not None
        assert [(c.kind, round(c.value, 6)) for c in run.controls if c.kind != "resume"] == [
            ("pause", 0.0),
            ("learning_rate", 0.04),
        ]  # the two changes act as one
        assert [c.kind for c in run.controls][:2] == ["pause", "resume"]


async def test_steering_keys_only_while_training(make_app: AppFactory) -> None:
    app = make_app(config=STEERED)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(lambda: app.data is not None, pilot)
        await pilot.press("2")
        await pilot.pause()
        assert isinstance(app.focused, TrainingView)
        steering = {
            "p": "Pause/resume",
            "minus": "LR ×0.5",
            "plus": "LR ×2",
            "r": "Set LR",
            "f": "Finish epoch",
            "e": "Early stop",
        }
        active = app.screen.active_bindings
        for key, description in steering.items():
            assert active[key].binding.description == description
            assert not active[key].enabled, key  # greyed out in the footer
        footer = "\n".join(screen_lines(app)[-2:])
        assert "Pause/resume" in footer
        await pilot.press("p")
        await pilot.pause()
        assert not app.paused
        assert any("Nothing is training" in n.message for n in app._notifications)
        await train_until(app, pilot, 1)
        assert all(app.screen.active_bindings[key].enabled for key in steering)
        await pilot.press("p")  # paused first, so that the run cannot end before f lands
        await wait_for(lambda: app.paused, pilot)
        await pilot.press("f", "p")  # stop after this epoch, and carry on to its end
        await wait_for(lambda: not app.training and app.shown_run is not None, pilot)
        run = app.shown_run
        assert run is not None and run.status == "stopped" and run.epochs_done < STEERED.epochs
        per_epoch = math.ceil(run.config.train_count(3000) / run.config.batch_size)
        assert run.steps[-1].step == run.epochs_done * per_epoch  # at an epoch's end
        assert [c.kind for c in run.controls] == [  # f takes effect at the next step
            "pause",
            "resume",
            "stop_after_epoch",
        ], run.controls
        assert not any(app.screen.active_bindings[key].enabled for key in steering)


async def test_the_rate_dialog_checks_as_the_form_does(make_app: AppFactory) -> None:
    from textual.widgets import Input

    from mnist_tui.ui.screens.rate import RateScreen

    app = make_app(config=STEERED)
    async with app.run_test(size=(120, 40)) as pilot:
        await train_until(app, pilot, 1)
        await pilot.press("p", "r")
        await wait_for(lambda: isinstance(app.screen, RateScreen), pilot)
        field = app.screen.query_one(Input)
        field.value = "-1"
        await pilot.pause()
        assert str(app.screen.query_one("#rate-error", Static).render())
        await pilot.press("enter")
        assert isinstance(app.screen, RateScreen)  # refused
        field.value = "0.002"
        await pilot.press("enter")
        await pilot.pause()
        assert not isinstance(app.screen, RateScreen)
        await pilot.press("p")  # resume: the change applied on resuming
        await wait_for(lambda: said(app, "Learning rate now 0.002"), pilot)
        await wait_for(lambda: not app.training and app.shown_run is not None, pilot)
