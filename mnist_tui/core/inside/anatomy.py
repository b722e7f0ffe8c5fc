"""A saved model's parts as the inside views read them: its layers in order, the first
weights, the last hidden layer and the logits before the softmax."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from mnist_tui.core.data.inputs import as_float_images
from mnist_tui.core.inside.errors import InsideError

BATCH = 1000
"""Digits per forward pass when a whole test set goes through a model."""


@dataclass(frozen=True)
class Anatomy:
    """A sequential digit classifier taken apart: every layer but the last, then the last
    Dense layer whose softmax gives the probabilities."""

    model: Any
    body: tuple[Any, ...]
    """Every layer before the last, in order."""
    head: Any
    """The last Dense layer (10 units, softmax)."""

    @property
    def architecture(self) -> str:
        """``cnn`` when a convolution is among its layers, else ``mlp``."""
        return "cnn" if self.convolutions else "mlp"

    @property
    def denses(self) -> tuple[Any, ...]:
        """The hidden Dense layers, in order (the head left out)."""
        return tuple(layer for layer in self.body if isinstance(layer, keras.layers.Dense))

    @property
    def convolutions(self) -> tuple[Any, ...]:
        """The Conv2D layers, in order."""
        return tuple(layer for layer in self.body if isinstance(layer, keras.layers.Conv2D))

    def features(self, images: np.ndarray, upto: Any | None = None) -> tf.Tensor:
        """The output of layer ``upto`` (default: the last hidden layer) for float images
        (N, 28, 28), at inference (no dropout, no augmentation)."""
        hidden: tf.Tensor = tf.convert_to_tensor(images, dtype=tf.float32)
        for layer in self.body:
            hidden = layer(hidden, training=False)
            if layer is upto:
                break
        return hidden

    def logits(self, images: tf.Tensor) -> tf.Tensor:
        """The head's scores before its softmax, for float images (N, 28, 28)."""
        hidden = self.features(images)
        kernel, bias = self.head.kernel, self.head.bias
        return tf.matmul(tf.reshape(hidden, (-1, kernel.shape[0])), kernel) + bias

    def outputs(self, layers: Sequence[Any], digits: np.ndarray) -> list[np.ndarray]:
        """The outputs of ``layers`` for uint8 digits (N, 28, 28), :data:`BATCH` at a time."""
        wanted = {id(layer): position for position, layer in enumerate(layers)}
        parts: list[list[np.ndarray]] = [[] for _ in layers]
        for start in range(0, len(digits), BATCH):
            hidden: tf.Tensor = tf.convert_to_tensor(as_float_images(digits[start : start + BATCH]))
            for layer in self.body:
                hidden = layer(hidden, training=False)
                if id(layer) in wanted:
                    parts[wanted[id(layer)]].append(np.asarray(hidden, dtype=np.float32))
        return [np.concatenate(part) if part else np.zeros((0,), np.float32) for part in parts]

    def last_hidden(self, digits: np.ndarray) -> np.ndarray:
        """The last hidden layer's outputs (N, features) for uint8 digits (N, 28, 28)."""
        (features,) = self.outputs([self.body[-1]], digits)
        return features.reshape(len(features), -1)


def anatomy(model: Any) -> Anatomy:
    """Take a digit classifier apart; :class:`InsideError` unless it is a sequential model
    of layers ending with a 10-unit Dense layer (every model mnist-tui trains is)."""
    layers = tuple(getattr(model, "layers", ()))
    if len(layers) < 2 or not isinstance(layers[-1], keras.layers.Dense):
        raise InsideError("this model does not end with a Dense layer: its inside is not shown")
    head = layers[-1]
    if head.units != 10 or not head.use_bias:
        raise InsideError("this model's last layer is not a 10-class Dense layer with a bias")
    return Anatomy(model=model, body=layers[:-1], head=head)


FOLLOWERS = ("MaxPooling2D", "BatchNormalization", "Activation")
"""Layers that finish a weighted layer's block: its pooling, normalisation and activation
(in either order: a block may pool before it activates)."""


def block_end(layers: Sequence[Any], position: int) -> tuple[Any, bool]:
    """The last layer of the block that the weighted layer ``layers[position]`` begins (the
    layer itself, or the pooling, normalisation and activation right after it), and whether
    the block's units are ReLUs."""
    end = layers[position]
    relu = _is_relu(end)
    for after in layers[position + 1 :]:
        if type(after).__name__ not in FOLLOWERS:
            break
        end, relu = after, relu or _is_relu(after)
    return end, relu


def _is_relu(layer: Any) -> bool:
    return getattr(getattr(layer, "activation", None), "__name__", "") == "relu"
