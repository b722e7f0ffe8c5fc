"""The braille line chart: dots, ticks and labels."""

from __future__ import annotations

import numpy as np

from mnist_tui.ui.widgets.line_chart import braille_cells, tick_label, x_ticks


def test_a_flat_line_fills_one_dot_row_of_each_cell() -> None:
    cells = braille_cells(np.array([[0.0, 3.0], [7.0, 3.0]]), rows=1, cols=4)
    assert cells.tolist() == [[0x40 | 0x80] * 4]  # the bottom dot row, both columns


def test_a_diagonal_joins_its_points_cell_by_cell() -> None:
    cells = braille_cells(np.array([[0.0, 0.0], [3.0, 7.0]]), rows=2, cols=2)
    row_bits = [(0x01 | 0x08), (0x02 | 0x10), (0x04 | 0x20), (0x40 | 0x80)]
    for dot_row in range(8):  # no gap: every dot row on the way holds a dot
        assert any(cell & row_bits[dot_row % 4] for cell in cells[dot_row // 4])
    assert cells[0, 0] & 0x01 and cells[1, 1] & 0x80  # it starts top left, ends bottom right


def test_a_single_point_is_one_dot() -> None:
    cells = braille_cells(np.array([[1.0, 2.0]]), rows=1, cols=1)
    assert cells.tolist() == [[0x20]]  # column 1, row 2


def test_points_outside_the_grid_are_clipped_not_wrapped() -> None:
    cells = braille_cells(np.array([[-5.0, -5.0], [-1.0, -1.0]]), rows=2, cols=2)
    assert cells.tolist() == [[0x01, 0], [0, 0]]


def test_x_ticks_label_every_epoch_when_they_fit_else_spread_out() -> None:
    assert x_ticks([1, 2, 3], width=40) == [1, 2, 3]
    many = x_ticks(list(range(1, 101)), width=40)
    assert many == [1, 20, 40, 60, 80, 100]  # round steps, at most one per 6 columns
    assert x_ticks([], width=40) == []


def test_tick_labels_keep_the_decimals_the_span_needs() -> None:
    assert tick_label(0.97612, span=0.02) == "0.976"
    assert tick_label(2.3456, span=2.0) == "2.35"
    assert tick_label(123.4, span=50) == "123.4"
