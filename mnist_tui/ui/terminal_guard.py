"""The one place the app's text leaves for the terminal, guarded: a character that a
terminal would obey rather than print (ESC, C1, bidi overrides, zero-width) never reaches
it, whichever widget shows it.

Textual writes every line of the screen through :meth:`textual.strip.Strip.render`; the
guard drops those characters from a line's text there. They take no cell, so the layout
is unchanged. Widgets that show text from files also pass it through
:func:`~mnist_tui.core.files.printable.printable`, so that a person sees them as escapes
(``\\x1b``); this guard is what holds for any place that does not.
"""

from __future__ import annotations

from rich.console import Console
from rich.segment import Segment
from textual.strip import Strip

from mnist_tui.core.files.printable import has_acting, strip_acting

_render = Strip.render


def _guarded_render(self: Strip, console: Console) -> str:
    if self._render_cache is None and any(
        not control and has_acting(text) for text, _style, control in self._segments
    ):
        self._segments = [
            segment if segment.control else Segment(strip_acting(segment.text), segment.style)
            for segment in self._segments
        ]
    return _render(self, console)


def install() -> None:
    """Guard every line the app writes (idempotent)."""
    Strip.render = _guarded_render  # type: ignore[method-assign]
