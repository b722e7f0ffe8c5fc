"""The quick width of a text cell is the width Textual's own measure gives."""

from __future__ import annotations

import pytest
from rich.console import Console
from rich.text import Text
from textual.render import measure

from mnist_tui.ui.widgets.measured_table import quick_measure


@pytest.mark.parametrize(
    "text",
    [
        Text(""),
        Text("97.66%"),
        Text("two\nlines, the second longer"),
        Text("数字 and emoji 🙂", end=""),
        Text("a\\x1b[31m name", style="bold"),
        Text("trailing newline\n"),
        Text("x" * 500),
    ],
)
def test_a_text_cell_measures_as_textual_measures_it(text: Text) -> None:
    console = Console(width=80)
    assert quick_measure(console, text, 1) == measure(console, text, 1)


def test_other_cells_are_measured_by_textual() -> None:
    console = Console(width=80)
    assert quick_measure(console, "[b]markup[/b]", 1) == measure(console, "[b]markup[/b]", 1)
    assert quick_measure(console, Text("abc"), 1, container_width=2) == measure(
        console, Text("abc"), 1, container_width=2
    )
