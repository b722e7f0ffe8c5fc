"""Render a 28x28 grey digit as text: an ASCII ramp or dense Unicode half-blocks."""

from __future__ import annotations

import numpy as np

ASCII_RAMP = " .:-=+*#%@"
"""Darkest (background) to brightest ink, one character per pixel."""

# Half-block glyphs indexed by (top on, bottom on).
_HALF = {(False, False): " ", (True, False): "▀", (False, True): "▄", (True, True): "█"}


def _as_unit(image: np.ndarray) -> np.ndarray:
    """Grey levels scaled to [0, 1] as a 2-D float array."""
    pixels = np.asarray(image, dtype=np.float32)
    if pixels.ndim == 3 and pixels.shape[-1] == 1:
        pixels = pixels[..., 0]
    if pixels.ndim != 2:
        raise ValueError(f"expected a 2-D image, got shape {pixels.shape}")
    if pixels.size and pixels.max() > 1.0:
        pixels = pixels / 255.0
    return np.clip(pixels, 0.0, 1.0)


def render_ascii(image: np.ndarray, *, double_width: bool = True) -> list[str]:
    """One line per pixel row using :data:`ASCII_RAMP`.

    ``double_width`` repeats each character so the digit keeps its square shape in a
    terminal whose cells are about twice as tall as they are wide.
    """
    levels = np.minimum((_as_unit(image) * len(ASCII_RAMP)).astype(int), len(ASCII_RAMP) - 1)
    repeat = 2 if double_width else 1
    return ["".join(ASCII_RAMP[v] * repeat for v in row) for row in levels]


def render_halfblocks(image: np.ndarray, *, threshold: float = 0.35) -> list[str]:
    """Two pixel rows per line with ``▀ ▄ █``: a 28x28 digit becomes 28x14 cells."""
    on = _as_unit(image) >= threshold
    if on.shape[0] % 2:
        on = np.vstack([on, np.zeros((1, on.shape[1]), dtype=bool)])
    return [
        "".join(_HALF[(bool(t), bool(b))] for t, b in zip(top, bottom, strict=True))
        for top, bottom in zip(on[0::2], on[1::2], strict=True)
    ]


def halfblock_cells(image: np.ndarray) -> list[list[tuple[float, float]]]:
    """Grey levels of the (top, bottom) pixel behind each half-block cell.

    A front end that can colour cells draws ``▀`` with the top level as foreground
    and the bottom level as background, which shows the digit with all its shading.
    """
    unit = _as_unit(image)
    if unit.shape[0] % 2:
        unit = np.vstack([unit, np.zeros((1, unit.shape[1]), dtype=np.float32)])
    return [
        [(float(t), float(b)) for t, b in zip(top, bottom, strict=True)]
        for top, bottom in zip(unit[0::2], unit[1::2], strict=True)
    ]
