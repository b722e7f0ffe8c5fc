"""Where a model looks: integrated gradients and plain gradients, checked analytically on
a linear model and by their completeness on a trained one."""

from __future__ import annotations

import time
from pathlib import Path

import keras
import numpy as np
import pytest

from mnist_tui.core.data.mnist import MnistData
from mnist_tui.core.inside.attribution import TOLERANCE, attribute
from mnist_tui.core.inside.errors import InsideError
from mnist_tui.core.runs.store import RunStore


@pytest.fixture(scope="module")
def linear() -> keras.Model:
    """Pixels straight to 10 scores: each class's logit is w . x + b."""
    model = keras.Sequential(
        [
            keras.Input((28, 28)),
            keras.layers.Flatten(),
            keras.layers.Dense(10, activation="softmax", name="probabilities"),
        ]
    )
    rng = np.random.default_rng(3)
    model.layers[-1].set_weights(
        [rng.normal(size=(784, 10)).astype(np.float32), rng.normal(size=10).astype(np.float32)]
    )
    return model


@pytest.mark.parametrize("target", [0, 7])
def test_integrated_gradients_of_a_linear_model_are_weight_times_input(
    linear: keras.Model, small_data: MnistData, target: int
) -> None:
    digit = small_data.x_test[5]
    found = attribute(linear, digit, target, output="logit")
    kernel = np.asarray(linear.layers[-1].kernel)[:, target].reshape(28, 28)
    expected = kernel * (digit / 255.0)
    np.testing.assert_allclose(found.values, expected, rtol=1e-4, atol=1e-5)
    assert found.completeness.total == pytest.approx(found.completeness.difference, rel=1e-4)
    assert found.steps == 64 and found.completeness.holds


def test_plain_gradients_of_a_linear_model_are_its_weights(
    linear: keras.Model, small_data: MnistData
) -> None:
    found = attribute(linear, small_data.x_test[0], 3, method="gradient", output="logit")
    kernel = np.asarray(linear.layers[-1].kernel)[:, 3].reshape(28, 28)
    np.testing.assert_allclose(found.values, kernel, rtol=1e-5, atol=1e-6)
    # For a linear score the first-order estimate is exact.
    assert found.completeness.holds and found.steps == 1


def test_completeness_holds_on_every_digit_checked(one_run: Path, small_data: MnistData) -> None:
    store = RunStore(one_run.parent)
    model = store.load_model(store.load(one_run.name))
    predicted = np.asarray(model.predict(small_data.x_test[:20] / 255.0, verbose=0)).argmax(1)
    began = time.perf_counter()
    for index in range(20):
        for target in (int(predicted[index]), int(small_data.y_test[index]), 9 - index % 10):
            found = attribute(model, small_data.x_test[index], target)
            assert found.completeness.error <= TOLERANCE, (index, target, found.completeness)
    assert (time.perf_counter() - began) / 60 < 1.0  # each well under a second


def test_a_bad_class_or_digit_is_refused(linear: keras.Model) -> None:
    with pytest.raises(InsideError, match="not a digit"):
        attribute(linear, np.zeros((28, 28), np.uint8), 10)
    with pytest.raises(InsideError, match="28x28"):
        attribute(linear, np.zeros((27, 28), np.uint8), 1)
