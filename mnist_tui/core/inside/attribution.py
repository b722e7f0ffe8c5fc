"""Where a model looks: integrated gradients from a black digit, or plain gradients, for
one digit and one class, with the completeness check that tells how far to trust them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import tensorflow as tf

from mnist_tui.core.data.inputs import as_float_images
from mnist_tui.core.inside.anatomy import Anatomy, anatomy
from mnist_tui.core.inside.errors import InsideError

Method = Literal["ig", "gradient"]
METHODS: tuple[Method, ...] = ("ig", "gradient")
Output = Literal["probability", "logit"]
STEPS = 64
"""Integrated gradients' steps from the baseline to the digit (trapezoid rule)."""
MAX_STEPS = 4096
"""While the completeness check fails, the steps are taken again four times as many, up
to this many (a sharp turn of the softmax along the path needs them)."""
TOLERANCE = 0.05
"""The completeness check passes when the attributions' sum is within this share of
``f(digit) - f(baseline)``."""
FLOOR = 0.01
"""The smallest ``|f(digit) - f(baseline)|`` the share is taken of: a class whose
probability hardly moved is judged on that absolute gap instead."""


@dataclass(frozen=True)
class Completeness:
    """The attributions' sum against what they explain, ``f(digit) - f(baseline)``."""

    total: float
    """The attributions' sum (for plain gradients, gradient x (digit - baseline))."""
    difference: float
    """``f(digit) - f(baseline)`` for the target class."""

    @property
    def error(self) -> float:
        """``|total - difference|`` as a share of ``|difference|`` (at least :data:`FLOOR`)."""
        return abs(self.total - self.difference) / max(abs(self.difference), FLOOR)

    @property
    def holds(self) -> bool:
        """Whether the sum is within :data:`TOLERANCE` of the difference."""
        return self.error <= TOLERANCE


@dataclass(frozen=True)
class Attribution:
    """How much each pixel of one digit moved the model's score for one class."""

    values: np.ndarray
    """(28, 28) float32: positive pixels raised the target's score, negative lowered it."""
    target: int
    method: Method
    output: Output
    """``probability``: the softmax's share for the target; ``logit``: its score before."""
    score: float
    """The target's ``output`` for the digit."""
    baseline_score: float
    """The target's ``output`` for the baseline (a black digit)."""
    completeness: Completeness
    steps: int
    """Integrated gradients' steps taken (1 for plain gradients)."""


def _scores(parts: Anatomy, images: tf.Tensor, target: int, output: Output) -> tf.Tensor:
    logits = parts.logits(images)
    scores = tf.nn.softmax(logits) if output == "probability" else logits
    return scores[:, target]


def _gradients(
    parts: Anatomy, images: np.ndarray, target: int, output: Output
) -> tuple[np.ndarray, np.ndarray]:
    """The target's scores and their gradients with respect to the pixels of ``images``."""
    tensor = tf.convert_to_tensor(images, dtype=tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(tensor)
        scores = _scores(parts, tensor, target, output)
    gradients = tape.gradient(scores, tensor)
    return np.asarray(scores, np.float64), np.asarray(gradients, np.float64)


def _integrated(
    parts: Anatomy, digit: np.ndarray, baseline: np.ndarray, target: int, output: Output, steps: int
) -> tuple[np.ndarray, float, float]:
    """Integrated gradients by the trapezoid rule over ``steps`` equal steps."""
    alphas = np.linspace(0.0, 1.0, steps + 1)
    path = baseline[None] + alphas[:, None, None] * (digit - baseline)[None]
    weights = np.full(steps + 1, 1.0 / steps)
    weights[[0, -1]] /= 2
    total = np.zeros_like(digit, dtype=np.float64)
    scores = np.zeros(steps + 1)
    for start in range(0, steps + 1, 128):  # bounded memory for a convnet
        chunk = slice(start, start + 128)
        scores[chunk], gradients = _gradients(parts, path[chunk], target, output)
        total += np.tensordot(weights[chunk], gradients, axes=1)
    return (digit - baseline) * total, float(scores[-1]), float(scores[0])


def attribute(
    model: Any,
    digit: np.ndarray,
    target: int,
    *,
    method: Method = "ig",
    output: Output = "probability",
    steps: int = STEPS,
) -> Attribution:
    """Attribute ``model``'s ``output`` for class ``target`` to the pixels of ``digit``
    (uint8, 28x28), from a black baseline.

    ``ig``: integrated gradients, ``steps`` of them, more while the completeness check
    fails (up to :data:`MAX_STEPS`). ``gradient``: the plain gradient at the digit (a saliency map),
    whose completeness is its first-order estimate, gradient x (digit - baseline).
    """
    if not 0 <= target < 10:
        raise InsideError(f"class {target} is not a digit (0 to 9)")
    pixels = np.asarray(digit)
    if pixels.shape != (28, 28):
        raise InsideError(f"a digit is 28x28 pixels, not {pixels.shape}")
    parts = anatomy(model)
    image = as_float_images(pixels).astype(np.float64)
    baseline = np.zeros_like(image)
    if method == "gradient":
        scores, gradients = _gradients(parts, np.stack([baseline, image]), target, output)
        values = gradients[1]
        total = float((values * (image - baseline)).sum())
        score, baseline_score, taken = float(scores[1]), float(scores[0]), 1
    else:
        taken = steps
        values, score, baseline_score = _integrated(parts, image, baseline, target, output, steps)
        total = float(values.sum())
        while not Completeness(total, score - baseline_score).holds and taken < MAX_STEPS:
            taken = min(MAX_STEPS, taken * 4)
            values, score, baseline_score = _integrated(
                parts, image, baseline, target, output, taken
            )
            total = float(values.sum())
    return Attribution(
        values=values.astype(np.float32),
        target=target,
        method=method,
        output=output,
        score=score,
        baseline_score=baseline_score,
        completeness=Completeness(total, score - baseline_score),
        steps=taken,
    )
