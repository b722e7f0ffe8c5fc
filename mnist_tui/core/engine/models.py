"""Keras models and optimizers built from a :class:`TrainConfig`."""

from __future__ import annotations

import math
from typing import Any

import keras

from mnist_tui.core.config import AUGMENT_DEGREES, AUGMENT_SHIFT, TrainConfig

MONOTONE_ACTIVATIONS = frozenset({"relu", "elu", "selu", "tanh", "sigmoid"})
"""Activations that never decrease, so that max-pooling commutes with them (GELU and
swish dip below zero, so their blocks activate before pooling)."""


def build_model(config: TrainConfig) -> keras.Model:
    """The model for ``config``; input is a 28x28 float image in [0, 1].

    ``mlp`` is the seed's network: Flatten, then each Dense hidden layer followed by
    Dropout, then Dense(10) softmax. ``cnn`` follows Keras's mnist_convnet example: conv +
    2x2 max-pool blocks (the first kernel ``conv_kernel`` wide, the others 3x3), Flatten,
    Dropout, an optional dense head, Dense(10) softmax. Each block pools before it
    activates, as tuomaso/train_mnist_fast does: for a monotone activation that is the
    same function on a quarter of the values. With ``batch_norm``, the pooled maps are
    normalised before the activation (a quarter of the normalisation's work, and on
    this CPU a one-epoch CNN trains about a third quicker; docs/performance.md). With
    ``augment``, random shifts and rotations come first (active in training only).
    """
    layers: list[Any] = [keras.Input(shape=(28, 28), name="digit")]
    if config.augment == "on" or config.architecture == "cnn":
        layers.append(keras.layers.Reshape((28, 28, 1)))
    if config.augment == "on":  # active in training only; seeded by the run's seed
        shift = AUGMENT_SHIFT / 28
        layers += [
            keras.layers.RandomTranslation(shift, shift, fill_mode="constant"),
            keras.layers.RandomRotation(AUGMENT_DEGREES / 360, fill_mode="constant"),
        ]
    if config.architecture == "cnn":
        normalise = config.batch_norm == "on"
        pool_first = config.activation in MONOTONE_ACTIVATIONS
        for block, filters in enumerate(config.conv_filters):
            kernel = config.conv_kernel if block == 0 else 3
            if normalise:  # the normalisation's shift replaces the convolution's bias
                layers += [
                    keras.layers.Conv2D(filters, kernel, use_bias=False),
                    keras.layers.MaxPooling2D(2),
                    keras.layers.BatchNormalization(),
                    keras.layers.Activation(config.activation),
                ]
            elif pool_first:  # the same function as activating first, on a quarter
                layers += [
                    keras.layers.Conv2D(filters, kernel),
                    keras.layers.MaxPooling2D(2),
                    keras.layers.Activation(config.activation),
                ]
            else:
                layers += [
                    keras.layers.Conv2D(filters, kernel, activation=config.activation),
                    keras.layers.MaxPooling2D(2),
                ]
        layers.append(keras.layers.Flatten())
        layers.append(keras.layers.Dropout(config.dropout))
        layers += [
            keras.layers.Dense(units, activation=config.activation) for units in config.hidden_units
        ]
    else:
        layers.append(keras.layers.Flatten())
        for units in config.hidden_units:  # each hidden layer followed by its dropout
            layers += [
                keras.layers.Dense(units, activation=config.activation),
                keras.layers.Dropout(config.dropout),
            ]
    layers.append(keras.layers.Dense(10, activation="softmax", name="probabilities"))
    return keras.Sequential(layers, name=f"mnist_{config.architecture}")


def forward_flops(config: TrainConfig) -> int:
    """Multiply-adds x 2 of one sample's forward pass (dense and conv layers)."""
    flops = 0
    features = 28 * 28
    if config.architecture == "cnn":
        side, channels = 28, 1
        for block, filters in enumerate(config.conv_filters):
            kernel = config.conv_kernel if block == 0 else 3
            side -= kernel - 1  # 'valid' convolution
            flops += 2 * side * side * filters * channels * kernel * kernel
            side //= 2  # 2x2 max-pool
            channels = filters
        features = side * side * channels
    for units in (*config.hidden_units, 10):
        flops += 2 * features * units
        features = units
    return flops


@keras.saving.register_keras_serializable(package="mnist_tui")
class ScaledRate(keras.optimizers.schedules.LearningRateSchedule):  # type: ignore[misc]
    """The configured rate (a constant or a schedule) times a scale the user may change
    while training runs.

    The scale is a variable read inside the compiled train function, so assigning it
    (:meth:`set_scale`) acts at the next compiled call without retracing.
    """

    def __init__(
        self, base: float | keras.optimizers.schedules.LearningRateSchedule, scale: float = 1.0
    ) -> None:
        super().__init__()
        self.base = base
        self.scale = keras.Variable(
            scale, dtype="float32", trainable=False, name="learning_rate_scale"
        )

    def __call__(self, step: Any) -> Any:
        base = self.base(step) if callable(self.base) else self.base
        return keras.ops.multiply(keras.ops.cast(base, "float32"), self.scale)

    def set_scale(self, scale: float) -> None:
        """Multiply the configured rate by ``scale`` from the next compiled call on."""
        self.scale.assign(scale)

    @property
    def scale_value(self) -> float:
        """The current scale."""
        return float(keras.ops.convert_to_numpy(self.scale))

    def get_config(self) -> dict[str, Any]:
        base = keras.optimizers.schedules.serialize(self.base) if callable(self.base) else self.base
        return {"base": base, "scale": self.scale_value}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> ScaledRate:
        base = config["base"]
        if isinstance(base, dict):
            base = keras.optimizers.schedules.deserialize(base)
        return cls(base, float(config.get("scale", 1.0)))


