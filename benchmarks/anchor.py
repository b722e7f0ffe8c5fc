"""The anchor: tuomaso/train_mnist_fast (99% on MNIST in 0.76 s on a GPU), ported to Keras.

The recipe of its final notebook (``8_Final_00s76.ipynb``), kept as it is:

- inputs normalised by MNIST's mean and standard deviation (0.1307, 0.3081), the whole
  set in memory in the network's layout (N, 28, 28, 1) as float32, shuffled once before
  training (its ``data_saver.py``), then taken in order, batch by batch;
- Conv 5x5x24 -> 2x2 max-pool -> ReLU -> Conv 3x3x32 -> 2x2 max-pool -> ReLU -> Flatten
  -> Dense 256 ReLU -> Dense 10, with PyTorch's default initialisation (weights and
  biases uniform in +-1/sqrt(fan_in));
- cross-entropy on the logits (``log_softmax`` + ``nll_loss``);
- Adam with beta = (0.7, 0.9) and epsilon 1e-8, the rate following PyTorch's
  ``OneCycleLR(max_lr=0.01, total_steps=one epoch, cycle_momentum=False)``: cosine from
  0.01/25 up to 0.01 over the first 30% of the steps, then cosine down to 0.01/25/1e4;
- batch 256, one epoch.

The Keras side gets what any Keras user of the recipe would use and nothing of
mnist-tui's: the data as tensors in a ``tf.data`` pipeline built before the clock starts
(as the original loads it to the device before its ``%%timeit``), and ``fit``. The
training time is ``fit``'s, its first call's tracing included, as it is for a preset.

With ``--engine-loop`` the same network and schedule train through mnist-tui's own
loop instead of ``fit`` (:func:`mnist_tui.core.engine.fitting.fit_in_memory`, as a
preset does: the uint8 digits gathered batch by batch, the normalisation a first
``Rescaling`` layer, the digits reshuffled each epoch, so once for the one epoch), for
the anchor's time with the engine a preset gets.

Run: ``.venv/bin/python benchmarks/anchor.py [--seed N] [--steps-per-execution N]
[--engine-loop]``;
it prints one JSON line, ``{"seconds": ..., "cpu_seconds": ..., "accuracy": ...}``.
``train_speed.py`` runs it in a fresh process, alternately with the presets.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np
import tensorflow as tf

from mnist_tui.core.data.mnist import load_mnist
from mnist_tui.core.engine.fitting import fit_in_memory

MEAN, STD = 0.1307, 0.3081
MAX_LR, DIV_FACTOR, FINAL_DIV_FACTOR, PCT_START = 0.01, 25.0, 1e4, 0.3
BATCH = 256


def main() -> None:
    """Train the anchor once and print its training seconds and test accuracy."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--steps-per-execution",
        type=int,
        default=1,
        help="Keras's steps per compiled call (1, Keras's default, is the recipe's way: "
        "one step per Python iteration)",
    )
    parser.add_argument(
        "--engine-loop",
        action="store_true",
        help="train through mnist-tui's own loop (fit_in_memory) instead of Keras's fit",
    )
    args = parser.parse_args()
    print(json.dumps(train_anchor(args.seed, args.steps_per_execution, args.engine_loop)))


