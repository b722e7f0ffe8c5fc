"""A saved ``model.keras`` loads in plain Keras, in a Python that never imported mnist-tui,
for every preset and for stopped and steered runs, and scores what ``run.json`` says;
runs saved before (with mnist-tui's own objects inside) still open in mnist-tui."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from mnist_tui.core.config import PRESETS, TrainConfig
from mnist_tui.core.data.mnist import MnistData
from mnist_tui.core.engine import training
from mnist_tui.core.engine.control import TrainingControl
from mnist_tui.core.events import BatchProgress, TrainingEvent
from mnist_tui.core.runs.store import MODEL_FILE, RUN_FILE, RunStore
from mnist_tui.core.session import train_evaluate_save

PLAIN_KERAS = """
import json, sys
import numpy as np
import keras
assert not any(name.startswith("mnist_tui") for name in sys.modules)
data = np.load(sys.argv[1])
x, y = data["x"].astype("float32") / 255.0, data["y"]
for folder in sys.argv[2:]:
    model = keras.models.load_model(folder + "/model.keras")
    loss, accuracy = model.evaluate(x, y, verbose=0)
    print(json.dumps({"folder": folder, "loss": loss, "accuracy": accuracy,
                      "optimizer": type(model.optimizer).__name__}))
"""


def small(config: TrainConfig) -> TrainConfig:
    """``config`` cut to one quick epoch."""
    return dataclasses.replace(config, epochs=1)


@pytest.fixture(scope="module")
def runs(small_data: MnistData, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """One run per preset, a stopped run and a steered one (its rate halved)."""
    store = RunStore(tmp_path_factory.mktemp("runs"))
    folders = [
        train_evaluate_save(small(config), small_data, store, lambda e: None).run.path
        for config in PRESETS.values()
    ]

    stop = threading.Event()

    def stop_at_first_tick(event: TrainingEvent) -> None:
        if isinstance(event, BatchProgress):
            stop.set()

    stopped = train_evaluate_save(
        dataclasses.replace(TrainConfig(), batch_size=32),
        small_data,
        store,
        stop_at_first_tick,
        stop,
    )
    assert stopped.run.status == "stopped"
    folders.append(stopped.run.path)

    control, asked = TrainingControl(), []

    def halve_at_first_tick(event: TrainingEvent) -> None:
        if isinstance(event, BatchProgress) and not asked:
            asked.append(event)
            control.scale_learning_rate(0.5)

    with pytest.MonkeyPatch.context() as patch:  # many compiled calls: room to steer
        patch.setattr(training, "TARGET_EXECUTION_FLOPS", 1)
        patch.setattr(training, "PROGRESS_INTERVAL", 0.0)
        steered = train_evaluate_save(
            small(TrainConfig(label_smoothing=0.1)),
            small_data,
            store,
            halve_at_first_tick,
            control=control,
        )
    assert steered.run.controls, "the rate change was not applied"
    folders.append(steered.run.path)
    return folders


def test_every_saved_model_loads_and_scores_in_plain_keras(
    runs: list[Path], small_data: MnistData, tmp_path: Path
) -> None:
    digits = tmp_path / "digits.npz"
    np.savez(digits, x=small_data.x_test, y=small_data.y_test)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = subprocess.run(
        [sys.executable, "-I", "-c", PLAIN_KERAS, str(digits), *map(str, runs)],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert [result["folder"] for result in results] == [str(folder) for folder in runs]
    for result in results:
        record = json.loads((Path(result["folder"]) / RUN_FILE).read_text())
        assert result["accuracy"] == pytest.approx(record["test"]["accuracy"], abs=1e-6)
        assert result["loss"] == pytest.approx(record["test"]["loss"], rel=1e-3, abs=1e-4)
        assert result["optimizer"].lower() == record["config"]["optimizer"]


def test_a_run_saved_with_mnist_tui_objects_inside_still_opens(
    small_data: MnistData, tmp_path: Path
) -> None:
    """Runs saved before models were made portable carry ``ScaledRate`` and friends;
    mnist-tui registers them, so the app and the CLI still load those files."""
    store = RunStore(tmp_path / "runs")
    session = train_evaluate_save(
        small(TrainConfig(label_smoothing=0.1, lr_schedule="one_cycle")),
        small_data,
        store,
        lambda e: None,
    )
    old_style = session.run.path / MODEL_FILE
    old_style.unlink()
    session.result.model.save(old_style)  # the training model, custom objects and all
    assert b"ScaledRate" in _archive_config(old_style)
    model = store.load_model(store.load(session.run.run_id))
    probabilities = model.predict(small_data.x_test.astype("float32") / 255.0, verbose=0)
    np.testing.assert_allclose(probabilities, session.evaluation.probabilities, atol=1e-5)


def _archive_config(path: Path) -> bytes:
    import zipfile

    with zipfile.ZipFile(path) as archive:
        return archive.read("config.json")
