"""Keras models and optimizers built from a :class:`TrainConfig`."""

from __future__ import annotations

from typing import Any

import keras

from mnist_tui.core.config import TrainConfig


def build_model(config: TrainConfig) -> keras.Model:
    """The model for ``config``; input is a 28x28 float image in [0, 1].

    ``mlp`` is the seed's network: Flatten, Dense hidden layers, Dropout, Dense(10)
    softmax. ``cnn`` follows Keras's mnist_convnet example: 3x3 conv + 2x2 max-pool
    blocks, Flatten, Dropout, an optional dense head, Dense(10) softmax.
    """
    layers: list[Any] = [keras.Input(shape=(28, 28), name="digit")]
    if config.architecture == "cnn":
        layers.append(keras.layers.Reshape((28, 28, 1)))
        for filters in config.conv_filters:
            layers.append(keras.layers.Conv2D(filters, 3, activation=config.activation))
            layers.append(keras.layers.MaxPooling2D(2))
        layers.append(keras.layers.Flatten())
        layers.append(keras.layers.Dropout(config.dropout))
        layers += [keras.layers.Dense(units, activation=config.activation)
                   for units in config.hidden_units]
    else:
        layers.append(keras.layers.Flatten())
        layers += [keras.layers.Dense(units, activation=config.activation)
                   for units in config.hidden_units]
        layers.append(keras.layers.Dropout(config.dropout))
    layers.append(keras.layers.Dense(10, activation="softmax", name="probabilities"))
    return keras.Sequential(layers, name=f"mnist_{config.architecture}")


def forward_flops(config: TrainConfig) -> int:
    """Multiply-adds x 2 of one sample's forward pass (dense and conv layers)."""
    flops = 0
    features = 28 * 28
    if config.architecture == "cnn":
        side, channels = 28, 1
        for filters in config.conv_filters:
            side -= 2  # 3x3 'valid' convolution
            flops += 2 * side * side * filters * channels * 9
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

    def __init__(self, base: float | keras.optimizers.schedules.LearningRateSchedule,
                 scale: float = 1.0) -> None:
        super().__init__()
        self.base = base
        self.scale = keras.Variable(scale, dtype="float32", trainable=False,
                                    name="learning_rate_scale")

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
        base = (keras.optimizers.schedules.serialize(self.base)
                if callable(self.base) else self.base)
        return {"base": base, "scale": self.scale_value}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> ScaledRate:
        base = config["base"]
        if isinstance(base, dict):
            base = keras.optimizers.schedules.deserialize(base)
        return cls(base, float(config.get("scale", 1.0)))


def build_optimizer(config: TrainConfig, total_steps: int) -> keras.optimizers.Optimizer:
    """The optimizer named in ``config``; its learning rate is a :class:`ScaledRate` over
    the configured schedule (constant or cosine decay), so it can be changed mid-run."""
    base: Any = config.learning_rate
    if config.lr_schedule == "cosine":
        base = keras.optimizers.schedules.CosineDecay(config.learning_rate,
                                                      max(1, total_steps))
    rate = ScaledRate(base)
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
