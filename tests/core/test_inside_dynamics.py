"""How training moved inside: what is measured at each epoch's end, sent as events, saved
with the run and read back as hostile input."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import numpy as np
import pytest

from mnist_tui.core.config import TrainConfig
from mnist_tui.core.data.mnist import MnistData
from mnist_tui.core.engine.models import build_model
from mnist_tui.core.engine.training import train
from mnist_tui.core.events import EpochDynamics, EpochEnd, TrainingEvent
from mnist_tui.core.inside.dynamics import (
    DYNAMICS_FILE,
    MAX_BYTES,
    PROBE,
    DynamicsRecorder,
    measure,
    read_dynamics,
    write_dynamics,
)
from mnist_tui.core.inside.errors import InsideError
from mnist_tui.core.runs.store import RunStore


def test_a_saved_run_keeps_its_dynamics_and_histograms_count_each_layers_parameters(
    one_run: Path, small_data: MnistData
) -> None:
    store = RunStore(one_run.parent)
    model = store.load_model(store.load(one_run.name))
    epochs = read_dynamics(one_run)
    assert [item.epoch for item in epochs] == [1]
    weighted = [layer for layer in model.layers if layer.weights]
    assert [layer.layer for layer in epochs[0].layers] == [layer.name for layer in weighted]
    for found, layer in zip(epochs[0].layers, weighted, strict=True):
        assert found.weights.total == layer.count_params()
        assert found.activations.total == min(PROBE, len(small_data.y_train)) * layer.units
        assert found.gradient_norm > 0
    assert epochs[0].layers[0].dead_share is not None and epochs[0].layers[1].dead_share is None


def test_an_mlp_measured_in_numpy_agrees_with_tensorflow(small_data: MnistData) -> None:
    model = build_model(TrainConfig(hidden_units=(32, 16), activation="tanh"))
    images, labels = small_data.x_train[:64] / 255.0, small_data.y_train[:64].astype(np.int64)
    fast, slow = measure(model, images, labels, 1), measure(model, images, labels, 1, fast=False)
    for a, b in zip(fast.layers, slow.layers, strict=True):
        assert a.layer == b.layer and a.weights == b.weights
        assert a.gradient_norm == pytest.approx(b.gradient_norm, rel=1e-4)
        assert a.activations.total == b.activations.total
        assert a.activations.low == pytest.approx(b.activations.low, abs=1e-5)


def test_a_convnets_layers_are_measured_too(small_data: MnistData) -> None:
    config = TrainConfig(architecture="cnn", conv_filters=(4,), batch_norm="on", hidden_units=(8,))
    model = build_model(config)
    found = measure(model, small_data.x_train[:16] / 255.0, small_data.y_train[:16], 1)
    weighted = [layer for layer in model.layers if layer.trainable_weights]
    conv, dense, head = found.layers
    assert conv.layer == weighted[0].name and conv.weights.total == weighted[0].count_params()
    side = 13  # 26x26 maps, pooled (before or after their normalisation and ReLU)
    assert conv.activations.total == 16 * side * side * 4 and conv.dead_share is not None
    assert dense.weights.total == model.get_layer(dense.layer).count_params()
    assert head.dead_share is None


def test_the_recorder_sends_an_event_after_each_epochs_end(small_data: MnistData) -> None:
    events: list[TrainingEvent] = []
    recorder = DynamicsRecorder(small_data.x_train, small_data.y_train, events.append)
    config = TrainConfig(hidden_units=(8,), epochs=2, batch_size=256)
    train(
        config,
        small_data.x_train,
        small_data.y_train,
        events.append,
        threading.Event(),
        observers=[recorder],
    )
    kinds = [type(event) for event in events if isinstance(event, (EpochEnd, EpochDynamics))]
    assert kinds == [EpochEnd, EpochDynamics, EpochEnd, EpochDynamics]
    assert [item.epoch for item in recorder.epochs] == [1, 2]


def test_dynamics_round_trip(one_run: Path, tmp_path: Path) -> None:
    epochs = read_dynamics(one_run)
    write_dynamics(tmp_path, epochs)
    assert read_dynamics(tmp_path) == epochs
    assert read_dynamics(tmp_path / "nothing") == ()


def _edit(record: dict[str, object], path: str, value: object) -> str:
    target: object = record
    *parents, last = path.split(".")
    for key in parents:
        target = target[int(key)] if isinstance(target, list) else target[key]  # type: ignore[index]
    if isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value  # type: ignore[index]
    return json.dumps(record)


HOSTILE = {
    "not JSON": lambda record: "{",
    "NaN": lambda record: _edit(record, "epochs.0.seconds", 1).replace("1", "NaN", 1),
    "a negative count": lambda r: _edit(r, "epochs.0.layers.0.weights.counts.0", -1),
    "a fractional count": lambda r: _edit(r, "epochs.0.layers.0.weights.counts.0", 0.5),
    "a huge count": lambda r: _edit(r, "epochs.0.layers.0.weights.counts.0", 10**40),
    "a dead share above 1": lambda r: _edit(r, "epochs.0.layers.0.dead_share", 1.5),
    "a negative norm": lambda r: _edit(r, "epochs.0.layers.0.gradient_norm", -1),
    "no layer name": lambda r: _edit(r, "epochs.0.layers.0.layer", ""),
    "a layer as a string": lambda r: _edit(r, "epochs.0.layers.0", "dense"),
    "an epoch of 0": lambda r: _edit(r, "epochs.0.epoch", 0),
    "too many epochs": lambda r: json.dumps({**r, "epochs": r["epochs"] * 1001}),  # type: ignore[index]
    "another format": lambda r: json.dumps({**r, "format": 2}),
    "deep nesting": lambda r: "[" * 100_000 + "]" * 100_000,
    "too large": lambda r: " " * (MAX_BYTES + 1),
}


@pytest.mark.parametrize("damage", HOSTILE.values(), ids=HOSTILE.keys())
def test_a_hostile_dynamics_record_is_refused(
    one_run: Path, tmp_path: Path, damage: object
) -> None:
    record = json.loads((one_run / DYNAMICS_FILE).read_text())
    (tmp_path / DYNAMICS_FILE).write_text(damage(record))  # type: ignore[operator]
    with pytest.raises(InsideError, match="refused"):
        read_dynamics(tmp_path)


def test_a_dynamics_record_that_is_a_link_is_not_read(tmp_path: Path) -> None:
    os.symlink("/dev/zero", tmp_path / DYNAMICS_FILE)
    with pytest.raises(InsideError, match="not a plain file"):
        read_dynamics(tmp_path)


def test_a_control_character_in_a_layer_name_is_made_printable(
    one_run: Path, tmp_path: Path
) -> None:
    record = json.loads((one_run / DYNAMICS_FILE).read_text())
    (tmp_path / DYNAMICS_FILE).write_text(_edit(record, "epochs.0.layers.0.layer", "a\x1b[2Jb"))
    assert "\x1b" not in read_dynamics(tmp_path)[0].layers[0].layer
