"""How the digits sit: PCA against numpy's SVD, t-SNE, the neighbour agreement, and the
map's cache in the run folder, read back as hostile input."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from mnist_tui.core.data.mnist import MnistData
from mnist_tui.core.inside.errors import InsideError, Stopped
from mnist_tui.core.inside.projection import (
    MAX_CACHE_BYTES,
    cache_path,
    digit_map,
    digits_key,
    neighbour_agreement,
    principal_components,
    read_cache,
    tsne,
)
from mnist_tui.core.runs.store import RunStore


def test_pca_equals_numpys_svd() -> None:
    rng = np.random.default_rng(0)
    features = rng.normal(size=(300, 12)) * np.linspace(5, 0.5, 12) + rng.normal(size=12)
    centred = features - features.mean(axis=0)
    u, s, vt = np.linalg.svd(centred, full_matrices=False)
    expected = u[:, :2] * s[:2]
    largest = np.abs(vt[:2]).argmax(axis=1)  # the same sign convention: largest loading > 0
    expected *= np.sign(vt[[0, 1], largest])
    np.testing.assert_allclose(principal_components(features), expected, rtol=1e-8, atol=1e-8)


def test_neighbour_agreement_of_clusters_and_of_noise() -> None:
    rng = np.random.default_rng(1)
    labels = np.repeat(np.arange(10), 50)
    clusters = rng.normal(size=(500, 2)) * 0.1 + labels[:, None] * 10.0
    assert neighbour_agreement(clusters, labels) == 1.0
    assert neighbour_agreement(rng.normal(size=(500, 2)), labels) < 0.2


def test_tsne_keeps_the_classes_apart() -> None:
    rng = np.random.default_rng(2)
    labels = np.repeat(np.arange(10), 40)
    features = rng.normal(size=(400, 16)) + np.eye(10, 16)[labels] * 6
    points = tsne(features)
    assert points.shape == (400, 2) and np.isfinite(points).all()
    assert neighbour_agreement(points, labels) > 0.9


def test_a_tsne_nobody_waits_for_stops_within_a_few_iterations() -> None:
    """A map whose tab moved on (or whose app quit) must not keep both cores busy."""
    rng = np.random.default_rng(3)
    labels = np.repeat(np.arange(10), 40)
    features = rng.normal(size=(400, 16)) + np.eye(10, 16)[labels] * 6
    asked: list[int] = []

    def stop() -> bool:
        asked.append(1)
        return len(asked) >= 2

    with pytest.raises(Stopped):
        tsne(features, stop=stop)
    assert len(asked) == 2  # it ended at the second look, not after every iteration


@pytest.fixture
def run_folder(one_run: Path, tmp_path: Path) -> Path:
    folder = tmp_path / one_run.name
    shutil.copytree(one_run, folder)
    return folder


def _map(folder: Path, data: MnistData, method: str = "pca") -> object:
    store = RunStore(folder.parent)
    model = store.load_model(store.load(folder.name))
    predictions = np.zeros(len(data.y_test), dtype=np.int64)
    return digit_map(model, folder, data.x_test, data.y_test, predictions, method)  # type: ignore[arg-type]


def test_a_map_is_cached_in_the_run_and_read_back(run_folder: Path, small_data: MnistData) -> None:
    first = _map(run_folder, small_data)
    assert cache_path(run_folder, "pca").is_file()
    again = _map(run_folder, small_data)
    assert not first.projection.cached and again.projection.cached  # type: ignore[attr-defined]
    np.testing.assert_allclose(
        again.projection.points,  # type: ignore[attr-defined]
        first.projection.points,  # type: ignore[attr-defined]
        atol=1e-4,
    )
    assert again.mistakes.sum() == (small_data.y_test != 0).sum()  # type: ignore[attr-defined]
    with pytest.raises(InsideError, match="other digits"):
        read_cache(run_folder, "pca", digits_key(small_data.x_test[::-1]), 300)


def _sound(folder: Path) -> dict[str, object]:
    return json.loads(cache_path(folder, "pca").read_text())


HOSTILE = {
    "not JSON": lambda record: "{",
    "NaN": lambda record: json.dumps(record).replace('"seconds": ', '"seconds": NaN, "s": '),
    "a list": lambda record: "[]",
    "too few points": lambda record: json.dumps({**record, "x": record["x"][:-1]}),
    "a string coordinate": lambda record: json.dumps({**record, "y": ["1", *record["y"][1:]]}),
    "a huge coordinate": lambda record: json.dumps({**record, "x": [1e300, *record["x"][1:]]}),
    "an agreement above 1": lambda record: json.dumps({**record, "neighbour_agreement": 2}),
    "another format": lambda record: json.dumps({**record, "format": 99}),
    "deep nesting": lambda record: "[" * 100_000 + "]" * 100_000,
    "too large": lambda record: " " * (MAX_CACHE_BYTES + 1),
}


@pytest.mark.parametrize("damage", HOSTILE.values(), ids=HOSTILE.keys())
def test_a_hostile_cached_map_is_refused_and_computed_again(
    run_folder: Path, small_data: MnistData, damage: object
) -> None:
    _map(run_folder, small_data)
    record = _sound(run_folder)
    cache_path(run_folder, "pca").write_text(damage(record))  # type: ignore[operator]
    with pytest.raises(InsideError, match="refused"):
        read_cache(run_folder, "pca", digits_key(small_data.x_test), len(small_data.y_test))
    again = _map(run_folder, small_data)
    assert not again.projection.cached and "refused" in again.note  # type: ignore[attr-defined]
    assert _sound(run_folder)["format"] == 1  # rewritten sound


def test_a_cached_map_that_is_a_link_or_a_device_is_not_read(
    run_folder: Path, small_data: MnistData
) -> None:
    os.symlink("/dev/zero", cache_path(run_folder, "pca"))
    with pytest.raises(InsideError, match="not a plain file"):
        read_cache(run_folder, "pca", digits_key(small_data.x_test), len(small_data.y_test))
    again = _map(run_folder, small_data)
    assert not again.projection.cached and not cache_path(run_folder, "pca").is_symlink()
