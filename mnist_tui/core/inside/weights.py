"""What a model learned: its first layer's units (an MLP's 784 weights each, as a 28x28
picture; a convnet's filters), ordered by how much they matter, the test digits that
excite each most, and a convnet's feature maps for one digit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from mnist_tui.core.inside.anatomy import Anatomy, anatomy, block_end
from mnist_tui.core.inside.errors import InsideError


@dataclass(frozen=True)
class Unit:
    """One unit of the first layer: its incoming weights as a picture."""

    index: int
    """The unit's place in its layer."""
    picture: np.ndarray
    """Its weights as a 2-D picture: 28x28 for a Dense unit, KxK for a conv filter."""
    importance: float
    """How much the next layer reads it: the L2 norm of its outgoing weights."""


@dataclass(frozen=True)
class FirstLayer:
    """A model's first weighted layer, its units most important first."""

    layer: str
    kind: str
    """``dense`` (an MLP) or ``conv`` (a convnet's filters)."""
    units: tuple[Unit, ...]

    @property
    def scale(self) -> float:
        """One scale for every unit's picture, so they compare: the 99th percentile of the
        weights' magnitudes (a few outliers would leave the rest blank)."""
        if not self.units:
            return 0.0
        every = np.concatenate([np.abs(unit.picture).ravel() for unit in self.units])
        return float(np.percentile(every, 99))

    def page(self, number: int, size: int) -> tuple[Unit, ...]:
        """Units ``number * size`` to ``(number + 1) * size``."""
        return self.units[number * size : (number + 1) * size]

    def pages(self, size: int) -> int:
        """How many pages of ``size`` units there are."""
        return max(1, -(-len(self.units) // size))


def _first_weighted(parts: Anatomy) -> Any:
    """The first layer with a kernel (the head, for a model without hidden layers)."""
    return next(
        (layer for layer in parts.body if getattr(layer, "kernel", None) is not None), parts.head
    )


def _next_weighted(parts: Anatomy, layer: Any) -> Any:
    later = [*parts.body[parts.body.index(layer) + 1 :], parts.head]
    return next(item for item in later if getattr(item, "kernel", None) is not None)


def first_layer(model: Any) -> FirstLayer:
    """The first Dense or Conv2D layer's units, the most important first (ties by index)."""
    parts = anatomy(model)
    first = _first_weighted(parts)
    kernel = np.asarray(first.kernel, dtype=np.float32)
    following = _next_weighted(parts, first) if first is not parts.head else None
    if kernel.ndim == 2:
        if kernel.shape[0] != 28 * 28:
            raise InsideError("the first Dense layer does not read the 784 pixels")
        pictures = [kernel[:, unit].reshape(28, 28) for unit in range(kernel.shape[1])]
        outgoing = np.asarray(following.kernel) if following is not None else None
        if outgoing is not None and outgoing.ndim == 2 and outgoing.shape[0] == len(pictures):
            importance = np.linalg.norm(outgoing, axis=1)
        else:
            importance = np.linalg.norm(kernel, axis=0)
        kind = "dense"
    else:
        pictures = [kernel[:, :, 0, unit] for unit in range(kernel.shape[-1])]
        outgoing = np.asarray(following.kernel) if following is not None else None
        if outgoing is not None and outgoing.ndim == 4 and outgoing.shape[2] == len(pictures):
            per_filter = outgoing.transpose(2, 0, 1, 3).reshape(len(pictures), -1)
            importance = np.linalg.norm(per_filter, axis=1)
        else:
            importance = np.linalg.norm(kernel.reshape(-1, kernel.shape[-1]), axis=0)
        kind = "conv"
    order = sorted(range(len(pictures)), key=lambda unit: (-float(importance[unit]), unit))
    units = tuple(Unit(unit, pictures[unit], float(importance[unit])) for unit in order)
    return FirstLayer(layer=first.name, kind=kind, units=units)


class UnitActivations:
    """The first layer's outputs on a set of digits, computed once: which digits excite a
    unit most (a conv filter's strongest response anywhere in the digit)."""

    def __init__(self, model: Any, digits: np.ndarray) -> None:
        parts = anatomy(model)
        first = _first_weighted(parts)
        if first is parts.head:
            raise InsideError("this model has no hidden layer")
        (outputs,) = parts.outputs([first], digits)
        self.values = outputs.reshape(len(outputs), -1, outputs.shape[-1]).max(axis=1)
        """(N, units): each digit's strongest response of each unit."""

    def top(self, unit: int, count: int = 8) -> np.ndarray:
        """The indices of the ``count`` digits that excite ``unit`` most, strongest first."""
        column = self.values[:, unit]
        count = min(count, len(column))
        chosen = np.argpartition(-column, count - 1)[:count] if count else column[:0]
        return np.asarray(chosen[np.argsort(-column[chosen], kind="stable")], dtype=np.int64)


@dataclass(frozen=True)
class FeatureMaps:
    """One conv block's output for one digit: a picture per channel."""

    layer: str
    maps: np.ndarray
    """(channels, height, width) float32."""


def feature_maps(model: Any, digit: np.ndarray) -> tuple[FeatureMaps, ...]:
    """Each conv block's output (its convolution activated and pooled, :func:`block_end`)
    for one uint8 28x28 digit; empty for a model without convolutions."""
    parts = anatomy(model)
    ends = [
        block_end(parts.body, position)[0]
        for position, layer in enumerate(parts.body)
        if type(layer).__name__ == "Conv2D"
    ]
    if not ends:
        return ()
    outputs = parts.outputs(ends, np.asarray(digit)[None])
    return tuple(
        FeatureMaps(layer.name, np.moveaxis(output[0], -1, 0).astype(np.float32))
        for layer, output in zip(ends, outputs, strict=True)
    )
