"""The braille line chart: dots, ticks and labels."""

from __future__ import annotations

import numpy as np
from textual.app import App, ComposeResult

from mnist_tui.ui.widgets.line_chart import LineChart, Series, braille_cells, tick_label, x_ticks


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
    assert tick_label(14000286.8, span=2e6) == "1.4e+07"  # a diverged loss, kept short


class ChartApp(App[None]):
    def compose(self) -> ComposeResult:
        yield LineChart("loss", id="chart")
        yield LineChart("accuracy", bounds=(0.0, 1.0), id="bounded")


def chart_text(chart: LineChart) -> list[str]:
    return [chart.render_line(y).text for y in range(chart.size.height)]


async def test_the_chart_draws_legend_axes_ticks_and_both_lines() -> None:
    app = ChartApp()
    async with app.run_test(size=(60, 16)) as pilot:
        chart = app.query_one(LineChart)
        chart.set_data([1, 2, 3], [Series("train", (0.9, 0.5, 0.2)),
                                   Series("val", (1.0, 0.6, 0.4))])
        await pilot.pause()
        lines = chart_text(chart)
        assert lines[0].split() == ["loss", "━━", "train", "━━", "val"]
        assert lines[1].lstrip().startswith("1.04 ┤")  # the top, 5% above the highest
        assert lines[-1].split() == ["epoch", "1", "2", "3"]
        assert all(len(line) == 60 for line in lines)
        colours = {segment.style.color for y in range(1, 13) for segment in chart.render_line(y)
                   if segment.style and "\u2800" < segment.text.strip()[:1] <= "\u28ff"}
        assert len(colours) == 2  # train and val each in their own colour


async def test_a_diverged_run_leaves_out_its_nan_points() -> None:
    app = ChartApp()
    async with app.run_test(size=(60, 16)) as pilot:
        chart = app.query_one(LineChart)
        chart.set_data([1, 2, 3], [Series("train", (0.5, float("nan"), float("inf")))])
        await pilot.pause()
        lines = chart_text(chart)
        assert "nan" not in " ".join(lines) and "inf" not in " ".join(lines)
        assert sum(char > "\u2800" and char <= "\u28ff" for line in lines for char in line) == 1


async def test_axes_read_on_light_and_dark_themes() -> None:
    app = ChartApp()
    async with app.run_test(size=(60, 16)) as pilot:
        chart = app.query_one(LineChart)
        chart.set_data([1, 2, 3], [Series("train", (0.9, 0.5, 0.2))])
        for theme in ("textual-light", "textual-dark"):
            app.theme = theme
            await pilot.pause()
            axis = next(segment.style for segment in chart.render_line(1) if "┤" in segment.text)
            assert axis is not None and axis.color is not None and axis.bgcolor is not None
            ink = axis.color.get_truecolor()
            paper = axis.bgcolor.get_truecolor()
            contrast = abs(sum(ink) - sum(paper)) / 3  # mean channel difference, 0..255
            assert contrast > 60, f"{theme}: axis {ink} on {paper}"


async def test_the_margin_stops_at_the_metrics_bounds() -> None:
    app = ChartApp()
    async with app.run_test(size=(60, 32)) as pilot:
        chart = app.query_one("#bounded", LineChart)
        chart.set_data([1, 2, 3], [Series("train", (0.0, 0.6, 1.0))])
        await pilot.pause()
        lines = chart_text(chart)
        assert lines[1].lstrip().startswith("1.00 ┤")  # not 1.05: an accuracy stops at 1
        assert [line for line in lines if "┤" in line][-1].lstrip().startswith("0.00 ┤")
