"""How training moved inside a model: at each epoch's end, every weighted layer's weight
and activation histograms, its share of dead ReLU units and its gradient norm, measured
on a few fixed training digits; sent as :class:`EpochDynamics` events and kept in the
run's ``dynamics.json`` (read back as hostile input, like ``run.json``)."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from threadpoolctl import ThreadpoolController

from mnist_tui.core.data.inputs import as_float_images
from mnist_tui.core.events import EpochDynamics, Histogram, LayerDynamics, TrainingEvent
from mnist_tui.core.files import strict_json
from mnist_tui.core.files.atomic import atomic_write_text
from mnist_tui.core.files.bounded_io import MIB, is_plain_file, read_text_bounded
from mnist_tui.core.files.printable import printable
from mnist_tui.core.inside.anatomy import block_end
from mnist_tui.core.inside.errors import InsideError

PROBE = 128
"""Training digits the activations and gradients are measured on, the same every epoch."""
BINS = 32
"""Bins of every histogram."""
DYNAMICS_FILE = "dynamics.json"
FORMAT = 1
MAX_BYTES = 16 * MIB
"""A ``dynamics.json`` larger than this is refused unread (1,000 epochs of a 4-layer
model take about 1.5 MB)."""
MAX_EPOCHS = 1000
MAX_LAYERS = 64
MAX_BINS = 256
MAX_COUNT = 10**12
MAX_VALUE = 1e30
MAX_NAME = 200
Derivative = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""An activation's slope from its input and output."""
DenseLayer = tuple[Any, np.ndarray, list[np.ndarray], list[np.ndarray]]
"""A Dense layer, its outputs, its parameters (kernel, bias) and their gradients."""


def _histogram(values: np.ndarray) -> Histogram:
    flat = np.asarray(values, dtype=np.float32).ravel()
    flat = flat[np.isfinite(flat)]
    if not flat.size:
        return Histogram(0.0, 0.0, (0,) * BINS)
    low, high = float(flat.min()), float(flat.max())
    if high <= low:
        high = low + 1e-6
    counts, _edges = np.histogram(flat, bins=BINS, range=(low, high))
    return Histogram(low, high, tuple(int(count) for count in counts))


def _watched(layers: Sequence[Any]) -> list[tuple[Any, Any, bool]]:
    """Each weighted layer, the layer whose output is its units' (:func:`block_end`) and
    whether those units are ReLUs."""
    return [
        (layer, *block_end(layers, position))
        for position, layer in enumerate(layers)
        if layer.trainable_weights and not isinstance(layer, keras.layers.BatchNormalization)
    ]


_FUNCTIONS: dict[str, tuple[Callable[[np.ndarray], np.ndarray], Derivative]] = {
    "relu": (lambda z: np.maximum(z, 0), lambda z, _a: (z > 0).astype(z.dtype)),
    "tanh": (np.tanh, lambda _z, a: 1 - a * a),
    "sigmoid": (lambda z: 1 / (1 + np.exp(-z)), lambda _z, a: a * (1 - a)),
    "linear": (lambda z: z, lambda z, _a: np.ones_like(z)),
}
"""The activations whose derivative :func:`_dense_pass` knows, by Keras's name."""
_PASSING = ("Flatten", "Reshape", "Dropout", "RandomTranslation", "RandomRotation")
"""Layers that are the identity at inference (or only reshape)."""


def _dense_pass(
    layers: Sequence[Any], images: np.ndarray, labels: np.ndarray
) -> list[DenseLayer] | None:
    """Each Dense layer, its outputs and its parameters' gradients, by numpy alone, for a
    model of Dense layers (an MLP): no TensorFlow op to start in the training's process
    (their first eager call costs about 150 ms). ``None`` for any other model."""
    denses = []
    for position, layer in enumerate(layers):
        if type(layer).__name__ in _PASSING:
            continue
        name = getattr(getattr(layer, "activation", None), "__name__", "")
        last = position == len(layers) - 1
        if not isinstance(layer, keras.layers.Dense) or not layer.use_bias:
            return None
        if not (name == "softmax" and last) and (name not in _FUNCTIONS or last):
            return None
        denses.append((layer, name, np.asarray(layer.kernel), np.asarray(layer.bias)))
    inputs, outputs, slopes = [], [], []
    hidden = images.reshape(len(images), -1).astype(np.float32)
    for _layer, name, kernel, bias in denses:
        inputs.append(hidden)
        raw = hidden @ kernel + bias
        if name == "softmax":
            exp = np.exp(raw - raw.max(axis=1, keepdims=True))
            hidden = exp / exp.sum(axis=1, keepdims=True)
            slopes.append(np.ones_like(raw))
        else:
            function, derivative = _FUNCTIONS[name]
            hidden = function(raw)
            slopes.append(derivative(raw, hidden))
        outputs.append(hidden)
    delta = outputs[-1].copy()
    delta[np.arange(len(labels)), labels] -= 1
    delta /= len(labels)
    found: list[DenseLayer] = []
    for place in range(len(denses) - 1, -1, -1):
        layer, _name, kernel, _bias = denses[place]
        delta = delta * slopes[place]
        found.append(
            (
                layer,
                outputs[place],
                [kernel, _bias],
                [inputs[place].T @ delta, delta.sum(axis=0)],
            )
        )
        delta = delta @ kernel.T
    return found[::-1]