@keras.saving.register_keras_serializable(package="mnist_tui")
class SmoothedCrossentropy(keras.losses.Loss):  # type: ignore[misc]
    """Cross-entropy against integer labels whose one-hot targets are smoothed: each
    keeps ``1 - smoothing`` (plus its share) and the other classes share the rest."""

    def __init__(
        self, smoothing: float, name: str = "smoothed_crossentropy", **kwargs: Any
    ) -> None:
        super().__init__(name=name, **kwargs)
        self.smoothing = float(smoothing)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        labels = keras.ops.cast(keras.ops.reshape(y_true, (-1,)), "int32")
        targets = keras.ops.one_hot(labels, keras.ops.shape(y_pred)[-1])
        return keras.losses.categorical_crossentropy(
            targets, y_pred, label_smoothing=self.smoothing
        )

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "smoothing": self.smoothing}


def build_loss(config: TrainConfig) -> str | keras.losses.Loss:
    """The training loss: Keras's sparse cross-entropy, smoothed when ``config`` asks."""
    if config.label_smoothing:
        return SmoothedCrossentropy(config.label_smoothing)
    return "sparse_categorical_crossentropy"


@keras.saving.register_keras_serializable(package="mnist_tui")
class OneCycle(keras.optimizers.schedules.LearningRateSchedule):  # type: ignore[misc]
    """A one-cycle rate: a linear warm-up from a tenth of ``peak`` over the first
    ``warmup`` fraction of ``total_steps``, then a cosine decay to zero at the end."""

    def __init__(self, peak: float, total_steps: int, warmup: float = 0.25) -> None:
        super().__init__()
        self.peak = float(peak)
        self.total_steps = max(1, int(total_steps))
        self.warmup = float(warmup)

    def __call__(self, step: Any) -> Any:
        ops = keras.ops
        step = ops.cast(step, "float32")
        warm = max(1.0, self.warmup * self.total_steps)
        rising = self.peak * (0.1 + 0.9 * ops.minimum(step / warm, 1.0))
        falling = ops.clip((step - warm) / max(1.0, self.total_steps - warm), 0.0, 1.0)
        decayed = self.peak * 0.5 * (1.0 + ops.cos(math.pi * falling))
        return ops.where(step < warm, rising, decayed)

    def get_config(self) -> dict[str, Any]:
        return {"peak": self.peak, "total_steps": self.total_steps, "warmup": self.warmup}


def build_optimizer(config: TrainConfig, total_steps: int) -> keras.optimizers.Optimizer:
    """The optimizer named in ``config``; its learning rate is a :class:`ScaledRate` over
    the configured schedule (constant, cosine decay or one cycle), so it can be changed
    mid-run."""
    base: Any = config.learning_rate
    if config.lr_schedule == "cosine":
        base = keras.optimizers.schedules.CosineDecay(config.learning_rate, max(1, total_steps))
    elif config.lr_schedule == "one_cycle":
        base = OneCycle(config.learning_rate, total_steps)
    return _optimizer(config, ScaledRate(base))


def _optimizer(config: TrainConfig, rate: Any) -> keras.optimizers.Optimizer:
    """Keras's optimizer named in ``config`` at ``rate`` (a number or a schedule)."""
    match config.optimizer:
        case "sgd":
            return keras.optimizers.SGD(rate, momentum=config.momentum, nesterov=True)
        case "rmsprop":
            return keras.optimizers.RMSprop(rate, momentum=config.momentum)
        case "adamw":
            return keras.optimizers.AdamW(rate)
        case "nadam":
            return keras.optimizers.Nadam(rate)
        case _:
            return keras.optimizers.Adam(rate)


def portable_model(model: keras.Model, config: TrainConfig) -> keras.Model:
    """A copy of the trained ``model`` made of standard Keras objects only, for saving:
    it loads with plain ``keras.models.load_model`` in any Python with Keras, no
    mnist-tui needed.

    Same layers and weights (batch-norm statistics included), so it predicts exactly as
    ``model`` does. Training-only machinery stays out: it is compiled with the configured
    optimizer at the configured rate as a constant (no steerable scale, no schedule;
    fresh optimizer state), plain sparse cross-entropy (the loss every run reports on
    the test digits, smoothed or not in training) and accuracy, so ``evaluate`` gives
    ``run.json``'s test figures and ``fit`` can fine-tune it.
    """
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    copy.compile(
        optimizer=_optimizer(config, float(config.learning_rate)),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    # Built, so the file holds as many optimizer variables as a loaded copy makes (else
    # Keras warns at every load that it skipped them).
    copy.optimizer.build(copy.trainable_variables)
    return copy
