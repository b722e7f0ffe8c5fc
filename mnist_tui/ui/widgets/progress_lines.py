"""Labelled progress bars, one per line, drawn straight into strips.

Progress changes four times a second while TensorFlow wants both cores, so these lines
skip Rich's table layout: each bar is a few segments of fixed width.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.segment import Segment
from rich.style import Style
from textual.geometry import Size
from textual.strip import Strip
from textual.widget import Widget


@dataclass(frozen=True)
class ProgressRow:
    """One bar: a label, the fraction done (0 to 1) and figures shown after it."""

    label: str
    done: float
    text: str = ""


def bar_cells(done: float, width: int) -> tuple[str, str]:
    """The done and to-do parts of a ``width``-cell bar, with a half cell at the edge."""
    halves = round(max(0.0, min(1.0, done)) * width * 2)
    full, half = divmod(halves, 2)
    return "━" * full + "╸" * half, "━" * (width - full - half)


class ProgressLines(Widget):
    """Progress bars with a label before and figures after, one row each."""

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

    def __init__(self, rows: Sequence[ProgressRow] = (), *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._rows = tuple(rows)
        self._styles: dict[str, Style] | None = None

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
        self.refresh(layout=layout)

    def notify_style_update(self) -> None:
        """Colours come from the theme: look them up again when it changes."""
        super().notify_style_update()
        self._styles = None

    def _style(self, part: str) -> Style:
        if self._styles is None:
            # Full component styles, so translucent theme colours are blended (see
            # LineChart._style).
            self._styles = {name: self.get_component_rich_style(f"progress-lines--{name}")
                            for name in ("bar", "finished", "back", "text")}
            self._styles["base"] = self.rich_style
        return self._styles[part]

    def render_line(self, y: int) -> Strip:
        """One bar, its label, its percentage and its figures."""
        width = self.size.width
        if y >= len(self._rows):
            return Strip.blank(width, self._style("base"))
        row = self._rows[y]
        done, todo = bar_cells(row.done, self.BAR_WIDTH)
        base = self._style("base")
        segments = [
            Segment(row.label[: self.LABEL_WIDTH - 1].ljust(self.LABEL_WIDTH), base),
            Segment(done, self._style("finished" if row.done >= 1 else "bar")),
            Segment(todo, self._style("back")),
            Segment(f"{row.done:5.0%} ", base),
            Segment(row.text, self._style("text")),
        ]
        return Strip(segments).crop_extend(0, width, base)
