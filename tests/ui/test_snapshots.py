"""Pictures of the main screens, compared with ones a person has looked at."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from mnist_tui.core.data.mnist import MnistData
from mnist_tui.ui.app import MnistApp
from tests.ui.conftest import FAST, grid_drawn, wait_for, write_fixed_run

Snap = Callable[..., bool]


@pytest.fixture
def fixed_app(slice_data: MnistData, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> MnistApp:
    """The app over a saved run with fixed predictions, in a runs dir named ``runs``."""
    monkeypatch.chdir(tmp_path)
    write_fixed_run(tmp_path / "runs", slice_data)
    return MnistApp(config=FAST, runs_dir=Path("runs"), data_loader=lambda _say: slice_data)


def ready(
    then: Callable[[Pilot[Any]], Awaitable[None]] | None = None,
) -> Callable[[Pilot[Any]], Awaitable[None]]:
    """Wait for the data and TensorFlow to load (the status bar settles), then ``then``."""

    async def run_before(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, MnistApp)
        await wait_for(
            lambda: app.data is not None and app.device.startswith(("CPU", "GPU")), pilot
        )
        for field in app.query(Input):  # a blinking cursor shows or not by the clock
            field.cursor_blink = False
        if then is not None:
            await then(pilot)
        await pilot.pause()

    return run_before


async def _bad_value(pilot: Pilot[Any]) -> None:
    pilot.app.query_one("#field-hidden_units", Input).value = "256,x"
    pilot.app.query_one("#field-learning_rate", Input).value = "0"


async def _open_run(pilot: Pilot[Any]) -> None:
    await pilot.press("5", "enter")
    app = pilot.app
    await wait_for(lambda: app.query_one("#tabs").active == "results", pilot)  # type: ignore[attr-defined]


async def _mistakes(pilot: Pilot[Any]) -> None:
    await _open_run(pilot)
    await pilot.press("4", "m", "right")


async def _grid(pilot: Pilot[Any]) -> None:
    await _mistakes(pilot)
    await pilot.press("g")
    await wait_for(lambda: grid_drawn(pilot.app), pilot)
    await pilot.pause()


def test_setup_form_with_bad_values(snap_compare: Snap, fixed_app: MnistApp) -> None:
    assert snap_compare(fixed_app, terminal_size=(110, 36), run_before=ready(_bad_value))


def test_setup_form_in_80x24(snap_compare: Snap, fixed_app: MnistApp) -> None:
    assert snap_compare(fixed_app, terminal_size=(80, 24), run_before=ready())


def test_results_of_a_saved_run(snap_compare: Snap, fixed_app: MnistApp) -> None:
    assert snap_compare(fixed_app, terminal_size=(110, 36), run_before=ready(_open_run))


def test_misclassified_viewer(snap_compare: Snap, fixed_app: MnistApp) -> None:
    assert snap_compare(fixed_app, terminal_size=(110, 36), run_before=ready(_mistakes))


def test_misclassified_grid(snap_compare: Snap, fixed_app: MnistApp) -> None:
    assert snap_compare(fixed_app, terminal_size=(110, 36), run_before=ready(_grid))


def test_runs_list(snap_compare: Snap, fixed_app: MnistApp) -> None:
    async def runs(pilot: Pilot[Any]) -> None:
        await pilot.press("5")

    assert snap_compare(fixed_app, terminal_size=(110, 24), run_before=ready(runs))


def test_training_curves_of_a_saved_run(snap_compare: Snap, fixed_app: MnistApp) -> None:
    async def curves(pilot: Pilot[Any]) -> None:
        await _open_run(pilot)
        await pilot.press("2")

    assert snap_compare(fixed_app, terminal_size=(110, 36), run_before=ready(curves))