def _measure_dense(found: list[DenseLayer], epoch: int, began: float) -> EpochDynamics:
    layers = []
    for layer, output, parameters, gradients in found:
        dead = float((output.max(axis=0) <= 0).mean()) if block_end([layer], 0)[1] else None
        values = np.concatenate([parameter.ravel() for parameter in parameters])
        layers.append(
            LayerDynamics(
                layer=layer.name,
                weights=_histogram(values),
                activations=_histogram(output),
                dead_share=dead,
                gradient_norm=math.sqrt(
                    sum(float((g.astype(np.float64) ** 2).sum()) for g in gradients)
                ),
            )
        )
    return EpochDynamics(epoch=epoch, layers=tuple(layers), seconds=time.perf_counter() - began)


def measure(
    model: Any, images: np.ndarray, labels: np.ndarray, epoch: int, *, fast: bool = True
) -> EpochDynamics:
    """One :class:`EpochDynamics` of ``model`` on float ``images`` (N, 28, 28) and labels:
    outputs at inference (no dropout), gradients of the mean cross-entropy. An MLP is
    measured in numpy (:func:`_dense_pass`) unless ``fast`` is off; any other model, and
    an MLP then, through TensorFlow."""
    began = time.perf_counter()
    layers = list(model.layers)
    dense = _dense_pass(layers, images, labels) if fast else None
    if dense is not None:
        return _measure_dense(dense, epoch, began)
    watched = _watched(layers)
    ends = {id(end) for _layer, end, _relu in watched}
    outputs: dict[int, Any] = {}
    with tf.GradientTape() as tape:
        hidden = tf.convert_to_tensor(images, dtype=tf.float32)
        for layer in layers:
            hidden = layer(hidden, training=False)
            if id(layer) in ends:
                outputs[id(layer)] = hidden
        loss = keras.losses.sparse_categorical_crossentropy(labels, hidden)
        loss = tf.reduce_mean(loss)
    weights = [layer.trainable_weights for layer, _end, _relu in watched]
    gradients = tape.gradient(loss, [variable for group in weights for variable in group])
    found: list[LayerDynamics] = []
    position = 0
    for (layer, end, relu), group in zip(watched, weights, strict=True):
        norm = 0.0
        for gradient in gradients[position : position + len(group)]:
            if gradient is not None:
                norm += float(tf.reduce_sum(tf.square(tf.convert_to_tensor(gradient))))
        position += len(group)
        values = np.concatenate([np.asarray(variable).ravel() for variable in group])
        output = np.asarray(outputs[id(end)])
        dead = None
        if relu:
            units = output.reshape(len(output), -1, output.shape[-1])
            dead = float((units.max(axis=(0, 1)) <= 0).mean())
        found.append(
            LayerDynamics(
                layer=layer.name,
                weights=_histogram(values),
                activations=_histogram(output),
                dead_share=dead,
                gradient_norm=math.sqrt(norm),
            )
        )
    return EpochDynamics(epoch=epoch, layers=tuple(found), seconds=time.perf_counter() - began)


class DynamicsRecorder(keras.callbacks.Callback):  # type: ignore[misc]
    """A training observer: at the end of each whole epoch (Keras's logs carry ``loss``),
    :func:`measure` on the first :data:`PROBE` training digits, send the result to
    ``sink`` and keep it in :attr:`epochs`."""

    def __init__(self, x: np.ndarray, y: np.ndarray, sink: Callable[[TrainingEvent], None]) -> None:
        super().__init__()
        self._images = as_float_images(x[:PROBE])
        self._labels = np.asarray(y[:PROBE], dtype=np.int64)
        self._sink = sink
        self.epochs: list[EpochDynamics] = []
        self._threads = ThreadpoolController()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if not len(self._labels) or len(self.epochs) >= MAX_EPOCHS:
            return
        # numpy's BLAS on one thread: its pool, woken beside TensorFlow's, cost 10 times
        # as much for these small products (benchmarks/inside_speed.py).
        with self._threads.limit(limits=1, user_api="blas"):
            event = measure(self.model, self._images, self._labels, epoch + 1)
        self.epochs.append(event)
        self._sink(event)


