"""The model builder, the one-cycle rate and the smoothed loss: the pieces the fast
CNN presets are made of."""

from __future__ import annotations

import itertools
import math

import keras
import numpy as np
import pytest

from mnist_tui.core.config import TrainConfig, applies
from mnist_tui.core.data.mnist import MnistData
from mnist_tui.core.engine.evaluation import evaluate_model
from mnist_tui.core.engine.models import (
    OneCycle,
    SmoothedCrossentropy,
    build_loss,
    build_model,
    forward_flops,
)
from mnist_tui.core.engine.training import train


def test_one_cycle_warms_up_from_a_tenth_then_decays_to_zero() -> None:
    schedule = OneCycle(0.01, 100)
    rates = [float(schedule(step)) for step in range(101)]
    assert rates[0] == pytest.approx(0.001)
    assert rates[25] == pytest.approx(0.01)
    assert max(rates) == pytest.approx(0.01)
    assert rates[100] == pytest.approx(0.0, abs=1e-9)
    assert all(a < b for a, b in itertools.pairwise(rates[:26]))  # rising
    assert all(a >= b for a, b in itertools.pairwise(rates[25:]))  # falling
    assert rates[int(25 + 75 / 2)] == pytest.approx(0.005, rel=0.05)  # cosine's middle
    again = OneCycle.from_config(schedule.get_config())
    assert [float(again(s)) for s in (0, 30, 99)] == [rates[0], rates[30], rates[99]]


def test_smoothed_loss_is_the_plain_one_at_zero_and_the_formula_above() -> None:
    rng = np.random.default_rng(0)
    probabilities = rng.dirichlet(np.ones(10), size=8).astype("float32")
    labels = rng.integers(0, 10, size=8)
    plain = float(keras.losses.SparseCategoricalCrossentropy()(labels, probabilities))
    assert float(SmoothedCrossentropy(0.0)(labels, probabilities)) == pytest.approx(plain, rel=1e-5)
    targets = np.full((8, 10), 0.1 / 10)
    targets[np.arange(8), labels] += 0.9
    expected = float(np.mean(-(targets * np.log(probabilities)).sum(axis=1)))
    assert float(SmoothedCrossentropy(0.1)(labels, probabilities)) == pytest.approx(
        expected, rel=1e-4
    )
    assert build_loss(TrainConfig()) == "sparse_categorical_crossentropy"
    assert isinstance(build_loss(TrainConfig(label_smoothing=0.1)), SmoothedCrossentropy)


def test_the_cnn_takes_its_first_kernel_and_batch_norm_from_the_config() -> None:
    config = TrainConfig(
        architecture="cnn",
        conv_filters=(16, 32),
        conv_kernel=5,
        batch_norm="on",
        hidden_units=(128,),
    )
    model = build_model(config)
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert [c.kernel_size for c in convs] == [(5, 5), (3, 3)]
    assert [c.use_bias for c in convs] == [False, False]
    assert sum(isinstance(layer, keras.layers.BatchNormalization) for layer in model.layers) == 2
    assert model.output_shape == (None, 10)
    # 28 -5+1 = 24 -> 12 -3+1 = 10 -> 5: 16*25*24*24 + 32*16*9*10*10 + 800*128 + 128*10
    assert forward_flops(config) == 2 * (
        16 * 25 * 24 * 24 + 32 * 16 * 9 * 100 + 800 * 128 + 128 * 10
    )
    plain = build_model(TrainConfig(architecture="cnn"))
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in plain.layers)


def _block_names(config: TrainConfig) -> list[str]:
    """The layer kinds of ``config``'s first conv block, after the reshape."""
    names = [type(layer).__name__ for layer in build_model(config).layers]
    return names[1:5]


def test_each_conv_block_pools_before_it_activates_when_that_is_the_same_function() -> None:
    cnn = TrainConfig(architecture="cnn")
    # Batch norm: the pooled maps are normalised, then activated.
    assert _block_names(cnn.replace(batch_norm="on")) == [
        "Conv2D",
        "MaxPooling2D",
        "BatchNormalization",
        "Activation",
    ]
    # ReLU commutes with max-pooling: pool first, activate a quarter of the values.
    assert _block_names(cnn)[:3] == ["Conv2D", "MaxPooling2D", "Activation"]
    plain = build_model(cnn)
    digits = np.random.default_rng(0).random((4, 28, 28)).astype("float32")
    activated_first = keras.Sequential(
        [
            keras.Input(shape=(28, 28)),
            keras.layers.Reshape((28, 28, 1)),
            keras.layers.Conv2D(32, 3, activation="relu"),
            keras.layers.MaxPooling2D(2),
        ]
    )
    activated_first.layers[1].set_weights(plain.layers[1].get_weights())
    pooled_first = keras.Model(plain.inputs[0], plain.layers[3].output)
    assert np.allclose(pooled_first(digits), activated_first(digits), atol=1e-6)
    # GELU dips below zero, so it does not commute: its blocks activate first.
    gelu = [type(layer).__name__ for layer in build_model(cnn.replace(activation="gelu")).layers]
    assert gelu[1:3] == ["Conv2D", "MaxPooling2D"]
    assert build_model(cnn.replace(activation="gelu")).layers[1].activation.__name__ == "gelu"


