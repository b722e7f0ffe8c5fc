"""The braille line chart: dots, ticks and labels."""

from __future__ import annotations

import numpy as np
from textual.app import App, ComposeResult

from mnist_tui.ui.widgets.line_chart import (
    LineChart,
    Series,
    braille_cells,
    thinned,
    tick_label,
    x_text,
    x_ticks,
)


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
    assert x_ticks(1, 3, width=40) == [1, 2, 3]
    many = x_ticks(1, 100, width=40)
    assert many == [1, 20, 40, 60, 80, 100]  # round steps, at most one per 6 columns
    assert x_ticks(3, 1, width=40) == []
    assert x_ticks(0, 0, width=40) == [0]  # one point (a first trial, numbered 0)


def test_x_ticks_inside_the_first_epoch_are_fractions_and_samples_read_short() -> None:
    assert x_ticks(0.02, 0.5, width=40) == [0.1, 0.2, 0.3, 0.4, 0.5]
    assert x_ticks(0.05, 3.0, width=40) == [1, 2, 3]
    assert [x_text(x) for x in x_ticks(5400, 162000, width=40)] == ["50k", "100k", "150k"]
    assert x_text(1_250_000) == "1.25M" and x_text(2.5) == "2.5" and x_text(3.0) == "3"


def test_a_dashed_line_leaves_gaps_a_solid_one_does_not() -> None:
    line = np.array([[0.0, 3.0], [39.0, 3.0]])
    solid = braille_cells(line, rows=1, cols=20)
    dashed = braille_cells(line, rows=1, cols=20, dashed=True)
    assert int(np.count_nonzero(solid == 0xC0)) == 20
    assert 0 < int(np.count_nonzero(dashed)) < 20  # some cells are gaps
    assert set(np.unique(dashed).tolist()) <= {0, 0x40, 0x80, 0xC0}  # on the same row


def test_a_series_reads_its_nearest_point_within_its_span_only() -> None:
    line = Series("train", (1.0, 2.0, 3.0), (0.9, 0.5, 0.2))
    assert line.value_at(2.2) == 0.5
    assert line.value_at(3.4) == 0.2  # half a step past the end still reads the end
    assert line.value_at(4.0) is None and line.value_at(0.0) is None


def test_tick_labels_keep_the_decimals_the_span_needs() -> None:
    assert tick_label(0.97612, span=0.02) == "0.976"
    assert tick_label(2.3456, span=2.0) == "2.35"
    assert tick_label(123.4, span=50) == "123.4"
    assert tick_label(14000286.8, span=2e6) == "1.4e+07"  # a diverged loss, kept short
    assert tick_label(0.00052, span=0.0008) == "0.00052"  # a learning rate


EPOCHS = (1.0, 2.0, 3.0)


class ChartApp(App[None]):
    def compose(self) -> ComposeResult:
        yield LineChart("loss", log_scale_key=True, id="chart")
        yield LineChart("accuracy", bounds=(0.0, 1.0), id="bounded")


def chart_text(chart: LineChart) -> list[str]:
    return [chart.render_line(y).text for y in range(chart.size.height)]


async def test_the_chart_draws_legend_axes_ticks_and_both_lines() -> None:
    app = ChartApp()
    async with app.run_test(size=(60, 16)) as pilot:
        chart = app.query_one(LineChart)
        chart.set_data(
            [
                Series("train", EPOCHS, (0.9, 0.5, 0.2)),
                Series("val", EPOCHS, (1.0, 0.6, 0.4), colour=1, dashed=True),
            ]
        )
        await pilot.pause()
        lines = chart_text(chart)
        assert lines[0].split() == ["loss", "━━", "train", "┄┄", "val"]
        assert lines[1].lstrip().startswith("1.04 ┤")  # the top, 5% above the highest
        assert lines[-1].split() == ["epoch", "1", "2", "3"]
        assert all(len(line) == 60 for line in lines)
        colours = {
            segment.style.color
            for y in range(1, 13)
            for segment in chart.render_line(y)
            if segment.style and "\u2800" < segment.text.strip()[:1] <= "\u28ff"
        }
        assert len(colours) == 2  # train and val each in their own colour


async def test_a_single_small_value_gets_three_distinct_labels() -> None:
    """One learning rate of 0.0042 (a run of one tick): three labels, not 0.004 thrice."""
    app = ChartApp()
    async with app.run_test(size=(60, 16)) as pilot:
        chart = app.query_one(LineChart)
        chart.set_data([Series("rate", (0.5,), (0.0042,))])
        await pilot.pause()
        labels = [line.split("┤")[0].strip() for line in chart_text(chart) if "┤" in line]
        assert labels == ["0.00422", "0.00420", "0.00418"]


