"""The models' input form: uint8 digits as float32 in [0, 1] (no TensorFlow here)."""

from __future__ import annotations

import numpy as np


def as_float_images(x: np.ndarray) -> np.ndarray:
    """uint8 digits as float32 in [0, 1], the models' input."""
    return np.asarray(x, dtype=np.float32) / 255.0
