"""Signed pictures (weights, attributions) as text: a glyph ramp that reads without colour,
and a diverging palette (blue below zero, red above) for front ends that colour cells."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mnist_tui.core.events import Histogram

POSITIVE_RAMP = " .+*#"
"""Weak to strong positive values, one character each."""
NEGATIVE_RAMP = " ,-=%"
"""Weak to strong negative values."""
LEVELS = (0.1, 0.3, 0.55, 0.8)
"""The ``|value|`` (of the largest, 1) at which each next character of a ramp begins."""
NEGATIVE_RGB = (64, 128, 255)
POSITIVE_RGB = (255, 80, 64)
NEUTRAL_RGB = (24, 24, 24)


def signed_unit(values: np.ndarray, scale: float | None = None) -> np.ndarray:
    """``values`` divided by ``scale`` (default: their largest magnitude), in [-1, 1]."""
    array = np.nan_to_num(np.asarray(values, dtype=np.float32))
    top = float(np.abs(array).max()) if scale is None and array.size else (scale or 0.0)
    return np.clip(array / top, -1.0, 1.0) if top > 0 else np.zeros_like(array)


def row_pairs(picture: np.ndarray) -> np.ndarray:
    """A 2-D picture's rows averaged in pairs (an odd last row kept): one text line each."""
    array = np.asarray(picture, dtype=np.float32)
    if array.shape[0] % 2:
        array = np.vstack([array, array[-1:]])
    return np.asarray((array[0::2] + array[1::2]) / 2)


def glyph_rows(picture: np.ndarray, scale: float | None = None) -> list[str]:
    """A signed 2-D picture as text, two pixel rows per line: ``#*+.`` for positive, ``%=-,``
    for negative, blank near zero (a 28x28 picture is 28 characters by 14 lines)."""
    unit = row_pairs(signed_unit(picture, scale))
    levels = np.searchsorted(np.array(LEVELS), np.abs(unit), side="right")
    return [
        "".join(
            (POSITIVE_RAMP if value >= 0 else NEGATIVE_RAMP)[level]
            for value, level in zip(row, level_row, strict=True)
        )
        for row, level_row in zip(unit, levels, strict=True)
    ]


def diverging_rgb(value: float) -> tuple[int, int, int]:
    """The colour of a value in [-1, 1]: dark grey at 0, towards blue below, red above."""
    end = POSITIVE_RGB if value >= 0 else NEGATIVE_RGB
    share = min(1.0, abs(float(value))) ** 0.7
    return (
        round(NEUTRAL_RGB[0] + (end[0] - NEUTRAL_RGB[0]) * share),
        round(NEUTRAL_RGB[1] + (end[1] - NEUTRAL_RGB[1]) * share),
        round(NEUTRAL_RGB[2] + (end[2] - NEUTRAL_RGB[2]) * share),
    )


def diverging_hex(value: float) -> str:
    """:func:`diverging_rgb` as ``#rrggbb``."""
    red, green, blue = diverging_rgb(value)
    return f"#{red:02x}{green:02x}{blue:02x}"


def heat_grid(histograms: Sequence[Histogram], rows: int) -> tuple[np.ndarray, float, float]:
    """Histograms over epochs as one grid: a column per histogram (an epoch), ``rows`` bins
    from the lowest value of them all (row 0) to the highest, each column scaled to its
    fullest bin (1.0); and that lowest and highest value."""
    if not histograms:
        return np.zeros((rows, 0)), 0.0, 0.0
    low = min(h.low for h in histograms)
    high = max(h.high for h in histograms)
    grid = np.zeros((rows, len(histograms)))
    for column, histogram in enumerate(histograms):
        edges = np.linspace(histogram.low, histogram.high, len(histogram.counts) + 1)
        centres = (edges[:-1] + edges[1:]) / 2
        place = np.clip(((centres - low) / max(high - low, 1e-12) * rows).astype(int), 0, rows - 1)
        np.add.at(grid[:, column], place, np.asarray(histogram.counts, dtype=float))
        grid[:, column] /= max(grid[:, column].max(), 1.0)
    return grid, low, high
