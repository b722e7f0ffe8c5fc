"""The one error of the inside views (no TensorFlow here, so front ends import it freely)."""

from __future__ import annotations

from mnist_tui.core.errors import MnistTuiError


class InsideError(MnistTuiError):
    """The inside of a model cannot be shown: not a model of ours, a bad digit index or
    class, a cached file refused."""


class Stopped(InsideError):
    """Work ended early because its caller no longer wants it."""
