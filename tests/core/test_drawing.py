"""The drawing engine: brush, MNIST-style preprocessing and nearest test digits."""

from __future__ import annotations

import time

import numpy as np
import pytest

from mnist_tui.core.data.mnist import MnistData
from mnist_tui.core.digits.drawing import (
    BOX,
    CENTRE,
    SIDE,
    NearestDigits,
    blank_canvas,
    brush,
    centre_of_mass,
    mnist_input,
    nearest_digits,
    stroke,
)


def off_centre_seven() -> np.ndarray:
    """A "7" drawn small in the top-left corner: a bar and a diagonal stroke."""
    canvas = stroke(blank_canvas(), 2, 2, to=(2, 10))
    return stroke(canvas, 2, 10, to=(13, 5))


def ink_box(image: np.ndarray) -> tuple[int, int]:
    """Height and width of the bounding box of an image's non-zero pixels."""
    rows, cols = np.flatnonzero(image.any(axis=1)), np.flatnonzero(image.any(axis=0))
    return int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1)


def shifted(image: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """``image`` moved by whole pixels, at most as far as keeps all its ink in the frame."""
    ink_rows, ink_cols = np.flatnonzero(image.any(axis=1)), np.flatnonzero(image.any(axis=0))
    rows = int(np.clip(rows, -ink_rows[0], SIDE - 1 - ink_rows[-1]))
    cols = int(np.clip(cols, -ink_cols[0], SIDE - 1 - ink_cols[-1]))
    out = np.zeros_like(image)
    out[max(0, rows) : SIDE + min(0, rows), max(0, cols) : SIDE + min(0, cols)] = image[
        max(0, -rows) : SIDE - max(0, rows), max(0, -cols) : SIDE - max(0, cols)
    ]
    return out


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel().astype(float), b.ravel().astype(float))[0, 1])


# --- the brush ---------------------------------------------------------------------------


def test_a_dab_is_round_soft_edged_and_within_unit_range() -> None:
    canvas = stroke(blank_canvas(), 10, 10)
    assert canvas.dtype == np.float32 and canvas.min() >= 0.0 and canvas.max() == 1.0
    assert canvas[10, 10] == 1.0 and canvas[10, 11] == 1.0 and canvas[11, 10] == 1.0
    assert 0.0 < canvas[11, 11] < 1.0  # the anti-aliased edge
    assert canvas[10, 13] == 0.0 and canvas[13, 10] == 0.0
    around = canvas[:21, :21]  # centred on the dab: the same turned any way
    assert np.allclose(around, around[::-1]) and np.allclose(around, around.T)


def test_stroke_does_not_change_its_input_and_clips_at_the_edge() -> None:
    canvas = blank_canvas()
    corner = stroke(canvas, 0, 0)
    assert not canvas.any()
    assert corner[0, 0] == 1.0 and corner[-1, -1] == 0.0
    assert not stroke(canvas, -10, -10).any()  # a dab wholly off the canvas


def test_a_dragged_stroke_leaves_no_gaps() -> None:
    line = stroke(blank_canvas(), 5, 3, to=(5, 24))
    assert (line[5, 3:25] == 1.0).all()
    assert np.allclose(brush((5, 24), (5, 3)), brush((5, 3), (5, 24)))


def test_erasing_removes_ink_and_leaves_no_faint_smudge() -> None:
    canvas = stroke(blank_canvas(), 10, 5, to=(10, 20))
    erased = stroke(canvas, 10, 12, ink=False)
    assert erased[10, 12] == 0.0 and erased[10, 5] == 1.0 and erased[10, 20] == 1.0
    assert not ((erased > 0) & (erased < 0.05)).any()
    assert not stroke(canvas, 10, 5, ink=False, to=(10, 20)).any()


# --- preprocessing as MNIST ---------------------------------------------------------------


def test_an_empty_canvas_gives_zeros() -> None:
    digit = mnist_input(blank_canvas())
    assert digit.dtype == np.uint8 and digit.shape == (SIDE, SIDE) and not digit.any()


def test_an_off_centre_stroke_ends_up_centred_by_mass() -> None:
    canvas = off_centre_seven()
    assert np.hypot(*np.subtract(centre_of_mass(canvas), CENTRE)) > 5  # really off centre
    digit = mnist_input(canvas)
    assert digit.dtype == np.uint8 and digit.max() == 255
    row, col = centre_of_mass(digit)
    assert abs(row - CENTRE) <= 0.5 and abs(col - CENTRE) <= 0.5


