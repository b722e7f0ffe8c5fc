"""A 2-D map drawn as a braille scatter (2x4 dots a character cell), with each cell's most
common class for its colour: pure numpy, for both front ends."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CLASS_COLOURS = (
    "#4e79a7",
    "#f28e2b",
    "#e15759",
    "#76b7b2",
    "#59a14f",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#bab0ac",
)
"""One colour per digit class (Tableau's 10), readable on a dark or light background."""
_BITS = np.array([[0, 3], [1, 4], [2, 5], [6, 7]])
"""The braille bit of the dot at (row, column) inside a cell."""


@dataclass(frozen=True)
class Frame:
    """Which part of the map a grid of ``width`` x ``height`` character cells shows."""

    left: float
    right: float
    bottom: float
    top: float
    width: int
    height: int

    @classmethod
    def around(cls, points: np.ndarray, width: int, height: int) -> Frame:
        """A frame holding every point of ``points`` (N, 2), with a small margin."""
        if not len(points):
            return cls(-1.0, 1.0, -1.0, 1.0, width, height)
        low, high = points.min(axis=0).astype(float), points.max(axis=0).astype(float)
        span = np.maximum(high - low, 1e-9) * 0.02
        return cls(
            low[0] - span[0], high[0] + span[0], low[1] - span[1], high[1] + span[1], width, height
        )

    def dots(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each point's dot column (0 to 2 x width - 1) and dot row (0 at the top)."""
        x = (points[:, 0] - self.left) / (self.right - self.left)
        y = (self.top - points[:, 1]) / (self.top - self.bottom)
        column = np.clip((x * 2 * self.width).astype(int), 0, 2 * self.width - 1)
        row = np.clip((y * 4 * self.height).astype(int), 0, 4 * self.height - 1)
        return column, row

    def cell(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each point's character cell: column and row."""
        column, row = self.dots(points)
        return column // 2, row // 4

    def position(self, column: float, row: float) -> tuple[float, float]:
        """The map's coordinates at the middle of the cell (``column``, ``row``)."""
        x = self.left + (column + 0.5) / self.width * (self.right - self.left)
        y = self.top - (row + 0.5) / self.height * (self.top - self.bottom)
        return x, y


@dataclass(frozen=True)
class Scatter:
    """A drawn map: one line of braille per row, and each cell's most common class."""

    lines: tuple[str, ...]
    classes: np.ndarray
    """(height, width): the most common class among a cell's points, -1 for none."""
    mistakes: np.ndarray
    """(height, width) bool: a cell holding at least one mistake."""


def draw(points: np.ndarray, classes: np.ndarray, mistakes: np.ndarray, frame: Frame) -> Scatter:
    """Draw ``points`` (N, 2) of ``classes`` (N,) in ``frame``; ``mistakes`` (N,) bool."""
    width, height = frame.width, frame.height
    column, row = frame.dots(points)
    cells = (row // 4) * width + column // 2
    masks = np.zeros(width * height, dtype=np.int64)
    np.bitwise_or.at(masks, cells, 1 << _BITS[row % 4, column % 2])
    counts = np.zeros((width * height, 10), dtype=np.int64)
    np.add.at(counts, (cells, np.asarray(classes, dtype=np.int64) % 10), 1)
    wrong = np.zeros(width * height, dtype=bool)
    np.logical_or.at(wrong, cells, np.asarray(mistakes, dtype=bool))
    majority = np.where(counts.sum(axis=1) > 0, counts.argmax(axis=1), -1)
    text = [chr(0x2800 + int(mask)) if mask else " " for mask in masks]
    lines = tuple("".join(text[r * width : (r + 1) * width]) for r in range(height))
    return Scatter(lines, majority.reshape(height, width), wrong.reshape(height, width))
