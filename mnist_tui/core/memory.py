"""How much memory a config needs to train, and how much this machine allows.

Pure arithmetic on the config (no TensorFlow), so the form and the CLI can refuse a
model that would not fit before anything is built.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Protocol


class ModelShape(Protocol):
    """The settings that decide a run's memory (a ``TrainConfig`` has them all)."""

    @property
    def architecture(self) -> str: ...
    @property
    def hidden_units(self) -> tuple[int, ...]: ...
    @property
    def conv_filters(self) -> tuple[int, ...]: ...
    @property
    def batch_size(self) -> int: ...
    @property
    def optimizer(self) -> str: ...
    @property
    def momentum(self) -> float: ...


FLOAT_BYTES = 4
ACTIVATION_COPIES = 3
"""Each layer output is kept for the backward pass, with its gradient and a workspace."""
OPTIMIZER_SLOTS = {"adam": 2, "adamw": 2, "nadam": 2, "rmsprop": 1, "sgd": 0}
"""Per-weight state of each optimizer (plus one momentum slot for sgd and rmsprop)."""
FALLBACK_MEMORY = 8 << 30
"""Assumed physical memory where the system cannot say."""


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes to train one config: weights with gradients and optimizer state, and one
    batch's activations."""

    weights: int
    activations: int

    @property
    def total(self) -> int:
        """Everything together."""
        return self.weights + self.activations


def _layer_sizes(config: ModelShape) -> tuple[int, list[int]]:
    """Parameters, and the per-sample size of every layer output."""
    params = 0
    outputs = [28 * 28]
    features = 28 * 28
    if config.architecture == "cnn":
        side, channels = 28, 1
        for filters in config.conv_filters:
            params += 9 * channels * filters + filters
            side -= 2  # 3x3 'valid' convolution
            outputs.append(side * side * filters)
            side //= 2  # 2x2 max-pool
            outputs.append(max(side, 0) * max(side, 0) * filters)
            channels = filters
        features = max(side, 0) * max(side, 0) * channels
        outputs.append(features)  # dropout
    for units in (*config.hidden_units, 10):
        params += features * units + units
        outputs.append(units)
        features = units
    if config.architecture != "cnn":
        outputs.append(config.hidden_units[-1])  # dropout
    return params, outputs


def parameter_count(config: ModelShape) -> int:
    """Trainable parameters of the model :func:`mnist_tui.core.engine.models.build_model` builds."""
    return _layer_sizes(config)[0]


def estimate_training_memory(config: ModelShape) -> MemoryEstimate:
    """A conservative estimate of the memory training ``config`` takes."""
    params, outputs = _layer_sizes(config)
    slots = OPTIMIZER_SLOTS.get(config.optimizer, 2)
    if config.optimizer in ("sgd", "rmsprop") and config.momentum > 0:
        slots += 1
    weights = FLOAT_BYTES * params * (2 + slots)  # weights, gradients, optimizer state
    activations = FLOAT_BYTES * config.batch_size * sum(outputs) * ACTIVATION_COPIES
    return MemoryEstimate(weights=weights, activations=activations)


def physical_memory() -> int:
    """This machine's memory in bytes (:data:`FALLBACK_MEMORY` where unknown)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return FALLBACK_MEMORY


def training_memory_limit() -> int:
    """At most half the machine's memory for one run: TensorFlow, the data, the app and
    the rest of the system need the other half."""
    return physical_memory() // 2


def memory_problem(config: ModelShape) -> str | None:
    """Why ``config`` would not fit in this machine's memory, or ``None``."""
    estimate = estimate_training_memory(config)
    limit = training_memory_limit()
    if estimate.total <= limit:
        return None
    return (
        f"needs about {_gb(estimate.total)} to train ({_gb(estimate.weights)} of weights "
        f"and {config.optimizer} state, {_gb(estimate.activations)} per batch of "
        f"{config.batch_size}); at most {_gb(limit)} here (half this machine's memory): "
        "use fewer or smaller layers or a smaller batch"
    )


def _gb(count: int) -> str:
    return f"{count / 1e9:.1f} GB"
