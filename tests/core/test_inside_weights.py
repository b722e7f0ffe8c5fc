"""What a model learned: its first layer's units in order of importance, the digits that
excite them, a convnet's filters and feature maps."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mnist_tui.core.config import TrainConfig
from mnist_tui.core.data.mnist import MnistData
from mnist_tui.core.engine.models import build_model
from mnist_tui.core.inside.pictures import glyph_rows
from mnist_tui.core.inside.weights import UnitActivations, feature_maps, first_layer
from mnist_tui.core.runs.store import RunStore


def test_an_mlps_units_are_its_kernel_columns_by_outgoing_norm(one_run: Path) -> None:
    store = RunStore(one_run.parent)
    model = store.load_model(store.load(one_run.name))
    layer = first_layer(model)
    kernel = np.asarray(model.layers[1].kernel)
    outgoing = np.linalg.norm(np.asarray(model.layers[-1].kernel), axis=1)
    assert layer.kind == "dense" and len(layer.units) == kernel.shape[1] == 16
    assert [unit.index for unit in layer.units] == list(np.argsort(-outgoing, kind="stable"))
    for unit in layer.units:
        np.testing.assert_array_equal(unit.picture, kernel[:, unit.index].reshape(28, 28))
        assert unit.importance == np.float32(outgoing[unit.index])
    assert layer.pages(6) == 3 and len(layer.page(2, 6)) == 4


def test_the_digits_that_excite_a_unit_most(one_run: Path, small_data: MnistData) -> None:
    store = RunStore(one_run.parent)
    model = store.load_model(store.load(one_run.name))
    dense = model.layers[1]
    images = small_data.x_test.reshape(len(small_data.x_test), -1) / 255.0
    outputs = np.maximum(images @ np.asarray(dense.kernel) + np.asarray(dense.bias), 0)
    unit = first_layer(model).units[0].index
    top = UnitActivations(model, small_data.x_test).top(unit, 5)
    np.testing.assert_allclose(outputs[top, unit], np.sort(outputs[:, unit])[::-1][:5], rtol=1e-5)


def test_a_convnets_filters_and_feature_maps(small_data: MnistData) -> None:
    model = build_model(TrainConfig(architecture="cnn", conv_filters=(4, 6), conv_kernel=5))
    layer = first_layer(model)
    assert layer.kind == "conv" and len(layer.units) == 4
    assert all(unit.picture.shape == (5, 5) for unit in layer.units)
    maps = feature_maps(model, small_data.x_test[0])
    assert [item.maps.shape for item in maps] == [(4, 12, 12), (6, 5, 5)]  # activated, pooled
    assert all((item.maps >= 0).all() for item in maps)  # after their ReLU
    assert UnitActivations(model, small_data.x_test[:10]).values.shape == (10, 4)


def test_a_signed_picture_reads_without_colour() -> None:
    picture = np.zeros((28, 28))
    picture[:2, :3] = [1.0, 0.5, 0.2]
    picture[2:4, :3] = [-1.0, -0.5, -0.2]
    rows = glyph_rows(picture)
    assert len(rows) == 14 and all(len(row) == 28 for row in rows)
    assert rows[0][:4] == "#+. " and rows[1][:4] == "%-, "
