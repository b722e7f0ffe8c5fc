"""Keras training on digits held in memory: many steps per compiled call, callbacks as
``fit`` drives them.

``model.fit`` spends about as long around each step as the MLP's arithmetic takes (its
data iterator, its loss and metric trackers, its loop): on this CPU a steady epoch of
the MLP at batch 256 took 0.60 s through ``fit`` and 0.45 s here, and its first epoch
0.95 s more than a steady one against 0.33 s (docs/performance.md). The step is the
one ``fit`` compiles (the model called in training mode, its compiled loss, the
optimizer's update), fed by gathering each batch from a per-epoch permutation of the
digits, held as one uint8 tensor for the whole run.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

LOSS, CORRECT, SEEN = 0, 1, 2
"""The epoch's running sums, in this order: loss x samples, correct answers, samples."""


class InMemoryFit:
    """One model's training over ``x`` (uint8 digits, N x 28 x 28) and ``y`` (labels),
    shuffled anew each epoch by a generator seeded with ``seed``.

    :meth:`run` takes ``count`` steps from step ``first`` of the current epoch in one
    compiled call and returns the epoch's running mean loss and accuracy, as Keras's
    logs hold them. The function is traced once: the step numbers are tensors.
    """

    def __init__(
        self, model: keras.Model, x: np.ndarray, y: np.ndarray, batch_size: int, seed: int
    ) -> None:
        self.model = model
        self.samples = len(x)
        self.batch_size = batch_size
        self.steps = math.ceil(self.samples / batch_size)
        self._images = tf.constant(x)
        self._labels = tf.constant(np.asarray(y, dtype=np.int32))
        self._order = tf.Variable(tf.zeros([self.samples], tf.int32), trainable=False)
        self._sums = tf.Variable(tf.zeros([3]), trainable=False)
        self._shuffler = np.random.default_rng(seed)
        self._weights = model.trainable_variables
        if not model.optimizer.built:
            model.optimizer.build(self._weights)
        self._run = tf.function(  # no autograph: its transpiling took ~0.15 s per run
            self._steps,
            input_signature=[tf.TensorSpec([], tf.int32), tf.TensorSpec([], tf.int32)],
            autograph=False,
        )

    def start_epoch(self) -> None:
        """A new order of the digits, and the running sums back to zero."""
        self._order.assign(self._shuffler.permutation(self.samples).astype(np.int32))
        self._sums.assign(tf.zeros([3]))

    def run(self, first: int, count: int) -> dict[str, float]:
        """Steps ``first`` to ``first + count - 1`` of this epoch; the epoch's logs so far."""
        loss, accuracy = self._run(tf.constant(first, tf.int32), tf.constant(count, tf.int32))
        return {"loss": float(loss), "accuracy": float(accuracy)}

    def _steps(self, first: tf.Tensor, count: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        def step(index: tf.Tensor) -> tf.Tensor:
            model, batch = self.model, self.batch_size
            start = (first + index) * batch
            chosen = self._order[start : start + batch]
            images = tf.cast(tf.gather(self._images, chosen), tf.float32) / 255.0
            labels = tf.gather(self._labels, chosen)
            with tf.GradientTape() as tape:
                predicted = model(images, training=True)
                loss = model.compute_loss(x=images, y=labels, y_pred=predicted, training=True)
            gradients = tape.gradient(loss, self._weights)
            model.optimizer.apply(gradients, self._weights)
            size = tf.cast(tf.shape(chosen)[0], tf.float32)
            guesses = tf.argmax(predicted, axis=-1, output_type=tf.int32)
            correct = tf.reduce_sum(tf.cast(tf.equal(guesses, labels), tf.float32))
            added = self._sums.assign_add(
                tf.stack([tf.cast(loss, tf.float32) * size, correct, size])
            )
            with tf.control_dependencies([added]):
                return index + 1

        # One step at a time: a step reads the weights the step before it updated.
        tf.while_loop(lambda index: index < count, step, [tf.constant(0)], parallel_iterations=1)
        sums = self._sums.read_value()
        return sums[LOSS] / sums[SEEN], sums[CORRECT] / sums[SEEN]


def fit_in_memory(
    model: keras.Model,
    x: np.ndarray,
    y: np.ndarray,
    *,
    batch_size: int,
    epochs: int,
    seed: int,
    steps_per_call: int,
    callbacks: Sequence[keras.callbacks.Callback],
) -> None:
    """Train the compiled ``model`` as ``fit`` would with these ``callbacks`` (each hook
    in the same order, with the same logs: running means of ``loss`` and ``accuracy``),
    ``steps_per_call`` steps per compiled call. A callback setting
    ``model.stop_training`` ends the run after the current call; the epoch it cut short
    still gets its ``on_epoch_end``, as with ``fit``."""
    fit = InMemoryFit(model, x, y, batch_size, seed)
    hooks = keras.callbacks.CallbackList(
        list(callbacks), model=model, epochs=epochs, steps=fit.steps, verbose=0
    )
    model.stop_training = False
    hooks.on_train_begin()
    logs: dict[str, float] = {}
    for epoch in range(epochs):
        fit.start_epoch()
        hooks.on_epoch_begin(epoch)
        done = 0
        while done < fit.steps and not model.stop_training:
            count = min(steps_per_call, fit.steps - done)
            hooks.on_train_batch_begin(done)
            logs = fit.run(done, count)
            done += count
            hooks.on_train_batch_end(done - 1, dict(logs))
        hooks.on_epoch_end(epoch, dict(logs))
        if model.stop_training:
            break
    hooks.on_train_end(dict(logs))