async def test_a_diverged_run_leaves_out_its_nan_points() -> None:
    app = ChartApp()
    async with app.run_test(size=(60, 16)) as pilot:
        chart = app.query_one(LineChart)
        chart.set_data([Series("train", EPOCHS, (0.5, float("nan"), float("inf")))])
        await pilot.pause()
        lines = chart_text(chart)
        assert "nan" not in " ".join(lines) and "inf" not in " ".join(lines)
        assert sum(char > "\u2800" and char <= "\u28ff" for line in lines for char in line) == 1


async def test_axes_read_on_light_and_dark_themes() -> None:
    app = ChartApp()
    async with app.run_test(size=(60, 16)) as pilot:
        chart = app.query_one(LineChart)
        chart.set_data([Series("train", EPOCHS, (0.9, 0.5, 0.2))])
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
        chart.set_data([Series("train", EPOCHS, (0.0, 0.6, 1.0))])
        await pilot.pause()
        lines = chart_text(chart)
        assert lines[1].lstrip().startswith("1.00 ┤")  # not 1.05: an accuracy stops at 1
        assert [line for line in lines if "┤" in line][-1].lstrip().startswith("0.00 ┤")


BRAILLE = range(0x2801, 0x2900)


async def test_the_cursor_reads_every_line_moves_with_keys_and_the_mouse() -> None:
    app = ChartApp()
    async with app.run_test(size=(60, 32)) as pilot:
        chart = app.query_one("#chart", LineChart)
        chart.set_data(
            [
                Series("train", EPOCHS, (0.9, 0.5, 0.2)),
                Series("val", EPOCHS, (1.0, 0.6, 0.4), colour=1, dashed=True),
            ]
        )
        chart.focus()
        await pilot.press("right")  # the cursor appears at the newest point
        assert chart.cursor == 3.0
        await pilot.press("left")
        await pilot.pause()
        assert chart_text(chart)[0].split() == ["epoch", "2", "train", "0.5000", "val", "0.6000"]
        highlighted = [
            segment
            for segment in chart.render_line(10)
            if segment.style
            and segment.style.bgcolor
            and segment.style.bgcolor != chart.rich_style.bgcolor
        ]
        assert len("".join(s.text for s in highlighted)) == 1  # one column marks the x
        await pilot.press("home")
        assert chart.cursor == 1.0
        await pilot.click(chart, offset=(58, 10))  # the right edge: the last epoch
        assert chart.cursor == 3.0
        await pilot.press("escape")
        await pilot.pause()
        assert chart.cursor is None and chart_text(chart)[0].startswith("loss")


async def test_a_loss_switches_to_a_log_scale_and_an_accuracy_does_not() -> None:
    app = ChartApp()
    async with app.run_test(size=(60, 16)) as pilot:
        chart = app.query_one("#chart", LineChart)
        chart.set_data([Series("train", EPOCHS, (1.0, 0.1, 0.01))])
        chart.focus()
        await pilot.press("l")
        await pilot.pause()
        lines = chart_text(chart)
        assert chart.log_scale and lines[0].split()[:2] == ["loss", "log"]
        labels = [line.split("┤")[0].strip() for line in lines if "┤" in line]
        assert labels == ["1.26", "0.1", "0.00794"]  # decades, 5% of the span around
        bounded = app.query_one("#bounded", LineChart)
        bounded.focus()
        await pilot.press("l")
        assert not bounded.log_scale


async def test_markers_tell_lines_apart_without_colour() -> None:
    app = ChartApp()
    async with app.run_test(size=(60, 16)) as pilot:
        chart = app.query_one("#chart", LineChart)
        chart.set_data(
            [
                Series("A train", EPOCHS, (0.9, 0.5, 0.2), marker="A", legend="A"),
                Series("B train", EPOCHS, (0.3, 0.35, 0.4), colour=1, marker="B", legend="B"),
            ]
        )
        await pilot.pause()
        lines = chart_text(chart)
        assert lines[0].split() == ["loss", "A━━", "A", "B━━", "B"]
        plot = "".join(lines[1:-2])
        assert plot.count("A") == 3 and plot.count("B") == 3  # one at each epoch


def test_a_long_line_thinned_to_four_points_a_column_draws_the_same_dots() -> None:
    rng = np.random.default_rng(0)
    xs = np.repeat(np.arange(40), 50).astype(float)  # 2,000 points on 40 dot columns
    ys = np.clip(np.cumsum(rng.normal(0, 1.5, len(xs))) + 30, 0, 63)
    dots = np.column_stack([xs, ys])
    assert len(thinned(dots, 40)) == 160
    assert np.array_equal(
        braille_cells(thinned(dots, 40), rows=16, cols=20), braille_cells(dots, rows=16, cols=20)
    )
    short = dots[:100]
    assert thinned(short, 40) is short  # nothing to gain
