"""A braille line chart of a few series, drawn with numpy and cached as strips: it draws
in well under a millisecond and repaints only the lines Textual asks for (why not a
plotting library: docs/performance.md).

Each series has its own x positions (epochs, fractions of an epoch, samples seen), so
per-step curves, per-epoch points and runs of different lengths share one chart. A
cursor moved with the keys or the mouse reads every series' value at one x, and the
y axis can switch to a log scale.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.reactive import reactive
from textual.strip import Strip
from textual.widget import Widget

BRAILLE_BITS = np.array([[0x01, 0x08], [0x02, 0x10], [0x04, 0x20], [0x40, 0x80]], dtype=np.uint8)
"""The dot of each (row, column) of a braille cell, four rows by two columns."""
COLOURS = 6
"""Series colours the theme gives (``line-chart--series-0`` to ``-5``)."""
DASH = 3
"""A dashed line draws this many dots, then leaves as many out."""


@dataclass(frozen=True)
class Series:
    """One line of the chart.

    ``xs`` and ``values`` pair up; non-finite values are left out of the drawing.
    ``legend`` is the legend's text (``None``: the name; ``""``: not listed). A
    ``marker`` character is drawn at the line's points (thinned to stay readable), so
    lines tell apart without colour; ``dashed`` and ``faint`` lines do too.
    """

    name: str
    xs: tuple[float, ...]
    values: tuple[float, ...]
    colour: int = 0
    dashed: bool = False
    faint: bool = False
    marker: str = ""
    legend: str | None = None

    def value_at(self, x: float) -> float | None:
        """The value of the point nearest ``x``, if ``x`` lies within the line's span
        (half a point's spacing beyond either end counts)."""
        if not self.xs:
            return None
        xs = np.asarray(self.xs, dtype=float)
        slack = (xs[-1] - xs[0]) / (len(xs) - 1) / 2 if len(xs) > 1 else 0.5
        if not xs[0] - slack <= x <= xs[-1] + slack:
            return None
        return self.values[int(np.argmin(np.abs(xs - x)))]


def braille_cells(points: np.ndarray, rows: int, cols: int, *, dashed: bool = False) -> np.ndarray:
    """The braille dot bits of a polyline, one ``uint8`` per cell of a ``rows x cols`` grid.

    ``points`` are (x, y) in dot coordinates (x right, y down), ``cols * 2`` by ``rows * 4``
    dots; consecutive points are joined by straight runs of dots. A dashed line keeps
    :data:`DASH` dots of each ``2 * DASH`` along its path.
    """
    dots = np.zeros((rows * 4, cols * 2), dtype=bool)
    xy = np.round(points).astype(int)
    if len(points) > 1:  # every segment at once: steps+1 evenly spaced dots along each
        start = np.asarray(points[:-1], dtype=float)
        delta = np.asarray(points[1:], dtype=float) - start
        steps = (np.abs(delta).max(axis=1)).astype(int) + 1
        counts = steps + 1
        segment = np.repeat(np.arange(len(start)), counts)
        within = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        t = within / steps[segment]
        xy = np.round(start[segment] + delta[segment] * t[:, None]).astype(int)
    if dashed and len(xy) > 1:
        fresh = np.ones(len(xy), dtype=bool)  # each dot once, so the dashes stay even
        fresh[1:] = np.any(np.diff(xy, axis=0) != 0, axis=1)
        xy = xy[fresh]
        xy = xy[(np.arange(len(xy)) // DASH) % 2 == 0]
    xs = np.clip(xy[:, 0], 0, cols * 2 - 1)
    ys = np.clip(xy[:, 1], 0, rows * 4 - 1)
    dots[ys, xs] = True
    cells = dots.reshape(rows, 4, cols, 2) * BRAILLE_BITS[None, :, None, :]
    masks: np.ndarray = cells.sum(axis=(1, 3), dtype=np.uint16).astype(np.uint8)
    return masks


def thinned(dots: np.ndarray, columns: int) -> np.ndarray:
    """A long polyline cut to four points per dot column (its first, lowest, highest and
    last there), which draws the same dots: 10,000 steps cost what 500 do."""
    if len(dots) <= 4 * columns:
        return dots
    cols = np.clip(np.round(dots[:, 0]).astype(int), 0, columns - 1)
    order = np.argsort(cols, kind="stable")
    cols, ys = cols[order], dots[order, 1]
    starts = np.flatnonzero(np.r_[True, np.diff(cols) != 0])
    ends = np.r_[starts[1:], len(cols)] - 1
    lows = np.minimum.reduceat(ys, starts)
    highs = np.maximum.reduceat(ys, starts)
    picked = np.column_stack([ys[starts], lows, highs, ys[ends]]).ravel()
    return np.column_stack([np.repeat(cols[starts], 4).astype(float), picked])


def _shown_points(line: Series, log: bool) -> tuple[np.ndarray, np.ndarray]:
    """A line's finite points as arrays (on a log scale: the positive ones, as logs)."""
    xs = np.asarray(line.xs, dtype=float)
    values = np.asarray(line.values, dtype=float)
    keep = np.isfinite(values) & np.isfinite(xs)
    if log:
        keep &= values > 0
        return xs[keep], np.log10(values[keep])
    return xs[keep], values[keep]


def tick_label(value: float, span: float) -> str:
    """A y-axis label with as many decimals as the span needs."""
    if abs(value) >= 10_000:  # a diverged loss: 1.4e+07, not 14000286.8
        return f"{value:.1e}"
    if 0 < span < 0.01:  # a learning rate: two figures of the span
        decimals = 1 - math.floor(math.log10(span))
    else:
        decimals = 3 if span < 0.1 else 2 if span < 10 else 1
    return f"{value:.{decimals}f}"


def log_tick_label(exponent: float) -> str:
    """A log-scale label: the value ``10 ** exponent`` in three significant figures."""
    value = 10.0**exponent
    return f"{value:.2e}" if value < 0.001 or value >= 10_000 else f"{value:.3g}"


def x_text(value: float) -> str:
    """An x value as a tick or readout shows it: ``3``, ``2.5``, ``60k``, ``1.2M``."""
    for size, suffix in ((1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:.4g}"[:4].rstrip(".") + suffix
    return f"{value:.2f}".rstrip("0").rstrip(".")


def x_ticks(first: float, last: float, width: int, whole: bool = False) -> list[float]:
    """The x values to label between ``first`` and ``last`` in ``width`` columns: round
    steps (1, 2 or 5 times a power of ten; whole steps when ``whole`` or when both ends
    are whole, as epochs are) with a few columns between labels, and ``first`` too when
    it is whole (epoch 1)."""
    if last < first:
        return []
    whole = whole or (first == 1 and last == int(last))  # epochs
    span = last - first
    room = max(2, width // (len(x_text(last)) + 3))
    step = 1.0 if whole or span >= 2 or span == 0 else 10.0 ** math.floor(math.log10(span / room))
    while True:
        for nice in (step, 2 * step, 5 * step):
            ticks = [
                round(nice * k, 9)
                for k in range(math.ceil(first / nice - 1e-9), math.floor(last / nice + 1e-9) + 1)
            ]
            if whole and (not ticks or ticks[0] != first):
                ticks = [first, *(t for t in ticks if (t - first) * room >= span)]
            if len(ticks) <= room:
                return ticks
        step *= 10


class LineChart(Widget, can_focus=True):
    """Lines over a shared x axis, with a title, a legend, labelled axes and a readout.

    Each line takes its colour from a component class (``line-chart--series-0`` to
    ``-5``), so themes restyle it. With the focus, left and right move a cursor from x to
    x (shift for ten), home and end jump to the ends, escape hides it; a click or a drag
    puts it under the mouse. While it shows, the top lines read the x and every line's
    value there. ``l`` switches a chart made with ``log_scale_key`` to a log scale.
    """

    DEFAULT_CSS = """
    LineChart {
        height: 1fr;
        min-height: 6;
    }
    LineChart > .line-chart--axis { color: $text-muted; }
    LineChart > .line-chart--title { text-style: bold; }
    LineChart > .line-chart--readout { color: $foreground; background: $boost; }
    LineChart > .line-chart--cursor { background: $accent 40%; }
    LineChart:focus > .line-chart--title { color: $accent; }
    LineChart > .line-chart--series-0 { color: $primary; }
    LineChart > .line-chart--series-1 { color: $warning; }
    LineChart > .line-chart--series-2 { color: $success; }
    LineChart > .line-chart--series-3 { color: $error; }
    LineChart > .line-chart--series-4 { color: $accent; }
    LineChart > .line-chart--series-5 { color: $secondary; }
    """

    COMPONENT_CLASSES = {
        "line-chart--axis",
        "line-chart--title",
        "line-chart--readout",
        "line-chart--cursor",
        *(f"line-chart--series-{index}" for index in range(COLOURS)),
    }

    BINDINGS = [
        Binding(
            "left",
            "cursor(-1)",
            "Cursor left",
            show=False,
            id="chart.left",
            tooltip="Move the readout cursor to the previous point",
        ),
        Binding(
            "right",
            "cursor(1)",
            "Cursor right",
            show=False,
            id="chart.right",
            tooltip="Move the readout cursor to the next point",
        ),
        Binding(
            "shift+left",
            "cursor(-10)",
            "Cursor 10 left",
            show=False,
            id="chart.left10",
            tooltip="Move the readout cursor ten points left",
        ),
        Binding(
            "shift+right",
            "cursor(10)",
            "Cursor 10 right",
            show=False,
            id="chart.right10",
            tooltip="Move the readout cursor ten points right",
        ),
        Binding(
            "home",
            "cursor_end(0)",
            "First point",
            show=False,
            id="chart.home",
            tooltip="Move the readout cursor to the first point",
        ),
        Binding(
            "end",
            "cursor_end(1)",
            "Last point",
            show=False,
            id="chart.end",
            tooltip="Move the readout cursor to the last point",
        ),
        Binding(
            "escape",
            "hide_cursor",
            "Hide readout",
            id="chart.hide",
            tooltip="Hide the readout cursor",
        ),
        Binding(
            "l",
            "toggle_log",
            "Log scale",
            id="chart.log",
            tooltip="Switch the y axis between a linear and a log scale",
        ),
    ]

    CHROME_ROWS = 3
    """Rows that are not plot: the title and legend above, the axis and its ticks below."""

    cursor: reactive[float | None] = reactive(None, layout=False, bindings=True)
    """The x the readout shows (``None``: no cursor)."""
    log_scale: reactive[bool] = reactive(False, layout=False)
    """Whether the y axis is logarithmic (only positive values are drawn then)."""

    def __init__(
        self,
        title: str,
        *,
        x_label: str = "epoch",
        bounds: tuple[float | None, float | None] = (None, None),
        log_scale_key: bool = False,
        whole_x: bool = False,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.title = title
        self.x_label = x_label
        self.whole_x = whole_x
        """Whether the x values are whole numbers (trials): ticks fall on whole numbers only."""
        self.bounds = bounds
        """Values the metric cannot pass (a loss is never below 0, an accuracy never above
        1): the margin around the lines stops there, so no axis label reads -0.00."""
        self.log_scale_key = log_scale_key
        """Whether ``l`` may switch this chart to a log scale (a loss, not an accuracy)."""
        self._series: tuple[Series, ...] = ()
        self._strips: list[Strip] | None = None
        self._strips_size = Size(0, 0)
        self._styles: dict[str, Style] = {}
        self._frame: tuple[float, float, int, int] | None = None
        """The x range, the plot's first column and its width in cells, as last drawn."""

    @property
    def series(self) -> tuple[Series, ...]:
        """The lines shown now."""
        return self._series

    @property
    def plot_rows(self) -> int:
        """Text rows of plot between the title and the x axis at the chart's size now
        (four braille dots each)."""
        return max(0, self.size.height - self.CHROME_ROWS)

    def set_data(self, series: Sequence[Series], *, x_label: str | None = None) -> None:
        """Show ``series`` (drawn in order: later lines over earlier ones)."""
        shown = tuple(s for s in series if len(s.xs) == len(s.values))
        label = self.x_label if x_label is None else x_label
        if (shown, label) == (self._series, self.x_label):
            return
        self._series, self.x_label = shown, label
        self._invalidate()

    def set_title(self, title: str) -> None:
        """Name the chart ``title``."""
        if title != self.title:
            self.title = title
            self._invalidate()

    def readout(self) -> str:
        """What the cursor reads: the x and each line's value there, raw (faint) lines
        aside ("" without a cursor)."""
        if self.cursor is None:
            return ""
        parts = [f"{self.x_label} {x_text(self.cursor)}"]
        for line in self._series:
            value = line.value_at(self.cursor)
            if value is not None and not line.faint:
                parts.append(f"{line.name} {self._value_text(value)}")
        return "  ".join(parts)

    def _value_text(self, value: float) -> str:
        if not math.isfinite(value):
            return str(value)
        return f"{value:.3e}" if 0 < abs(value) < 0.001 else f"{value:.4f}"

    def _xs(self) -> list[float]:
        """Every x any line has, in order."""
        return sorted({x for line in self._series for x in line.xs})

    def action_cursor(self, step: int) -> None:
        """Move the cursor ``step`` points (it appears at the newest point first)."""
        xs = self._xs()
        if not xs:
            return
        if self.cursor is None:
            self.cursor = xs[-1]
            return
        here = int(np.argmin(np.abs(np.asarray(xs) - self.cursor)))
        self.cursor = xs[min(len(xs) - 1, max(0, here + step))]

    def action_cursor_end(self, end: int) -> None:
        """The cursor to the first (0) or the last (1) point."""
        xs = self._xs()
        if xs:
            self.cursor = xs[-1] if end else xs[0]

    def action_hide_cursor(self) -> None:
        """Hide the cursor and its readout."""
        self.cursor = None

    def action_toggle_log(self) -> None:
        """Switch between a linear and a log y axis."""
        self.log_scale = not self.log_scale

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Escape passes on when there is no cursor to hide; ``l`` only on a loss chart."""
        if action == "hide_cursor":
            return self.cursor is not None
        if action == "toggle_log":
            return self.log_scale_key
        return True

    def watch_cursor(self) -> None:
        self._invalidate()

    def watch_log_scale(self) -> None:
        self._invalidate()

    def _cursor_from_mouse(self, x: int) -> None:
        """Put the cursor at the point nearest screen column ``x`` of the chart."""
        xs = self._xs()
        if self._frame is None or not xs:
            return
        first, last, left, cols = self._frame
        where = first + (x - left + 0.5) / max(1, cols) * (last - first)
        self.cursor = xs[int(np.argmin(np.abs(np.asarray(xs) - where)))]

    def on_click(self, event: events.Click) -> None:
        """A click puts the cursor under the mouse."""
        self._cursor_from_mouse(event.x)

    def on_mouse_move(self, event: events.MouseMove) -> None:
        """Dragging with a button held moves the cursor along."""
        if event.button:
            self._cursor_from_mouse(event.x)

    def _invalidate(self) -> None:
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
            self._styles[part] = (
                self.get_component_rich_style(f"line-chart--{part}")
                if part != "base"
                else self.rich_style
            )
        return self._styles[part]

    def _line_style(self, line: Series) -> Style:
        style = self._style(f"series-{line.colour % COLOURS}")
        return style + Style(dim=True) if line.faint else style

    def _legend(self, width: int) -> list[Segment]:
        """The title, then each line's entry that fits whole in ``width`` cells."""
        base = self._style("base")
        title = [Segment(self.title + ("  log" if self.log_scale else ""), self._style("title"))]
        room = width - Segment.get_line_length(title)
        for line in self._series:
            text = line.name if line.legend is None else line.legend
            if not text:
                continue
            glyph = "··" if line.faint else "┄┄" if line.dashed else "━━"
            entry = [
                Segment("  ", base),
                Segment(line.marker + glyph + " ", self._line_style(line)),
                Segment(text, base),
            ]
            room -= Segment.get_line_length(entry)
            if room < 0:
                break
            title += entry
        return title

    def _draw(self, width: int, height: int) -> list[Strip]:
        base = self._style("base")
        lines = [Strip(self._legend(width))]
        plot_rows = height - self.CHROME_ROWS
        log = self.log_scale

        curves = [_shown_points(line, log) for line in self._series]
        values = np.concatenate([v for _, v in curves]) if curves else np.zeros(0)
        xs = np.concatenate([x for x, _ in curves]) if curves else np.zeros(0)
        self._frame = None
        if plot_rows < 2 or not len(values):
            return [line.crop_extend(0, width, base) for line in lines]
        low, high = float(values.min()), float(values.max())
        span = high - low or abs(high) * 0.1 or 0.01  # one value: a tenth of it around
        low, high = low - span * 0.05, high + span * 0.05
        floor, ceiling = self.bounds
        if not log:
            low = max(low, floor) if floor is not None else low
            high = min(high, ceiling) if ceiling is not None else high
        mid = (low + high) / 2
        labels = (
            [log_tick_label(v) for v in (high, mid, low)]
            if log
            else [tick_label(v, span) for v in (high, mid, low)]
        )
        margin = max(len(label) for label in labels) + 1
        cols = max(1, width - margin - 1)
        first, last = float(xs.min()), float(xs.max())
        self._frame = (first, last, margin + 1, cols)
        axis = self._style("axis")

        def to_dots(
            px_values: Sequence[float] | np.ndarray, py_values: Sequence[float] | np.ndarray
        ) -> np.ndarray:
            scale_x = (cols * 2 - 1) / (last - first) if last > first else 0.0
            px = (np.asarray(px_values, dtype=float) - first) * scale_x
            if last == first:
                px += cols - 1
            py = (high - np.asarray(py_values, dtype=float)) / (high - low) * (plot_rows * 4 - 1)
            return np.column_stack([px, py])

        layers, marks = [], []
        for line, (curve_xs, curve_values) in zip(self._series, curves, strict=True):
            dots = to_dots(curve_xs, curve_values)
            layers.append(
                braille_cells(thinned(dots, cols * 2), plot_rows, cols, dashed=line.dashed)
                if len(dots)
                else np.zeros((plot_rows, cols), dtype=np.uint8)
            )
            marks.append(self._marker_cells(line, dots, plot_rows, cols))
        styles = [self._line_style(line) for line in self._series]
        cursor_col = (
            int(to_dots([self.cursor], [low])[0, 0]) // 2
            if self.cursor is not None and first <= self.cursor <= last
            else None
        )
        label_rows = {0: labels[0], (plot_rows - 1) // 2: labels[1], plot_rows - 1: labels[2]}
        for row in range(plot_rows):
            label = label_rows.get(row, "")
            segments = [Segment(label.rjust(margin - 1) + " " + ("┤" if label else "│"), axis)]
            segments += self._plot_row(
                [layer[row] for layer in layers],
                [mark.get(row, {}) for mark in marks],
                styles,
                base,
                cursor_col,
            )
            lines.append(Strip(segments))
        ticks = x_ticks(first, last, cols, self.whole_x)
        tick_cols = [min(cols - 1, int(to_dots([x], [low])[0, 0] + 0.5) // 2) for x in ticks]
        rule = ["─"] * cols
        tick_text = [" "] * (cols + len(self.x_label) + 8)
        for x, col in zip(ticks, tick_cols, strict=True):
            rule[col] = "┬"
            text = x_text(x)
            start = max(0, col - len(text) // 2)
            if all(c == " " for c in tick_text[max(0, start - 1) : start + len(text) + 1]):
                tick_text[start : start + len(text)] = text
        lines.append(Strip([Segment(" " * margin + "└" + "".join(rule), axis)]))
        label_text = "".join(tick_text).rstrip()
        if len(self.x_label) <= margin:  # "epoch 1   2   3", the name under the y labels
            label_text = self.x_label.rjust(margin) + " " + label_text
        else:  # at the end, if there is room
            label_text = " " * (margin + 1) + label_text
            if len(label_text) + 1 + len(self.x_label) <= width:
                label_text += " " + self.x_label
        lines.append(Strip([Segment(label_text, axis)]))
        self._overlay_readout(lines, width, plot_rows)
        return [line.crop_extend(0, width, base) for line in lines]

    def _overlay_readout(self, lines: list[Strip], width: int, plot_rows: int) -> None:
        """The cursor's readout over the legend, wrapped onto the plot's top rows."""
        text = self.readout()
        if not text:
            return
        rows: list[str] = []
        for part in text.split("  "):
            if rows and len(rows[-1]) + 2 + len(part) <= width:
                rows[-1] += "  " + part
            else:
                rows.append(part[:width])
        style = self._style("readout")
        for index, row in enumerate(rows[: plot_rows + 1]):
            lines[index] = Strip([Segment(row.ljust(width), style)])

    @staticmethod
    def _marker_cells(
        line: Series, dots: np.ndarray, rows: int, cols: int
    ) -> dict[int, dict[int, str]]:
        """The cells that show ``line``'s marker: ``{row: {col: char}}``, at most one
        per three columns, so a long run's markers do not hide its line."""
        if not line.marker or not len(dots):
            return {}
        cells: dict[int, dict[int, str]] = {}
        last_col = -3
        for index, (px, py) in enumerate(dots):
            col = min(cols - 1, max(0, int(px) // 2))
            row = min(rows - 1, max(0, int(py) // 4))
            if col - last_col >= 3 or index == len(dots) - 1:
                cells.setdefault(row, {})[col] = line.marker
                last_col = col
        return cells

    def _plot_row(
        self,
        cells: list[np.ndarray],
        marks: list[dict[int, str]],
        styles: list[Style],
        base: Style,
        cursor_col: int | None,
    ) -> list[Segment]:
        """One text row of the plot: later series draw over earlier ones, dots merged,
        markers over dots, the cursor's column highlighted."""
        width = len(cells[0])
        codes = np.zeros(width, dtype=np.uint32)
        owner = np.full(width, -1)
        for index, layer in enumerate(cells):
            codes |= layer
            owner[layer > 0] = index
        chars = list(
            np.where(codes > 0, codes + 0x2800, 0x20)
            .astype(np.uint32)
            .tobytes()
            .decode("utf-32-le")
        )
        for index, mark in enumerate(marks):
            for col, char in mark.items():
                chars[col] = char
                owner[col] = index
        cursor = self._style("cursor") if cursor_col is not None else None
        segments = []
        for key, group in itertools.groupby(
            range(width), key=lambda c: (owner[c], c == cursor_col)
        ):
            index, at_cursor = key
            columns = list(group)
            style = styles[index] if index >= 0 else base
            if at_cursor and cursor is not None:
                style = style + Style(bgcolor=cursor.bgcolor)
            segments.append(Segment("".join(chars[c] for c in columns), style))
        return segments