def test_augmenting_shifts_and_turns_training_digits_only() -> None:
    model = build_model(TrainConfig(augment="on"))
    names = [type(layer).__name__ for layer in model.layers]
    assert names[:3] == ["Reshape", "RandomTranslation", "RandomRotation"]
    digit = np.zeros((1, 28, 28), dtype="float32")
    digit[0, 10:18, 12:16] = 1.0
    first = model.layers[1]  # the translation, alone
    image = digit.reshape(1, 28, 28, 1)
    assert np.array_equal(np.asarray(first(image, training=False)), image)
    moved = [np.asarray(first(image, training=True)) for _ in range(8)]
    assert any(not np.array_equal(m, image) for m in moved)
    for m in moved:  # at most 2 pixels each way: the stroke's box stays within
        rows, cols = np.nonzero(m[0, :, :, 0] > 0.5)
        assert rows.min() >= 8 and rows.max() <= 19 and cols.min() >= 10 and cols.max() <= 17
    # Predicting is deterministic: the random layers are off outside training.
    assert np.array_equal(model.predict(digit, verbose=0), model.predict(digit, verbose=0))


@pytest.mark.parametrize(
    ("name", "value", "reason"),
    [
        ("conv_kernel", 2, "between 3 and 7"),
        ("conv_kernel", 9, "between 3 and 7"),
        ("batch_norm", "yes", "not one of: off, on"),
        ("label_smoothing", 0.5, "must be in [0, 0.5)"),
        ("lr_schedule", "step", "cosine, one_cycle, constant"),
        ("augment", "maybe", "not one of: off, on"),
    ],
)
def test_the_new_settings_refuse_bad_values(name: str, value: object, reason: str) -> None:
    with pytest.raises(
        ValueError, match=reason.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")
    ):
        TrainConfig.from_dict({name: value})


def test_the_conv_settings_apply_to_the_cnn_only() -> None:
    mlp, cnn = TrainConfig(), TrainConfig(architecture="cnn")
    for name in ("conv_kernel", "batch_norm", "conv_filters"):
        assert not applies(name, mlp)
        assert applies(name, cnn)
    assert TrainConfig(conv_kernel=5, batch_norm="on").summary() == "mlp 128"
    assert TrainConfig(
        architecture="cnn",
        conv_kernel=5,
        batch_norm="on",
        label_smoothing=0.1,
        lr_schedule="one_cycle",
    ).summary() == ("cnn conv32-64 128 k=5 bn=on schedule=one_cycle ls=0.1")


def test_a_smoothed_one_cycle_cnn_trains_and_its_saved_model_loads(small_data: MnistData) -> None:
    config = TrainConfig(
        architecture="cnn",
        conv_filters=(8, 16),
        conv_kernel=5,
        batch_norm="on",
        hidden_units=(32,),
        lr_schedule="one_cycle",
        label_smoothing=0.1,
        epochs=5,  # batch norm's running statistics (momentum 0.99) need ~100 steps to
        batch_size=32,  # catch up with the pooled maps' positive mean (docs/performance.md)
        dropout=0.0,
    )
    result = train(config, small_data.x_train, small_data.y_train, lambda _e: None)
    history = result.finished.history
    # Smoothed targets cannot be met exactly: the loss keeps a floor above zero.
    floor = -(0.91 * math.log(0.91) + 9 * 0.01 * math.log(0.01))
    assert all(epoch.loss > floor for epoch in history)
    assert history[-1].accuracy > 0.9
    evaluation = evaluate_model(result.model, small_data.x_test, small_data.y_test)
    assert evaluation.accuracy > 0.9
    rate = result.model.optimizer.learning_rate
    assert float(rate.numpy() if hasattr(rate, "numpy") else rate) == pytest.approx(
        0.0, abs=1e-6
    )  # the cycle ended at zero


def test_each_hidden_layer_of_an_mlp_has_its_dropout() -> None:
    """As users of the classic recipe expect: Dense, Dropout for each hidden layer (the
    seed's single layer is unchanged: Flatten, Dense, Dropout, Dense)."""

    def kinds(config: TrainConfig) -> list[str]:
        return [type(layer).__name__ for layer in build_model(config).layers]

    assert kinds(TrainConfig()) == ["Flatten", "Dense", "Dropout", "Dense"]
    assert kinds(TrainConfig(hidden_units=(512, 256, 128))) == [
        "Flatten",
        "Dense",
        "Dropout",
        "Dense",
        "Dropout",
        "Dense",
        "Dropout",
        "Dense",
    ]
