"""Labelled progress bars, one per line, drawn straight into strips.

Progress changes four times a second while TensorFlow wants both cores, so these lines
skip Rich's table layout: each bar is a few segments of fixed width.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual.geometry import Size
from textual.strip import Strip
from textual.widget import Widget

BAR = "bar"
"""The bar's place in a give-way order: where it shrinks from its minimum to nothing."""
GAP = "  "
"""Between the percentage and each figure."""


@dataclass(frozen=True)
class Figure:
    """One figure after a bar, such as ``ETA 0:03``; ``name`` places it in the give-way order."""

    name: str
    text: str


@dataclass(frozen=True)
class ProgressRow:
    """One bar: a label, the fraction done (0 to 1) and the figures shown after it."""

    label: str
    done: float
    figures: tuple[Figure, ...] = ()

    @property
    def text(self) -> str:
        """Every figure, as the line shows them when there is room."""
        return GAP.join(figure.text for figure in self.figures)


def bar_cells(done: float, width: int) -> tuple[str, str]:
    """The done and to-do parts of a ``width``-cell bar, with a half cell at the edge."""
    halves = round(max(0.0, min(1.0, done)) * width * 2)
    full, half = divmod(halves, 2)
    return "━" * full + "╸" * half, "━" * (width - full - half)


def fit_row(
    figures: Sequence[Figure],
    room: int,
    give_way: Sequence[str],
    *,
    bar_width: int,
    min_bar_width: int,
) -> tuple[int, tuple[Figure, ...]]:
    """The bar width and the figures that fit in ``room`` cells (bar and figures).

    The bar shrinks first, down to ``min_bar_width``; then the figures named in
    ``give_way`` leave, in that order, and where :data:`BAR` stands in it, the bar goes
    below its minimum (down to nothing: the percentage still says how far). What is
    left keeps the room, the bar growing back up to ``bar_width``. A figure is shown
    whole or not at all; figures not named never leave (only a line too narrow even
    for them is cut, at its end).
    """
    kept = tuple(figure for figure in figures if figure.text)
    floor = min_bar_width
    for step in (None, *give_way):
        if step == BAR:
            floor = 0
        elif step is not None:
            kept = tuple(figure for figure in kept if figure.name != step)
        need = sum(len(GAP) + cell_len(figure.text) for figure in kept)
        if need + floor <= room:
            return max(0, min(bar_width, room - need)), kept
    return 0, kept


class ProgressLines(Widget):
    """Progress bars with a label before and figures after, one row each.

    When a line is short, its parts give way in the order given as ``give_way``
    (see :func:`fit_row`): the bar shrinks to :attr:`MIN_BAR_WIDTH`, then the figures
    named leave in turn, the bar going altogether where :data:`BAR` stands. Every row's
    bar has the same width, so the bars and percentages line up, and once shrunk it does
    not grow back for shorter figures (an epoch's end would make it jump) until the width
    changes or the rows are cleared (rows with no figures).
    """

    DEFAULT_CSS = """
    ProgressLines {
        height: auto;
    }
    ProgressLines > .progress-lines--bar { color: $accent; }
    ProgressLines > .progress-lines--finished { color: $success; }
    ProgressLines > .progress-lines--back { color: $foreground 15%; }
    ProgressLines > .progress-lines--text { color: $text-muted; }
    """

    COMPONENT_CLASSES = {
        "progress-lines--bar",
        "progress-lines--finished",
        "progress-lines--back",
        "progress-lines--text",
    }

    LABEL_WIDTH = 14
    BAR_WIDTH = 32
    MIN_BAR_WIDTH = 12
    """The bar keeps at least this many cells until a figure has given way."""
    PERCENT_WIDTH = 5

    def __init__(
        self,
        rows: Sequence[ProgressRow] = (),
        *,
        give_way: Sequence[str] = (),
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self._rows = tuple(rows)
        self._give_way = tuple(give_way)
        self._styles: dict[str, Style] | None = None
        self._fitted: (
            tuple[int, tuple[ProgressRow, ...], int, list[tuple[int, tuple[Figure, ...]]]] | None
        ) = None
        self._bar = (0, self.BAR_WIDTH)
        """The terminal width and the narrowest bar drawn at it since the rows were cleared."""

    @property
    def rows(self) -> tuple[ProgressRow, ...]:
        """The bars shown now."""
        return self._rows

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        """One line per bar."""
        return len(self._rows)

    def set_rows(self, rows: Sequence[ProgressRow]) -> None:
        """Show ``rows``: a repaint, and a layout pass only if their number changed."""
        rows = tuple(rows)
        if rows == self._rows:
            return
        layout = len(rows) != len(self._rows)
        self._rows = rows
        if not any(row.figures for row in rows):
            self._bar = (0, self.BAR_WIDTH)
        self.refresh(layout=layout)

    def notify_style_update(self) -> None:
        """Colours come from the theme: look them up again when it changes."""
        super().notify_style_update()
        self._styles = None

    def _style(self, part: str) -> Style:
        if self._styles is None:
            # Full component styles, so translucent theme colours are blended (see
            # LineChart._style).
            self._styles = {
                name: self.get_component_rich_style(f"progress-lines--{name}")
                for name in ("bar", "finished", "back", "text")
            }
            self._styles["base"] = self.rich_style
        return self._styles[part]

    def _fit(self, width: int) -> tuple[int, list[tuple[int, tuple[Figure, ...]]]]:
        """The shared bar width and each row's figures at ``width`` (cached per rows)."""
        if self._fitted is None or self._fitted[:2] != (width, self._rows):
            room = width - self.LABEL_WIDTH - self.PERCENT_WIDTH
            fitted = [
                fit_row(
                    row.figures,
                    room,
                    self._give_way,
                    bar_width=self.BAR_WIDTH,
                    min_bar_width=self.MIN_BAR_WIDTH,
                )
                for row in self._rows
            ]
            bar = min((bar for bar, _ in fitted), default=self.BAR_WIDTH)
            if self._bar[0] == width:
                bar = min(bar, self._bar[1])
            self._bar = (width, bar)
            self._fitted = (width, self._rows, bar, fitted)
        return self._fitted[2], self._fitted[3]

    def render_line(self, y: int) -> Strip:
        """One bar, its label, its percentage and the figures that fit."""
        width = self.size.width
        if y >= len(self._rows):
            return Strip.blank(width, self._style("base"))
        row = self._rows[y]
        bar, fitted = self._fit(width)
        done, todo = bar_cells(row.done, bar)
        base = self._style("base")
        text = "".join(GAP + figure.text for figure in fitted[y][1])
        segments = [
            Segment(row.label[: self.LABEL_WIDTH - 1].ljust(self.LABEL_WIDTH), base),
            Segment(done, self._style("finished" if row.done >= 1 else "bar")),
            Segment(todo, self._style("back")),
            Segment(f"{row.done:{self.PERCENT_WIDTH}.0%}", base),
            Segment(text, self._style("text")),
        ]
        return Strip(segments).crop_extend(0, width, base)
