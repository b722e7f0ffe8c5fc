"""A braille line chart of a few series per epoch, drawn with numpy and cached as strips:
it draws in well under a millisecond and repaints only the lines Textual asks for (why
not a plotting library: docs/performance.md)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from rich.segment import Segment
from rich.style import Style
from textual.geometry import Size
from textual.strip import Strip
from textual.widget import Widget

BRAILLE_BITS = np.array([[0x01, 0x08], [0x02, 0x10], [0x04, 0x20], [0x40, 0x80]], dtype=np.uint8)
"""The dot of each (row, column) of a braille cell, four rows by two columns."""


@dataclass(frozen=True)
class Series:
    """One line of the chart: a name for the legend and one value per x."""

    name: str
    values: tuple[float, ...]


def braille_cells(points: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """The braille dot bits of a polyline, one ``uint8`` per cell of a ``rows x cols`` grid.

    ``points`` are (x, y) in dot coordinates (x right, y down), ``cols * 2`` by ``rows * 4``
    dots; consecutive points are joined by straight runs of dots.
    """
    dots = np.zeros((rows * 4, cols * 2), dtype=bool)
    if len(points) == 1:
        segments = [np.round(points).astype(int)]
    else:
        segments = []
        for (x0, y0), (x1, y1) in itertools.pairwise(points):
            steps = int(max(abs(x1 - x0), abs(y1 - y0))) + 1
            t = np.linspace(0.0, 1.0, steps + 1)
            segments.append(np.round(np.column_stack([x0 + (x1 - x0) * t,
                                                      y0 + (y1 - y0) * t])).astype(int))
    xy = np.concatenate(segments)
    xs = np.clip(xy[:, 0], 0, cols * 2 - 1)
    ys = np.clip(xy[:, 1], 0, rows * 4 - 1)
    dots[ys, xs] = True
    cells = dots.reshape(rows, 4, cols, 2) * BRAILLE_BITS[None, :, None, :]
    masks: np.ndarray = cells.sum(axis=(1, 3), dtype=np.uint16).astype(np.uint8)
    return masks


def tick_label(value: float, span: float) -> str:
    """A y-axis label with as many decimals as the span needs."""
    if abs(value) >= 10_000:  # a diverged loss: 1.4e+07, not 14000286.8
        return f"{value:.1e}"
    decimals = 3 if span < 0.1 else 2 if span < 10 else 1
    return f"{value:.{decimals}f}"


def x_ticks(xs: Sequence[int], width: int) -> list[int]:
    """The x values to label: all if they fit in ``width``, else the first and round steps."""
    if not xs:
        return []
    room = max(2, width // (len(str(xs[-1])) + 3))
    step = 1
    while True:
        for nice in (step, 2 * step, 5 * step):
            ticks = [xs[0], *(x for x in xs[1:] if x % nice == 0)]
            if len(ticks) <= room:
                return ticks
        step *= 10


class LineChart(Widget):
    """One or two lines over whole epochs, with a title, a legend and labelled axes.

    Each line takes its colour from a component class (``line-chart--series-0`` and
    ``-1``), so themes restyle it.
    """

    DEFAULT_CSS = """
    LineChart {
        height: 1fr;
        min-height: 6;
    }
    LineChart > .line-chart--axis { color: $text-muted; }
    LineChart > .line-chart--title { text-style: bold; }
    LineChart > .line-chart--series-0 { color: $primary; }
    LineChart > .line-chart--series-1 { color: $warning; }
    """

    COMPONENT_CLASSES = {
        "line-chart--axis",
        "line-chart--title",
        "line-chart--series-0",
        "line-chart--series-1",
    }

    CHROME_ROWS = 3
    """Rows that are not plot: the title and legend above, the axis and its ticks below."""

    def __init__(self, title: str, *, x_label: str = "epoch",
                 bounds: tuple[float | None, float | None] = (None, None),
                 id: str | None = None) -> None:
        super().__init__(id=id)
        self.title = title
        self.x_label = x_label
        self.bounds = bounds
        """Values the metric cannot pass (a loss is never below 0, an accuracy never above
        1): the margin around the lines stops there, so no axis label reads -0.00."""
        self._xs: tuple[int, ...] = ()
        self._series: tuple[Series, ...] = ()
        self._strips: list[Strip] | None = None
        self._strips_size = Size(0, 0)
        self._styles: dict[str, Style] = {}

    @property
    def series(self) -> tuple[Series, ...]:
        """The lines shown now."""
        return self._series

    @property
    def plot_rows(self) -> int:
        """Text rows of plot between the title and the x axis at the chart's size now
        (four braille dots each)."""
        return max(0, self.size.height - self.CHROME_ROWS)

    def set_data(self, xs: Sequence[int], series: Sequence[Series]) -> None:
        """Show ``series`` (one or two) over ``xs``; each has one value per x."""
        if len(series) > 2:
            raise ValueError(f"a chart shows one or two lines, not {len(series)}")
        xs = tuple(xs)
        shown = tuple(s for s in series if len(s.values) == len(xs))
        if (xs, shown) == (self._xs, self._series):
            return
        self._xs, self._series = xs, shown
        self._strips = None
        self.refresh()

    def notify_style_update(self) -> None:
        """Colours come from the theme: redraw when it changes."""
        super().notify_style_update()
        self._strips = None
        self._styles.clear()

    def render_line(self, y: int) -> Strip:
        """One cached line of the chart."""
        if self._strips is None or self._strips_size != self.size:
            self._strips = self._draw(self.size.width, self.size.height)
            self._strips_size = self.size
        return self._strips[y] if y < len(self._strips) else Strip.blank(self.size.width)

    def _style(self, part: str) -> Style:
        """A part's colours over the widget's own (looked up once per theme)."""
        # Full (not partial) component styles: Textual blends a translucent theme colour
        # such as $text-muted over the background, which a partial style cannot do (the
        # axes came out white on the light theme).
        if part not in self._styles:
            self._styles[part] = (self.get_component_rich_style(f"line-chart--{part}")
                                  if part != "base" else self.rich_style)
        return self._styles[part]

    def _draw(self, width: int, height: int) -> list[Strip]:
        base = self._style("base")
        title = [Segment(self.title, self._style("title"))]
        for index, line in enumerate(self._series):
            title += [Segment("  ", base), Segment("━━ ", self._style(f"series-{index}")),
                      Segment(line.name, base)]
        lines = [Strip(title)]
        plot_rows = height - self.CHROME_ROWS
        values = [v for s in self._series for v in s.values if math.isfinite(v)]
        if plot_rows < 2 or not values:
            return [line.crop_extend(0, width, base) for line in lines]
        low, high = min(values), max(values)
        span = high - low or max(abs(high) * 0.1, 0.01)
        low, high = low - span * 0.05, high + span * 0.05
        floor, ceiling = self.bounds
        low = max(low, floor) if floor is not None else low
        high = min(high, ceiling) if ceiling is not None else high
        labels = [tick_label(high, span), tick_label((low + high) / 2, span),
                  tick_label(low, span)]
        margin = max(len(label) for label in labels) + 1
        cols = max(1, width - margin - 1)
        axis = self._style("axis")

        def to_dots(xs: Sequence[int], ys: Sequence[float]) -> np.ndarray:
            first, last = self._xs[0], self._xs[-1]
            scale_x = (cols * 2 - 1) / (last - first) if last > first else 0.0
            px = (np.asarray(xs, dtype=float) - first) * scale_x
            if last == first:
                px += cols - 1
            py = (high - np.asarray(ys, dtype=float)) / (high - low) * (plot_rows * 4 - 1)
            return np.column_stack([px, py])

        layers = []
        for curve in self._series:  # a diverged run's NaN or inf points are left out
            finite = [(x, v) for x, v in zip(self._xs, curve.values, strict=True)
                      if math.isfinite(v)]
            layers.append(braille_cells(to_dots(*zip(*finite, strict=True)), plot_rows, cols)
                          if finite else np.zeros((plot_rows, cols), dtype=np.uint8))
        styles = [self._style(f"series-{i}") for i in range(len(layers))]
        label_rows = {0: labels[0], (plot_rows - 1) // 2: labels[1], plot_rows - 1: labels[2]}
        for row in range(plot_rows):
            label = label_rows.get(row, "")
            segments = [Segment(label.rjust(margin - 1) + " " + ("┤" if label else "│"), axis)]
            segments += self._plot_row([layer[row] for layer in layers], styles, base)
            lines.append(Strip(segments))
        ticks = x_ticks(self._xs, cols)
        tick_cols = [int(to_dots([x], [low])[0, 0] + 0.5) // 2 for x in ticks]
        rule = ["─"] * cols
        tick_text = [" "] * (cols + len(self.x_label) + 8)
        for x, col in zip(ticks, tick_cols, strict=True):
            rule[col] = "┬"
            text = str(x)
            start = max(0, col - len(text) // 2)
            if all(c == " " for c in tick_text[max(0, start - 1):start + len(text) + 1]):
                tick_text[start:start + len(text)] = text
        lines.append(Strip([Segment(" " * margin + "└" + "".join(rule), axis)]))
        label_text = "".join(tick_text).rstrip()
        if len(self.x_label) <= margin:  # "epoch 1   2   3", the name under the y labels
            label_text = self.x_label.rjust(margin) + " " + label_text
        else:  # at the end, if there is room
            label_text = " " * (margin + 1) + label_text
            if len(label_text) + 1 + len(self.x_label) <= width:
                label_text += " " + self.x_label
        lines.append(Strip([Segment(label_text, axis)]))
        return [line.crop_extend(0, width, base) for line in lines]

    @staticmethod
    def _plot_row(cells: list[np.ndarray], styles: list[Style], base: Style) -> list[Segment]:
        """One text row of the plot: later series draw over earlier ones, dots merged."""
        codes = np.zeros_like(cells[0], dtype=np.uint32)
        owner = np.full(cells[0].shape, -1)
        for index, layer in enumerate(cells):
            codes |= layer
            owner[layer > 0] = index
        text = np.where(codes > 0, codes + 0x2800, 0x20).astype(np.uint32).tobytes()
        chars = text.decode("utf-32-le")
        cuts = [0, *(np.flatnonzero(np.diff(owner)) + 1).tolist(), len(chars)]
        return [Segment(chars[a:b], styles[owner[a]] if owner[a] >= 0 else base)
                for a, b in itertools.pairwise(cuts)]
