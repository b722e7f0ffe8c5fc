"""Where the default MLP's steady epoch goes: its training step, one part taken out at a time.

Each way is a fresh process that trains the default MLP (``TrainConfig()``: batch 512,
dropout 0.2, Adam on a cosine rate) on the real MNIST through a copy of the engine's
step (:mod:`mnist_tui.core.engine.fitting`: a ``tf.while_loop`` of steps, 16 a call,
each gathering its batch of uint8 digits, scaling it, calling the model in training
mode, taking the compiled loss, applying the optimizer and counting the right answers),
with one part changed:

- ``nodrop``: no dropout (``dropout=0``);
- ``sgd``: plain SGD instead of Adam;
- ``f32``: the digits stored as float32 in [0, 1], so a batch is only gathered;
- ``const``: the same batch every step (no gather of a new one);
- ``nometric``: no count of right answers;
- ``plainloss``: the loss function called directly rather than the compiled loss;
- ``all``: every one of these at once.

It prints the best of 4 steady epochs (after a first one) for each way, and the matmul
rate of ``train_speed.py``'s probe, to read each as a share of it (6 FLOP per parameter
per sample). Run: ``.venv/bin/python benchmarks/mlp_step.py``.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

WAYS = ("", "nodrop", "sgd", "f32", "const", "nometric", "plainloss", "all")
PARTS = ("nodrop", "sgd", "f32", "const", "nometric", "plainloss")
STEPS_PER_CALL = 16


def one_way(way: str) -> dict[str, float]:
    """Train the default MLP with ``way``'s change; its best steady epoch and its parameters."""
    import keras
    import numpy as np
    import tensorflow as tf

    from mnist_tui.core.config import TrainConfig
    from mnist_tui.core.data.mnist import load_mnist
    from mnist_tui.core.engine.models import build_loss, build_model, build_optimizer

    off = set(PARTS) if way == "all" else {way}
    data = load_mnist()
    config = TrainConfig()
    if "nodrop" in off:
        config = config.replace(dropout=0.0)
    keras.utils.set_random_seed(config.seed)
    batch, count = config.batch_size, len(data.x_train)
    steps = math.ceil(count / batch)
    model = build_model(config)
    optimizer = (
        keras.optimizers.SGD(0.01)
        if "sgd" in off
        else build_optimizer(config, steps * config.epochs)
    )
    model.compile(optimizer=optimizer, loss=build_loss(config), metrics=["accuracy"])
    images = tf.constant(data.x_train.astype(np.float32) / 255.0 if "f32" in off else data.x_train)
    labels = tf.constant(data.y_train.astype(np.int32))
    order = tf.Variable(np.random.default_rng(0).permutation(count).astype(np.int32))
    sums = tf.Variable(tf.zeros([3]))
    weights = model.trainable_variables
    optimizer.build(weights)
    loss_function = keras.losses.SparseCategoricalCrossentropy()

    def run(first: tf.Tensor, todo: tf.Tensor) -> tf.Tensor:
        def step(index: tf.Tensor) -> tf.Tensor:
            start = 0 if "const" in off else (first + index) * batch
            chosen = order[start : start + batch]
            x = tf.gather(images, chosen)
            if "f32" not in off:
                x = tf.cast(x, tf.float32) / 255.0
            y = tf.gather(labels, chosen)
            with tf.GradientTape() as tape:
                predicted = model(x, training=True)
                if "plainloss" in off:
                    loss = loss_function(y, predicted)
                else:
                    loss = model.compute_loss(x=x, y=y, y_pred=predicted, training=True)
            optimizer.apply(tape.gradient(loss, weights), weights)
            if "nometric" in off:
                added = sums.assign_add(tf.stack([loss, 0.0, 0.0]))
            else:
                size = tf.cast(tf.shape(chosen)[0], tf.float32)
                guesses = tf.argmax(predicted, axis=-1, output_type=tf.int32)
                right = tf.reduce_sum(tf.cast(tf.equal(guesses, y), tf.float32))
                added = sums.assign_add(tf.stack([loss * size, right, size]))
            with tf.control_dependencies([added]):
                return index + 1

        tf.while_loop(lambda index: index < todo, step, [tf.constant(0)], parallel_iterations=1)
        return sums.read_value()

    compiled = tf.function(run, input_signature=[tf.TensorSpec([], tf.int32)] * 2, autograph=False)
    epochs = []
    for _epoch in range(5):
        began = time.perf_counter()
        for first in range(0, steps, STEPS_PER_CALL):
            compiled(tf.constant(first), tf.constant(min(STEPS_PER_CALL, steps - first))).numpy()
        epochs.append(time.perf_counter() - began)
    return {"best": min(epochs[1:]), "params": float(model.count_params())}


def main() -> None:
    """Each way in a fresh process, then the matmul probe; one line each."""
    if len(sys.argv) > 2 and sys.argv[1] == "--way":
        print(json.dumps(one_way(sys.argv[2])))
        return
    sys.path.insert(0, os.path.dirname(__file__))
    from train_speed import run_json, run_matmul

    rows = []
    for way in WAYS:
        figures, _whole = run_json([sys.executable, "-I", __file__, "--way", way])
        rows.append((way or "as trained", figures))
        print(f"  {way or 'as trained':12} best steady epoch {figures['best']:.3f} s", flush=True)
    peak = run_matmul()
    print(f"\nmatmul probe: {peak:.1f} GFLOP/s; each way's share of it:")
    for name, figures in rows:
        rate = 6 * figures["params"] * 60_000 / figures["best"] / 1e9
        print(f"  {name:12} {figures['best']:.3f} s  {rate:6.1f} GFLOP/s  {rate / peak:.2f}")


if __name__ == "__main__":
    main()