def to_dict(epochs: Sequence[EpochDynamics]) -> dict[str, Any]:
    """The JSON object of ``dynamics.json``."""
    return {
        "format": FORMAT,
        "probe": PROBE,
        "epochs": [
            {
                "epoch": item.epoch,
                "seconds": item.seconds,
                "layers": [
                    {
                        "layer": layer.layer,
                        "weights": vars(layer.weights) | {"counts": list(layer.weights.counts)},
                        "activations": vars(layer.activations)
                        | {"counts": list(layer.activations.counts)},
                        "dead_share": layer.dead_share,
                        "gradient_norm": layer.gradient_norm,
                    }
                    for layer in item.layers
                ],
            }
            for item in epochs
        ],
    }


def write_dynamics(run_path: Path, epochs: Sequence[EpochDynamics]) -> None:
    """Write ``dynamics.json`` into a run folder, atomically; ``OSError`` if it cannot."""
    atomic_write_text(run_path / DYNAMICS_FILE, strict_json.dumps(to_dict(epochs)))


def _refuse(value: str) -> Any:
    raise ValueError(f"{value} is not a number JSON allows")


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"{where} is not an object")
    return value


def _float(value: Any, where: str, low: float = -MAX_VALUE, high: float = MAX_VALUE) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{where} is not a number")
    if not (math.isfinite(value) and low <= value <= high):
        raise ValueError(f"{where} is out of range")
    return float(value)


def _int(value: Any, where: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{where} is not a whole number from {low} to {high:,}")
    return value


def _parse_histogram(value: Any, where: str) -> Histogram:
    item = _object(value, where)
    low = _float(item.get("low"), f"{where}.low")
    high = _float(item.get("high"), f"{where}.high")
    counts = item.get("counts")
    if not isinstance(counts, list) or not 1 <= len(counts) <= MAX_BINS or high < low:
        raise ValueError(f"{where} is not a histogram")
    return Histogram(
        low, high, tuple(_int(count, f"{where}.counts", 0, MAX_COUNT) for count in counts)
    )


def _parse_layer(value: Any, where: str) -> LayerDynamics:
    item = _object(value, where)
    name = item.get("layer")
    if not isinstance(name, str) or not 0 < len(name) <= MAX_NAME:
        raise ValueError(f"{where}.layer is not a layer's name")
    dead = item.get("dead_share")
    return LayerDynamics(
        layer=printable(name, lines=False),
        weights=_parse_histogram(item.get("weights"), f"{where}.weights"),
        activations=_parse_histogram(item.get("activations"), f"{where}.activations"),
        dead_share=None if dead is None else _float(dead, f"{where}.dead_share", 0.0, 1.0),
        gradient_norm=_float(item.get("gradient_norm"), f"{where}.gradient_norm", 0.0),
    )


def parse_dynamics(record: Any) -> tuple[EpochDynamics, ...]:
    """``dynamics.json``'s object checked field by field; ``ValueError`` naming the field."""
    item = _object(record, "the file")
    if item.get("format") != FORMAT:
        raise ValueError(f"format is not {FORMAT}")
    epochs = item.get("epochs")
    if not isinstance(epochs, list) or len(epochs) > MAX_EPOCHS:
        raise ValueError(f"epochs is not a list of at most {MAX_EPOCHS}")
    parsed = []
    for place, value in enumerate(epochs):
        where = f"epochs[{place}]"
        entry = _object(value, where)
        layers = entry.get("layers")
        if not isinstance(layers, list) or len(layers) > MAX_LAYERS:
            raise ValueError(f"{where}.layers is not a list of at most {MAX_LAYERS}")
        parsed.append(
            EpochDynamics(
                epoch=_int(entry.get("epoch"), f"{where}.epoch", 1, MAX_EPOCHS),
                layers=tuple(
                    _parse_layer(layer, f"{where}.layers[{n}]") for n, layer in enumerate(layers)
                ),
                seconds=_float(entry.get("seconds"), f"{where}.seconds", 0.0, 1e8),
            )
        )
    return tuple(parsed)


def read_dynamics(run_path: Path) -> tuple[EpochDynamics, ...]:
    """A run's recorded dynamics; ``()`` for a run saved without them. A file that is not
    sound (a link or device, too large, not strict JSON, a field out of its schema) is an
    :class:`InsideError` naming why."""
    path = run_path / DYNAMICS_FILE
    if not path.exists() and not path.is_symlink():
        return ()
    if not is_plain_file(path):
        raise InsideError(f"{DYNAMICS_FILE} is not a plain file (not read)")
    try:
        text = read_text_bounded(path, MAX_BYTES)
        return parse_dynamics(json.loads(text, parse_constant=_refuse))
    except (OSError, ValueError, RecursionError) as exc:
        raise InsideError(f"{DYNAMICS_FILE} was refused ({exc})") from None
