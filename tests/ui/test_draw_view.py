"""The Draw widget in a small host app: mouse and keyboard drawing, live classification
(throttled, in a worker), the nearest test digits, and a real model's answer."""

from __future__ import annotations

import time

import numpy as np
import pytest
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.pilot import Pilot
from textual.widgets import Static

from mnist_tui.core.data.mnist import MnistData
from mnist_tui.core.digits.drawing import mnist_input, predictor
from mnist_tui.ui.tabs.draw_view import DrawCanvas, DrawView
from tests.ui.conftest import screen_lines, wait_for

COMPACT = (80, 24)
LARGE = (120, 40)


class Host(App[None]):
    """Just the Draw widget, focused."""

    def compose(self) -> ComposeResult:
        yield DrawView(id="draw")

    def on_mount(self) -> None:
        self.query_one(DrawView).focus()


class FakeModel:
    """A predict function answering ``digit`` with 80%; it keeps every batch it got."""

    def __init__(self, digit: int = 3) -> None:
        self.digit = digit
        self.batches: list[np.ndarray] = []

    def __call__(self, images: np.ndarray) -> np.ndarray:
        self.batches.append(images.copy())
        probabilities = np.full((len(images), 10), 0.2 / 9, dtype=np.float32)
        probabilities[:, self.digit] = 0.8
        return probabilities


def view_of(pilot: Pilot[None]) -> DrawView:
    return pilot.app.query_one(DrawView)


def text_of(pilot: Pilot[None], selector: str) -> str:
    return str(pilot.app.query_one(selector, Static).render())


async def settled(pilot: Pilot[None]) -> None:
    """Wait until the drawing's last change is classified and shown."""
    view = view_of(pilot)
    await pilot.pause()
    await wait_for(lambda: not view.classifying, pilot, timeout=30)
    await pilot.pause()


async def test_press_and_drag_draws_and_the_right_button_erases() -> None:
    async with Host().run_test(size=COMPACT) as pilot:
        view, canvas = view_of(pilot), pilot.app.query_one(DrawCanvas)
        await pilot.pause()
        assert not canvas.large and canvas.size == (28, 14)  # half-blocks at 80x24
        await pilot.mouse_down(DrawCanvas, offset=(5, 3))
        await pilot.hover(DrawCanvas, offset=(12, 3))
        await pilot.hover(DrawCanvas, offset=(20, 5))  # cells skipped: still one line
        await pilot.mouse_up(DrawCanvas, offset=(20, 5))
        ink = canvas.ink
        assert (ink[6:8, 5:13] == 1.0).all()  # cell row 3 is pixel rows 6 and 7
        assert ink[10, 20] == 1.0 and ink[9, 16] > 0.5
        assert ink[:3].max() == 0.0 and ink[14:].max() == 0.0
        assert view.has_focus and canvas.cursor == (10, 20)
        await pilot.hover(DrawCanvas, offset=(25, 12))  # the button is up: no ink
        assert canvas.ink[24:, 23:].max() == 0.0

        await pilot.mouse_down(DrawCanvas, offset=(8, 3), button=3)
        await pilot.mouse_up(DrawCanvas, offset=(8, 3))
        erased = canvas.ink
        assert erased[6:8, 7:10].max() == 0.0 and erased[6, 5] == 1.0  # a 4-pixel eraser
        assert erased[10, 20] == 1.0  # the rest stays
        assert pilot.app.mouse_captured is None


async def test_the_large_canvas_maps_two_columns_to_a_pixel() -> None:
    async with Host().run_test(size=LARGE) as pilot:
        canvas = pilot.app.query_one(DrawCanvas)
        await pilot.pause()
        assert canvas.large and canvas.size == (56, 28)
        await pilot.click(DrawCanvas, offset=(11, 4))
        ink = canvas.ink
        assert ink[4, 5] == 1.0 and ink.sum() < 14  # one dab, at pixel (4, 5)
        assert canvas.cursor == (4, 5)
        assert "No test digits to compare with yet." in "\n".join(screen_lines(pilot.app))


