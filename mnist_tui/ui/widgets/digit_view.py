"""Digits as text: shaded half-blocks or ASCII art, half-size thumbnails, and the bars of
a model's probabilities (one run's, or two compared runs' side by side)."""

from __future__ import annotations

import numpy as np
from rich.style import Style
from rich.text import Text

from mnist_tui.core.digits.textart import halfblock_cells, render_ascii
from mnist_tui.core.runs.comparison import DisagreementSet


def _grey(level: float) -> str:
    value = round(min(1.0, max(0.0, level)) * 255)
    return f"rgb({value},{value},{value})"


def shaded_digit(image: np.ndarray, threshold: float = 0.35) -> Text:
    """A digit as half-blocks, white ink on black, with every pixel's grey level kept.

    The glyph (``▀ ▄ █`` or space) follows the core's thresholded half-block form, so
    the shape reads even without colour; foreground and background carry the shading.
    """
    text = Text()
    for row_number, row in enumerate(halfblock_cells(image)):
        if row_number:
            text.append("\n")
        for top, bottom in row:
            top_on, bottom_on = top >= threshold, bottom >= threshold
            if top_on and bottom_on:
                glyph, ink, paper = "█", (top + bottom) / 2, 0.0
            elif bottom_on:
                glyph, ink, paper = "▄", bottom, top
            else:
                glyph, ink, paper = "▀", top, bottom
            if not (top_on or bottom_on):
                glyph = " " if max(top, bottom) < 0.05 else "▀"
            text.append(glyph, Style.parse(f"{_grey(ink)} on {_grey(paper)}"))
    return text


def ascii_digit(image: np.ndarray) -> Text:
    """A digit in plain ASCII (the core's :func:`render_ascii` ramp, no colour), the size
    of :func:`shaded_digit`: a character per pixel column, a line per two pixel rows
    (the brighter of the two, so thin strokes stay)."""
    pixels = np.asarray(image, dtype=np.float32)
    if pixels.size and pixels.max() > 1.0:
        pixels = pixels / 255.0
    if len(pixels) % 2:
        pixels = np.vstack([pixels, np.zeros((1, pixels.shape[1]), dtype=np.float32)])
    rows = pixels.reshape(-1, 2, pixels.shape[1]).max(axis=1)
    return Text("\n".join(render_ascii(rows, double_width=False)))


def half_size(image: np.ndarray) -> np.ndarray:
    """2x2 mean pooling: a 28x28 digit becomes 14x14 for the grid."""
    pixels = np.asarray(image, dtype=np.float32)
    pooled: np.ndarray = pixels.reshape(14, 2, 14, 2).mean(axis=(1, 3))
    return pooled


def probability_bars(probabilities: np.ndarray, true_label: int, width: int = 24) -> Text:
    """One bar per class; the prediction bold, the true class marked."""
    text = Text()
    predicted = int(np.argmax(probabilities))
    for digit, p in enumerate(probabilities):
        filled = round(float(p) * width)
        colour = "green" if digit == true_label else "red" if digit == predicted else "blue"
        marker = "◀ true" if digit == true_label else ""
        style = "bold" if digit == predicted else ""
        text.append(f"{digit} ", style=style)
        text.append("█" * filled, style=colour)
        text.append("░" * (width - filled), style="dim")
        text.append(f" {float(p):6.1%} {marker}\n", style=style)
    return text


def set_caption(which: DisagreementSet, first: str, second: str) -> str:
    """``A right, B wrong``: a set of disagreements in words, for runs ``first``/``second``."""
    return {
        "a_only": f"{first} right, {second} wrong",
        "b_only": f"{second} right, {first} wrong",
        "both_wrong": "both wrong",
    }[which]


def paired_probability_bars(
    first: np.ndarray, second: np.ndarray, true_label: int, letters: tuple[str, str], width: int = 8
) -> Text:
    """Two runs' probabilities side by side under a heading per run (its letter and
    prediction, correct or WRONG, and its confidence above its column), then a line per
    class: each run's prediction bold, red where wrong; the true class green and marked."""
    gap = "   "
    predicted = (int(np.argmax(first)), int(np.argmax(second)))
    runs = tuple(zip(letters, (first, second), predicted, strict=True))
    text = Text("  ")
    for letter, _, guess in runs:
        text.append(f"{letter} predicted {guess}".ljust(width + 7) + gap, style="bold")
    text.append("\n  ")
    for _, probabilities, guess in runs:
        right = guess == true_label
        text.append("correct" if right else "WRONG", style="bold green" if right else "bold red")
        text.append(
            f"{float(probabilities[guess]):.1%}".rjust(
                width + 7 - len("correct" if right else "WRONG")
            )
            + gap
        )
    text.append("\n")
    for digit in range(len(first)):
        text.append(f"{digit} ", style="bold" if digit == true_label else "")
        for _, probabilities, guess in runs:
            p = float(probabilities[digit])
            filled = round(p * width)
            colour = "green" if digit == true_label else "red" if digit == guess else "blue"
            text.append("█" * filled, style=colour)
            text.append("░" * (width - filled), style="dim")
            text.append(f" {p:6.1%}", style="bold" if digit == guess else "")
            text.append(gap)
        text.append("◀ true\n" if digit == true_label else "\n")
    return text
