"""Text-art rendering of digits."""

from __future__ import annotations

import numpy as np
import pytest

from mnist_tui.core.digits.textart import (
    ASCII_RAMP,
    halfblock_cells,
    render_ascii,
    render_halfblocks,
)


def test_ascii_ramp_maps_black_to_space_and_white_to_densest() -> None:
    image = np.zeros((28, 28), dtype=np.uint8)
    image[0, 0] = 255
    lines = render_ascii(image, double_width=False)
    assert len(lines) == 28 and all(len(line) == 28 for line in lines)
    assert lines[0][0] == ASCII_RAMP[-1]
    assert set("".join(lines[1:])) == {" "}


def test_ascii_double_width_keeps_aspect() -> None:
    lines = render_ascii(np.full((28, 28), 128, dtype=np.uint8))
    assert all(len(line) == 56 for line in lines)


def test_halfblocks_pack_two_rows_per_line() -> None:
    image = np.zeros((28, 28), dtype=np.uint8)
    image[0, 0] = 255  # top half of cell (0, 0)
    image[1, 1] = 255  # bottom half of cell (0, 1)
    image[2:4, 2] = 255  # both halves of cell (1, 2)
    lines = render_halfblocks(image)
    assert len(lines) == 14 and all(len(line) == 28 for line in lines)
    assert lines[0][:2] == "▀▄" and lines[1][2] == "█"


def test_halfblocks_handle_odd_heights_and_float_images() -> None:
    lines = render_halfblocks(np.ones((5, 3), dtype=np.float32))
    assert lines == ["███", "███", "▀▀▀"]


def test_halfblock_cells_give_grey_levels() -> None:
    image = np.zeros((28, 28), dtype=np.uint8)
    image[0, 0], image[1, 0] = 255, 51
    cells = halfblock_cells(image)
    assert cells[0][0] == pytest.approx((1.0, 0.2))


def test_rejects_non_images() -> None:
    with pytest.raises(ValueError, match="2-D"):
        render_ascii(np.zeros((2, 28, 28)))