async def test_the_keyboard_draws_erases_and_clears() -> None:
    async with Host().run_test(size=COMPACT) as pilot:
        canvas = pilot.app.query_one(DrawCanvas)
        assert canvas.show_cursor and canvas.cursor == (14, 14)
        await pilot.press("right", "right", "right", "space")
        assert canvas.ink[14, 17] == 1.0 and canvas.ink[14, 12] == 0.0
        await pilot.press("down", "space", "down", "space")
        assert canvas.ink[16, 17] == 1.0
        await pilot.press("up", "backspace")
        assert canvas.ink[15, 17] == 0.0 and canvas.ink[14:17, 17].max() == 0.0
        await pilot.press("space", "c")
        assert not canvas.ink.any()
        await pilot.press(*["up"] * 40, *["left"] * 40)
        assert canvas.cursor == (0, 0)  # the cursor stays on the canvas


async def test_the_bars_follow_the_model_and_the_note_shows_without_one(
    slice_data: MnistData,
) -> None:
    async with Host().run_test(size=COMPACT) as pilot:
        view = view_of(pilot)
        assert "Open a run" in text_of(pilot, "#draw-bars")
        view.show_model("run [bold]A[/]", None, "Loading the model…")
        view.set_test_digits(slice_data.x_test, slice_data.y_test)
        await pilot.press("space")
        await settled(pilot)
        assert text_of(pilot, "#draw-bars") == "Loading the model…"
        assert text_of(pilot, "#draw-run") == "run: run [bold]A[/]"  # shown as written
        assert view.probabilities is None and len(view.nearest) == 3  # nearest need no model

        three = FakeModel(3)
        view.show_model("run A", three, "")
        await settled(pilot)
        assert view.probabilities is not None and int(np.argmax(view.probabilities)) == 3
        bars = text_of(pilot, "#draw-bars").splitlines()
        assert len(bars) == 10 and bars[3].startswith("3 ████") and "80.0%" in bars[3]
        assert text_of(pilot, "#draw-verdict") == "Predicted 3 · 80.0%"
        assert np.array_equal(three.batches[-1][0], mnist_input(view.canvas.ink))
        assert three.batches[-1].dtype == np.uint8 and three.batches[-1].shape == (1, 28, 28)

        five = FakeModel(5)
        view.show_model("run B", five, "")
        await settled(pilot)
        assert "80.0%" in text_of(pilot, "#draw-bars").splitlines()[5]
        assert text_of(pilot, "#draw-verdict") == "Predicted 5 · 80.0%"

        await pilot.press("c")
        await settled(pilot)
        assert text_of(pilot, "#draw-verdict") == "Draw a digit"
        assert view.probabilities is None and view.nearest == ()