@pytest.mark.parametrize(
    "start,end", [((3, 3), (25, 5)), ((14, 1), (16, 26)), ((20, 20), (21, 21))]
)
def test_the_ink_is_scaled_to_fit_the_box_keeping_its_shape(
    start: tuple[float, float], end: tuple[float, float]
) -> None:
    canvas = stroke(blank_canvas(), *start, to=end)
    before = ink_box(canvas > 0.5 / 255)
    after = ink_box(mnist_input(canvas))
    assert max(after) == BOX  # longer side scaled to 20 (grown when drawn small)
    assert abs(after[0] / after[1] - before[0] / before[1]) <= 0.25 * before[0] / before[1]


def test_a_large_drawing_is_shrunk_with_anti_aliasing() -> None:
    canvas = stroke(blank_canvas(), 1, 20, to=(26, 8))  # a slanted "1" filling the canvas
    digit = mnist_input(canvas)
    assert ink_box(digit)[0] == BOX
    assert digit.sum() / 255 < (canvas > 0).sum()  # shrunk
    greys = digit[(digit > 0) & (digit < 255)]
    assert len(greys) >= 20  # soft edges, not a thresholded copy


def test_mnist_digits_survive_a_shift_and_the_preprocessing(real_mnist: MnistData) -> None:
    """A test digit moved off centre comes back as itself: MNIST made it this way. (MNIST
    put a few digits a pixel away from where their mass says, so allow a pixel.)"""
    near = []
    for index, digit in enumerate(real_mnist.x_test[:200]):
        moved = shifted(digit, (-1) ** index * 3, 2 - index % 5)
        back = mnist_input(moved)
        near.append(
            max(
                correlation(digit, np.roll(np.roll(back, dr, 0), dc, 1))
                for dr in (-1, 0, 1)
                for dc in (-1, 0, 1)
            )
        )
        assert abs(centre_of_mass(back)[0] - CENTRE) <= 0.5
    assert min(near) > 0.99
    exact = [correlation(d, mnist_input(shifted(d, 2, -3))) for d in real_mnist.x_test[:200]]
    assert np.median(exact) > 0.999


def test_uint8_and_unit_images_give_the_same_digit(real_mnist: MnistData) -> None:
    digit = real_mnist.x_test[0]
    assert np.array_equal(mnist_input(digit), mnist_input(digit / 255.0))


def test_a_wrong_shape_is_refused() -> None:
    with pytest.raises(ValueError, match="28x28"):
        mnist_input(np.zeros((20, 20)))


# --- nearest test digits ------------------------------------------------------------------


def test_a_test_digit_is_its_own_nearest(real_mnist: MnistData) -> None:
    index = NearestDigits(real_mnist.x_test)
    for i in (0, 1, 7, 1234, 9999):
        found = index.query(real_mnist.x_test[i], k=3)
        assert len(found) == 3 and found.dtype == np.int64
        assert np.array_equal(real_mnist.x_test[found[0]], real_mnist.x_test[i])
        assert found[0] == i or found[0] < i  # exact duplicates: the lower index first


def test_nearest_are_in_order_of_exact_distance(real_mnist: MnistData) -> None:
    x = real_mnist.x_test[:2000]
    query = mnist_input(off_centre_seven())
    found = nearest_digits(query, x, k=5)
    exact = ((x.reshape(len(x), -1).astype(np.int64) - query.reshape(-1)) ** 2).sum(axis=1)
    assert list(found) == list(np.lexsort((np.arange(len(x)), exact))[:5])


def test_nearest_of_few_digits() -> None:
    x = np.zeros((2, SIDE, SIDE), dtype=np.uint8)
    x[1] = 200
    assert list(nearest_digits(x[1], x, k=3)) == [1, 0]
    assert len(nearest_digits(x[1], x, k=0)) == 0
    assert len(nearest_digits(x[1], x[:0], k=3)) == 0


def test_nearest_search_over_the_test_set_takes_a_few_milliseconds(real_mnist: MnistData) -> None:
    index = NearestDigits(real_mnist.x_test)
    assert len(index) == 10_000
    times = []
    for i in range(30):
        started = time.perf_counter()
        index.query(real_mnist.x_test[i])
        times.append(time.perf_counter() - started)
    assert float(np.median(times)) < 0.02  # measured: about 2 ms
