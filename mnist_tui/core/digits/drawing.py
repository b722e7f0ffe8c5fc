"""A hand-drawn digit: a 28x28 ink canvas, the preprocessing that made MNIST's digits, and
the test digits nearest to a drawing (pure numpy; Keras only inside :func:`predictor`).

Canvas coordinates are pixel units with pixel ``(r, c)`` centred on ``(r, c)``; a canvas
holds ink levels in ``[0, 1]`` (0 paper, 1 full ink) as float32.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from mnist_tui.core.data.inputs import as_float_images

SIDE = 28
"""A canvas and an MNIST digit are ``SIDE`` x ``SIDE`` pixels."""
BOX = 20
"""MNIST scales a digit's ink so that its longer side fits this many pixels."""
CENTRE = 14.0
"""Where MNIST puts a digit's centre of mass (row and column, pixel-centre coordinates)."""
BRUSH_RADIUS = 1.5
"""Radius of the inking brush: a stroke about 3 pixels wide, as wide as MNIST's once a
digit filling the canvas is scaled into :data:`BOX`."""
ERASER_RADIUS = 2.0
"""Radius of the eraser."""
ERASE_FLOOR = 0.05
"""Ink fainter than this after erasing is wiped, so an eraser leaves no smudge that would
widen the digit's bounding box."""
INK_FLOOR = 0.5 / 255
"""Fainter levels round to 0 in uint8 and are paper when the ink is cropped."""

_GRID = np.arange(SIDE, dtype=np.float32)


def blank_canvas() -> np.ndarray:
    """An empty (all paper) canvas."""
    return np.zeros((SIDE, SIDE), dtype=np.float32)


def as_unit(image: np.ndarray) -> np.ndarray:
    """A 28x28 image as float32 ink levels in ``[0, 1]``: integer images are read as
    0-255 grey levels, float images as ink levels already."""
    pixels = np.asarray(image)
    if pixels.shape != (SIDE, SIDE):
        raise ValueError(f"expected a {SIDE}x{SIDE} image, got shape {pixels.shape}")
    scale = 255.0 if np.issubdtype(pixels.dtype, np.integer) else 1.0
    unit: np.ndarray = np.clip(pixels.astype(np.float32) / scale, 0.0, 1.0)
    return unit


def brush(
    start: tuple[float, float], end: tuple[float, float] | None = None, radius: float = BRUSH_RADIUS
) -> np.ndarray:
    """Coverage in ``[0, 1]`` of a round brush of ``radius`` dragged from ``start`` to
    ``end`` (a dot when ``end`` is None): 1 within ``radius - 0.5`` of the path, falling
    linearly to 0 at ``radius + 0.5`` (an anti-aliased edge)."""
    (r0, c0), (r1, c1) = start, end if end is not None else start
    rows, cols = _GRID[:, None] - r0, _GRID[None, :] - c0
    dr, dc = r1 - r0, c1 - c0
    length2 = dr * dr + dc * dc
    t = np.clip((rows * dr + cols * dc) / length2, 0.0, 1.0) if length2 else 0.0
    distance = np.hypot(rows - t * dr, cols - t * dc)
    coverage: np.ndarray = np.clip(radius + 0.5 - distance, 0.0, 1.0).astype(np.float32)
    return coverage


def stroke(
    canvas: np.ndarray,
    row: float,
    col: float,
    ink: bool = True,
    *,
    to: tuple[float, float] | None = None,
) -> np.ndarray:
    """A new canvas: ``canvas`` with a brush dab at ``(row, col)`` (or a stroke from there
    to ``to``) inked, or erased when ``ink`` is False. Points may lie off the canvas; only
    the part of the brush on it counts. ``canvas`` itself is not changed."""
    base = np.asarray(canvas, dtype=np.float32)
    if ink:
        inked: np.ndarray = np.maximum(base, brush((row, col), to, BRUSH_RADIUS))
        return inked
    erased = base * (1.0 - brush((row, col), to, ERASER_RADIUS))
    erased[erased < ERASE_FLOOR] = 0.0
    return erased


def _resample_matrix(source: int, target: int) -> np.ndarray:
    """(target, source) weights resizing a line of pixels: the area each target pixel
    covers when shrinking (every source pixel counted once), linear interpolation
    between pixel centres when growing."""
    weights = np.zeros((target, source), dtype=np.float64)
    if target <= source:
        step = source / target
        for i in range(target):
            low, high = i * step, (i + 1) * step
            for j in range(int(np.floor(low)), min(source, int(np.ceil(high)))):
                weights[i, j] = (min(high, j + 1) - max(low, j)) / step
    else:
        positions = np.clip((np.arange(target) + 0.5) * source / target - 0.5, 0, source - 1)
        below = np.floor(positions).astype(int)
        above = np.minimum(below + 1, source - 1)
        fraction = positions - below
        weights[np.arange(target), below] += 1.0 - fraction
        weights[np.arange(target), above] += fraction
    return weights


def _place_matrix(source: int, shift: int) -> np.ndarray:
    """(SIDE, source) weights moving a line of pixels by whole ``shift`` pixels onto the
    canvas; what lands off it is dropped."""
    weights: np.ndarray = np.arange(SIDE)[:, None] == np.arange(source)[None, :] + shift
    return weights.astype(np.float64)