async def test_classification_is_throttled_and_ends_on_the_last_drawing() -> None:
    async with Host().run_test(size=COMPACT) as pilot:
        view, canvas = view_of(pilot), pilot.app.query_one(DrawCanvas)
        model = FakeModel(1)
        view.show_model("run", model, "")
        started = time.monotonic()
        for step in range(40):
            canvas.paint(4 + step // 2, 10)
            await pilot.pause(0.01)
        await settled(pilot)
        elapsed = time.monotonic() - started
        assert len(model.batches) <= elapsed / 0.1 + 2  # at most ~10 a second
        assert len(model.batches) < 40
        assert np.array_equal(model.batches[-1][0], mnist_input(canvas.ink))
        assert np.array_equal(view.model_input, mnist_input(canvas.ink))


async def test_a_failing_model_is_reported_not_fatal() -> None:
    def broken(images: np.ndarray) -> np.ndarray:
        raise RuntimeError("weights went missing")

    async with Host().run_test(size=COMPACT) as pilot:
        view = view_of(pilot)
        view.show_model("run", broken, "")
        await pilot.press("space")
        await settled(pilot)
        assert "could not classify the drawing: weights went missing" in text_of(
            pilot, "#draw-bars"
        )
        view.show_model("run", FakeModel(2), "")
        await settled(pilot)
        assert text_of(pilot, "#draw-verdict") == "Predicted 2 · 80.0%"


async def test_t_brings_test_digits_and_their_nearest_are_themselves(slice_data: MnistData) -> None:
    async with Host().run_test(size=LARGE) as pilot:
        view = view_of(pilot)
        view.show_model("run", FakeModel(7), "")
        view.set_test_digits(slice_data.x_test, slice_data.y_test)
        await pilot.press("t")
        await settled(pilot)
        assert view.nearest[0] == 0
        assert text_of(pilot, "#draw-verdict") == (
            f"test #0 (a {slice_data.y_test[0]}) → 7 · 80.0%"
        )
        await pilot.press("t")
        await settled(pilot)
        assert view.nearest[0] == 1
        screen = "\n".join(screen_lines(pilot.app))
        assert "Nearest test digits" in screen and f"{slice_data.y_test[1]} #1" in screen
        await pilot.press("space")  # drawn over: no longer the test digit
        await settled(pilot)
        assert text_of(pilot, "#draw-verdict") == "Predicted 7 · 80.0%"


async def test_keys_are_described_once_in_the_bindings_and_the_hint() -> None:
    async with Host().run_test(size=COMPACT) as pilot:
        bindings = Binding.make_bindings(DrawView.BINDINGS)
        assert all(
            b.id and b.id.startswith("draw.") and b.tooltip and b.description for b in bindings
        )
        hint = text_of(pilot, "#draw-hint")
        assert hint == view_of(pilot).key_hint()
        for part in (
            "↑↓←→ move",
            "space paint",
            "⌫ erase",
            "c clear",
            "t test digit",
            "right-drag: erase",
        ):
            assert part in hint


@pytest.fixture(scope="module")
def tiny_model(slice_data: MnistData) -> object:
    """A small MLP trained one epoch on 3,000 real digits (about 85% right)."""
    import keras

    from mnist_tui.core.config import TrainConfig
    from mnist_tui.core.data.inputs import as_float_images
    from mnist_tui.core.engine.models import build_model

    keras.utils.set_random_seed(0)
    model = build_model(TrainConfig(hidden_units=(32,), dropout=0.0))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(
        as_float_images(slice_data.x_train), slice_data.y_train, epochs=1, batch_size=64, verbose=0
    )
    return model


async def test_a_real_model_classifies_the_drawing_as_it_would_the_digit(
    slice_data: MnistData, tiny_model: object
) -> None:
    from mnist_tui.core.data.inputs import as_float_images

    model = tiny_model
    async with Host().run_test(size=LARGE) as pilot:
        view = view_of(pilot)
        view.show_model("tiny", predictor(model), "")
        view.set_test_digits(slice_data.x_test, slice_data.y_test)
        answers = []
        for index in range(8):
            digit = slice_data.x_test[index]
            view.load_image(digit)
            await settled(pilot)
            expected = model.predict(
                as_float_images(mnist_input(digit)[None]),  # type: ignore[attr-defined]
                verbose=0,
            )[0]
            assert view.probabilities is not None
            assert np.allclose(view.probabilities, expected, atol=1e-5)
            answers.append(int(np.argmax(view.probabilities)))
            assert text_of(pilot, "#draw-verdict").startswith(f"Predicted {answers[-1]} ·")
        assert (
            sum(a == int(y) for a, y in zip(answers, slice_data.y_test[:8], strict=True)) >= 5
        )  # it learned something


async def test_the_drawing_reads_without_colour_at_both_sizes(slice_data: MnistData) -> None:
    for size in (COMPACT, LARGE):
        async with Host().run_test(size=size) as pilot:
            view = view_of(pilot)
            canvas = view.canvas

            def glyphs(canvas: DrawCanvas = canvas) -> str:
                return "".join(canvas.render_line(y).text for y in range(canvas.size.height))

            blank = glyphs()  # spaces, the cursor aside (one half-block, or ▐▌)
            assert set(blank) <= {" ", "▐", "▌", "▀"} and blank.count("▀") <= 1
            view.load_image(slice_data.x_test[0])
            await pilot.pause()
            inked = sum(char in "█▀▄" for char in glyphs())
            pixels = int((slice_data.x_test[0] >= 90).sum())
            assert inked >= pixels // (2 if size == COMPACT else 1) * 0.8, (size, inked)