def train_anchor(
    seed: int, steps_per_execution: int = 1, engine_loop: bool = False
) -> dict[str, float]:
    """One epoch of the anchor recipe; its training seconds and its test accuracy."""
    data = load_mnist()
    keras.utils.set_random_seed(seed)

    def normalised(x: Any) -> Any:
        return ((x.astype(np.float32) / 255.0 - MEAN) / STD)[..., None]

    order = np.random.default_rng(seed).permutation(len(data.x_train))  # shuffled once
    x_train = normalised(data.x_train)[order]
    y_train = data.y_train[order].astype(np.int32)
    x_test = normalised(data.x_test)
    steps = math.ceil(len(x_train) / BATCH)
    train_set = (
        tf.data.Dataset.from_tensor_slices((x_train, y_train))
        .batch(BATCH)
        .prefetch(tf.data.AUTOTUNE)
    )

    def torch_init(fan_in: int) -> dict[str, Any]:  # PyTorch's: U(+-1/sqrt(fan_in)) both
        bound = 1 / math.sqrt(fan_in)
        return {
            "kernel_initializer": keras.initializers.VarianceScaling(1 / 3, "fan_in", "uniform"),
            "bias_initializer": keras.initializers.RandomUniform(-bound, bound),
        }

    inputs: list[Any] = [keras.Input(shape=(28, 28, 1))]
    if engine_loop:  # the engine feeds (N, 28, 28) digits in [0, 1]: normalised in the model
        inputs = [
            keras.Input(shape=(28, 28)),
            keras.layers.Reshape((28, 28, 1)),
            keras.layers.Rescaling(1 / STD, offset=-MEAN / STD),
        ]
    model = keras.Sequential(
        [
            *inputs,
            keras.layers.Conv2D(24, 5, **torch_init(1 * 5 * 5)),
            keras.layers.MaxPooling2D(2),
            keras.layers.ReLU(),
            keras.layers.Conv2D(32, 3, **torch_init(24 * 3 * 3)),
            keras.layers.MaxPooling2D(2),
            keras.layers.ReLU(),
            keras.layers.Flatten(),
            keras.layers.Dense(256, activation="relu", **torch_init(800)),
            keras.layers.Dense(10, **torch_init(256)),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(
            TorchOneCycle(MAX_LR, steps), beta_1=0.7, beta_2=0.9, epsilon=1e-8
        ),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
        steps_per_execution=steps_per_execution,
    )
    began, cpu = time.perf_counter(), time.process_time()
    if engine_loop:
        fit_in_memory(
            model,
            data.x_train,
            data.y_train,
            batch_size=BATCH,
            epochs=1,
            seed=seed,
            steps_per_call=steps_per_execution,
            callbacks=[],
        )
    else:
        model.fit(train_set, epochs=1, verbose=0)
    seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
    if engine_loop:
        x_test = data.x_test / np.float32(255.0)
    logits = model.predict(x_test, batch_size=2000, verbose=0)
    accuracy = float(np.mean(logits.argmax(axis=1) == data.y_test))
    return {"seconds": seconds, "cpu_seconds": cpu, "accuracy": accuracy}


def torch_one_cycle(step: float, total_steps: int) -> float:
    """PyTorch's ``OneCycleLR`` rate at ``step`` (two phases, cosine annealing), in Python:
    the reference :class:`TorchOneCycle` is checked against."""
    initial = MAX_LR / DIV_FACTOR
    final = initial / FINAL_DIV_FACTOR
    up_end = PCT_START * total_steps - 1
    down_end = total_steps - 1

    def anneal(start: float, end: float, pct: float) -> float:
        return end + (start - end) / 2 * (math.cos(math.pi * pct) + 1)

    if step <= up_end:
        return anneal(initial, MAX_LR, step / up_end)
    return anneal(MAX_LR, final, (step - up_end) / (down_end - up_end))


class TorchOneCycle(keras.optimizers.schedules.LearningRateSchedule):  # type: ignore[misc]
    """PyTorch's ``OneCycleLR`` (``anneal_strategy='cos'``, two phases) as a Keras schedule."""

    def __init__(self, max_lr: float, total_steps: int) -> None:
        super().__init__()
        self.max_lr, self.total_steps = max_lr, total_steps

    def __call__(self, step: Any) -> Any:
        ops = keras.ops
        step = ops.cast(step, "float32")
        initial = self.max_lr / DIV_FACTOR
        final = initial / FINAL_DIV_FACTOR
        up_end = PCT_START * self.total_steps - 1
        down_end = self.total_steps - 1

        def anneal(start: float, end: float, pct: Any) -> Any:
            return end + (start - end) / 2 * (ops.cos(math.pi * ops.clip(pct, 0.0, 1.0)) + 1)

        rising = anneal(initial, self.max_lr, step / up_end)
        falling = anneal(self.max_lr, final, (step - up_end) / (down_end - up_end))
        return ops.where(step <= up_end, rising, falling)

    def get_config(self) -> dict[str, Any]:
        return {"max_lr": self.max_lr, "total_steps": self.total_steps}


if __name__ == "__main__":
    main()