def mnist_input(canvas: np.ndarray) -> np.ndarray:
    """A 28x28 ``canvas`` (ink levels in [0, 1] or uint8 grey levels) as an MNIST digit:
    :func:`mnist_digit` of its ink."""
    return mnist_digit(as_unit(canvas))


def mnist_digit(ink: np.ndarray) -> np.ndarray:
    """A 2-D ink image of any shape (levels in [0, 1], 0 paper) as an MNIST digit (uint8
    0-255, 28x28), made as MNIST's were: the ink's bounding box scaled (anti-aliased,
    aspect kept) so its longer side is :data:`BOX` pixels, then moved by whole pixels (no
    blur, as MNIST's were) to put its centre of mass within half a pixel of
    (:data:`CENTRE`, :data:`CENTRE`). No ink gives all zeros. Its cost grows with the
    image's area: downscale a large image first (:mod:`mnist_tui.core.digits.images` does)."""
    unit = np.asarray(ink, dtype=np.float64)
    if unit.ndim != 2:
        raise ValueError(f"expected a 2-D image, got shape {unit.shape}")
    ink_mask = unit >= INK_FLOOR
    if not ink_mask.any():
        return np.zeros((SIDE, SIDE), dtype=np.uint8)
    rows, cols = np.flatnonzero(ink_mask.any(axis=1)), np.flatnonzero(ink_mask.any(axis=0))
    crop = np.where(ink_mask, np.minimum(unit, 1.0), 0.0)[
        rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1
    ]
    height, width = crop.shape
    scale = BOX / max(height, width)
    new_height, new_width = max(1, round(height * scale)), max(1, round(width * scale))
    small = _resample_matrix(height, new_height) @ crop @ _resample_matrix(width, new_width).T
    mass = small.sum()
    centre_row = float(small.sum(axis=1) @ np.arange(new_height)) / mass
    centre_col = float(small.sum(axis=0) @ np.arange(new_width)) / mass
    placed = (
        _place_matrix(new_height, round(CENTRE - centre_row))
        @ small
        @ _place_matrix(new_width, round(CENTRE - centre_col)).T
    )
    digit: np.ndarray = np.clip(np.rint(placed * 255.0), 0, 255).astype(np.uint8)
    return digit


def centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    """(row, column) of an image's centre of mass in pixel-centre coordinates; the
    canvas centre for an empty image."""
    unit = as_unit(image).astype(np.float64)
    mass = unit.sum()
    if not mass:
        return (SIDE - 1) / 2, (SIDE - 1) / 2
    return (
        float(unit.sum(axis=1) @ np.arange(SIDE)) / mass,
        float(unit.sum(axis=0) @ np.arange(SIDE)) / mass,
    )


class NearestDigits:
    """Nearest-neighbour search in pixel space over a fixed set of uint8 digits.

    Built once (a float32 copy of the digits, 4 bytes a pixel); each query is one
    matrix-vector product, with the closest candidates then ranked by their exact
    integer distances (ties to the lower index).
    """

    def __init__(self, images: np.ndarray) -> None:
        digits = np.asarray(images)
        if digits.ndim != 3 or digits.shape[1:] != (SIDE, SIDE):
            raise ValueError(f"expected (n, {SIDE}, {SIDE}) digits, got shape {digits.shape}")
        self._exact = digits.reshape(len(digits), SIDE * SIDE).astype(np.uint8, copy=False)
        self._matrix = self._exact.astype(np.float32)
        self._norms = np.einsum("ij,ij->i", self._matrix, self._matrix)

    def __len__(self) -> int:
        return len(self._exact)

    def query(self, image: np.ndarray, k: int = 3) -> np.ndarray:
        """Indices of the ``k`` digits closest to ``image`` (uint8 28x28), nearest first."""
        if k <= 0 or not len(self._exact):
            return np.zeros(0, dtype=np.int64)
        target = np.asarray(image, dtype=np.uint8).reshape(-1)
        approx = self._norms - 2.0 * (self._matrix @ target.astype(np.float32))
        shortlist = min(len(approx), k + 32)
        candidates = np.argpartition(approx, shortlist - 1)[:shortlist]
        differences = self._exact[candidates].astype(np.int32) - target.astype(np.int32)
        exact = np.einsum("ij,ij->i", differences, differences)
        order = np.lexsort((candidates, exact))
        nearest: np.ndarray = candidates[order][:k].astype(np.int64)
        return nearest


def nearest_digits(image: np.ndarray, x_test: np.ndarray, k: int = 3) -> np.ndarray:
    """Indices of the ``k`` digits of ``x_test`` nearest to ``image`` in pixel space
    (Euclidean), nearest first. For repeated queries keep a :class:`NearestDigits`."""
    return NearestDigits(x_test).query(image, k)


Predict = Callable[[np.ndarray], np.ndarray]
"""Class probabilities (n, 10) for a batch of uint8 digits (n, 28, 28)."""


def predictor(model: Any) -> Predict:
    """A :data:`Predict` calling the Keras ``model`` as the app feeds models (grey levels
    scaled to float32 in [0, 1]), one batch per call, safe to call from a worker thread.
    Keras is imported here (the model exists, so it is loaded already)."""

    def predict(images: np.ndarray) -> np.ndarray:
        batch = np.asarray(images, dtype=np.uint8).reshape(-1, SIDE, SIDE)
        return np.asarray(model.predict_on_batch(as_float_images(batch)), dtype=np.float32)

    return predict
