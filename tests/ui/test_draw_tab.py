"""The Draw tab in the app: the run on show classifies the drawing, its model loaded in
the background on first use."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from mnist_tui.core.data import MnistData
from mnist_tui.core.drawing import mnist_input
from mnist_tui.core.runs import RunStore
from mnist_tui.ui.app import MnistApp
from mnist_tui.ui.widgets.draw_view import DrawView
from tests.ui.conftest import wait_for, write_fixed_run

AppFactory = Callable[..., MnistApp]


async def test_a_trained_run_reads_a_test_digit_drawn_on_the_canvas(
        make_app: AppFactory, tmp_path: Path, slice_data: MnistData) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(lambda: app.data is not None, pilot)
        await pilot.press("7")
        view = app.query_one(DrawView)
        assert "Open a run" in str(view.query_one("#draw-bars").render())
        await pilot.press("ctrl+t")
        await wait_for(lambda: not app.training and app.shown_run is not None, pilot,
                       timeout=120)  # a small run: it may be over before a first look
        await pilot.press("7", "t")  # the first test digit onto the canvas
        await wait_for(lambda: view.probabilities is not None and not view.classifying,
                       pilot, timeout=60)
        run = RunStore(tmp_path / "runs").load("latest")
        model = RunStore(tmp_path / "runs").load_model(run)
        image = mnist_input(view.canvas.ink)
        expected = model.predict_on_batch(image[None].astype(np.float32) / 255.0)[0]
        assert view.probabilities is not None
        assert np.allclose(view.probabilities, expected, atol=1e-5)
        assert view.nearest[0] == 0  # the test digit itself is its own nearest


async def test_a_run_without_its_model_says_so(
        make_app: AppFactory, tmp_path: Path, slice_data: MnistData) -> None:
    write_fixed_run(tmp_path / "runs", slice_data)  # probabilities saved, no model.keras
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: app.data is not None, pilot)
        await pilot.press("5", "enter")
        await wait_for(lambda: app.shown_run is not None, pilot)
        await pilot.press("7")
        bars = app.query_one(DrawView).query_one("#draw-bars")
        await wait_for(lambda: "cannot classify" in str(bars.render()), pilot)
