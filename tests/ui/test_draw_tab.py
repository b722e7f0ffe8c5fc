"""The Draw tab in the app: the run on show classifies the drawing, its model loaded in
the background on first use."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from mnist_tui.core.data.mnist import MnistData
from mnist_tui.core.digits.drawing import mnist_input
from mnist_tui.core.runs.store import RunStore
from mnist_tui.ui.app import MnistApp
from mnist_tui.ui.tabs.draw_view import DrawView
from tests.ui.conftest import wait_for, write_fixed_run

AppFactory = Callable[..., MnistApp]


async def test_a_trained_run_reads_a_test_digit_drawn_on_the_canvas(
    make_app: AppFactory, tmp_path: Path, slice_data: MnistData
) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(lambda: app.data is not None, pilot)
        await pilot.press("7")
        view = app.query_one(DrawView)
        assert "Open a run" in str(view.query_one("#draw-bars").render())
        await pilot.press("ctrl+t")
        await wait_for(
            lambda: not app.training and app.shown_run is not None, pilot, timeout=120
        )  # a small run: it may be over before a first look
        await pilot.press("7", "t")  # the first test digit onto the canvas
        await wait_for(
            lambda: view.probabilities is not None and not view.classifying, pilot, timeout=60
        )
        run = RunStore(tmp_path / "runs").load("latest")
        model = RunStore(tmp_path / "runs").load_model(run)
        image = mnist_input(view.canvas.ink)
        expected = model.predict_on_batch(image[None].astype(np.float32) / 255.0)[0]
        assert view.probabilities is not None
        assert np.allclose(view.probabilities, expected, atol=1e-5)
        assert view.nearest[0] == 0  # the test digit itself is its own nearest


async def test_a_run_without_its_model_says_so(
    make_app: AppFactory, tmp_path: Path, slice_data: MnistData
) -> None:
    write_fixed_run(tmp_path / "runs", slice_data)  # probabilities saved, no model.keras
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: app.data is not None, pilot)
        await pilot.press("5", "enter")
        await wait_for(lambda: app.shown_run is not None, pilot)
        await pilot.press("7")
        bars = app.query_one(DrawView).query_one("#draw-bars")
        await wait_for(lambda: "cannot classify" in str(bars.render()), pilot)


async def test_an_image_file_opened_with_o_is_read_like_a_drawing(
    tmp_path: Path, small_data: MnistData
) -> None:
    from PIL import Image, ImageDraw
    from textual.widgets import Input

    from mnist_tui.core.config import TrainConfig
    from mnist_tui.core.digits.drawing import as_unit
    from mnist_tui.core.digits.images import read_digit
    from mnist_tui.core.session import train_evaluate_save
    from mnist_tui.ui.screens.open_image import OpenImageScreen

    train_evaluate_save(
        TrainConfig(hidden_units=(16,), batch_size=128, epochs=1),
        small_data,
        RunStore(tmp_path / "runs"),
        lambda _e: None,
    )
    picture = Image.new("RGB", (300, 200), "white")  # a "1", black on white, off-centre
    ImageDraw.Draw(picture).line([(60, 30), (80, 170)], fill="black", width=14)
    path = tmp_path / "my digit.png"
    picture.save(path)
    (tmp_path / "notes.png").write_text("not an image")
    app = MnistApp(
        config=TrainConfig(), runs_dir=tmp_path / "runs", data_loader=lambda _say: small_data
    )
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(lambda: app.data is not None, pilot)
        await pilot.press("5", "enter")
        await wait_for(lambda: app.shown_run is not None, pilot)
        await pilot.press("7")
        view = app.query_one(DrawView)
        await pilot.press("o")
        await wait_for(lambda: isinstance(app.screen, OpenImageScreen), pilot)
        dialog = app.screen
        assert isinstance(dialog, OpenImageScreen)
        await pilot.press(*str(tmp_path / "notes.png"), "enter")
        await wait_for(lambda: "not an image" in dialog.problem, pilot)
        assert app.screen is dialog  # the reason is shown; the dialog stays
        dialog.query_one(Input).value = ""
        await pilot.press(*str(path), "enter")
        await wait_for(lambda: not isinstance(app.screen, OpenImageScreen), pilot)
        expected = read_digit(path)
        assert np.array_equal(view.canvas.ink, as_unit(expected))
        await wait_for(
            lambda: view.probabilities is not None and not view.classifying, pilot, timeout=60
        )
        assert np.array_equal(view.model_input, mnist_input(as_unit(expected)))
        verdict = str(view.query_one("#draw-verdict").render())
        assert verdict.startswith("my digit.png → ") and "%" in verdict
        await pilot.press("space")  # drawn over: no longer the file
        await wait_for(
            lambda: str(view.query_one("#draw-verdict").render()).startswith("Predicted"), pilot
        )
