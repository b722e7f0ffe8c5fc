"""Exports: SavedModel, ONNX and LiteRT, each verified against the Keras model as it is
written, with a contract and a README whose code runs as written, in a fresh Python."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mnist_tui.core.config import TrainConfig
from mnist_tui.core.data.mnist import MnistData
from mnist_tui.core.engine import exports
from mnist_tui.core.engine.exports import (
    CONTRACT_FILE,
    FORMATS,
    MODEL_FILES,
    README_FILE,
    ExportError,
    export_model,
)
from mnist_tui.core.runs.store import RunStore
from mnist_tui.core.session import SessionResult, train_evaluate_save
from tests.conftest import Cli

AUGMENTED_CNN = TrainConfig(
    architecture="cnn",
    conv_filters=(8, 16),
    hidden_units=(16,),
    augment="on",
    batch_norm="on",
    epochs=1,
    batch_size=128,
)
"""Every layer kind a run can hold: augmentation (dropped for export), batch norm, conv."""


@pytest.fixture(scope="module")
def session(small_data: MnistData, tmp_path_factory: pytest.TempPathFactory) -> SessionResult:
    store = RunStore(tmp_path_factory.mktemp("runs"))
    return train_evaluate_save(AUGMENTED_CNN, small_data, store, lambda e: None)


def readme_code(folder: Path) -> str:
    """The Python block of an export's README."""
    text = (folder / README_FILE).read_text()
    match = re.search(r"```python\n(.*?)```", text, re.S)
    assert match, text
    return match.group(1)


@pytest.mark.parametrize("fmt", FORMATS)
def test_each_export_is_verified_and_runs_from_its_readme_in_a_fresh_python(
    fmt: exports.ExportFormat, session: SessionResult, small_data: MnistData, tmp_path: Path
) -> None:
    store = RunStore(session.run.path.parent)
    model = store.load_model(session.run)
    out = tmp_path / f"export-{fmt}"
    stages: list[str] = []
    result = export_model(
        model,
        session.run.config,
        session.run.run_id,
        fmt,
        out,
        small_data.x_test,
        progress=stages.append,
    )
    assert stages[0] == "converting" and stages[1].startswith("verifying on 300")
    check = result.verification
    assert (check.digits, check.agree) == (300, 300) and check.max_difference <= 1e-4
    assert (out / MODEL_FILES[fmt]).is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left
    contract = json.loads((out / CONTRACT_FILE).read_text())
    assert contract["input"]["shape"] == [None, 28, 28]
    assert contract["input"]["dtype"] == "float32" and "/ 255" in contract["input"]["scale"]
    assert contract["output"]["shape"] == [None, 10]
    assert contract["verified"] == {
        "digits": 300,
        "agree": 300,
        "max_difference": check.max_difference,
    }

    # The README's code, as written but fed the test digits, in a Python that has never
    # imported mnist-tui, from the export's own folder.
    digits = tmp_path / "digits.npy"
    np.save(digits, small_data.x_test.astype(np.float32) / 255.0)
    code = readme_code(out).replace(
        "digits = np.zeros((1, 28, 28), np.float32)", f"digits = np.load({str(digits)!r})"
    )
    code = code.replace(
        "print(np.argmax(probabilities, axis=1))", "np.save('got.npy', np.asarray(probabilities))"
    )
    code += "\nimport sys\nassert not any(m.startswith('mnist_tui') for m in sys.modules)\n"
    done = subprocess.run(
        [sys.executable, "-I", "-c", code], cwd=out, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    got = np.load(out / "got.npy")
    np.testing.assert_allclose(got, session.evaluation.probabilities, atol=1e-4)


def test_the_readme_runs_as_written(
    session: SessionResult, small_data: MnistData, tmp_path: Path
) -> None:
    model = RunStore(session.run.path.parent).load_model(session.run)
    out = tmp_path / "onnx"
    export_model(model, session.run.config, session.run.run_id, "onnx", out, small_data.x_test)
    done = subprocess.run(
        [sys.executable, "-I", "-c", readme_code(out)],
        cwd=out,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert re.fullmatch(r"\[\d\]\n", done.stdout)


def test_an_export_that_disagrees_is_not_left_in_place(
    session: SessionResult, small_data: MnistData, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = RunStore(session.run.path.parent).load_model(session.run)
    monkeypatch.setattr(exports, "MAX_DIFFERENCE", -1.0)  # no export can pass
    with pytest.raises(
        ExportError, match="does not agree with the Keras model: agrees on 300 of 300"
    ):
        export_model(
            model,
            session.run.config,
            session.run.run_id,
            "tflite",
            tmp_path / "out",
            small_data.x_test,
        )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("kind", ["file", "folder", "symlink", "fifo"])
def test_an_existing_destination_is_never_replaced(
    kind: str, session: SessionResult, tmp_path: Path, cli: Cli
) -> None:
    out = tmp_path / "taken"
    if kind == "file":
        out.write_text("mine")
    elif kind == "folder":
        out.mkdir()
    elif kind == "symlink":
        out.symlink_to(tmp_path / "elsewhere")
    else:
        import os

        os.mkfifo(out)
    code, _out, err = cli(
        "export",
        session.run.run_id,
        "--format",
        "onnx",
        "--out",
        str(out),
        "--runs-dir",
        str(session.run.path.parent),
    )
    assert code == 2 and "already exists" in err
    assert out.is_symlink() if kind == "symlink" else out.exists()
    if kind == "file":
        assert out.read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]


@pytest.mark.real_mnist
def test_the_export_command_verifies_on_the_10000_test_digits(
    real_mnist: MnistData, tmp_path: Path, cli: Cli
) -> None:
    """The real command, as a user runs it: a fresh ``python -I`` in another folder."""
    runs = tmp_path / "runs"
    code, _out, err = cli("train", "--epochs", "1", "--runs-dir", str(runs))
    assert code == 0, err
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = subprocess.run(
        [
            sys.executable,
            "-I",
            "-m",
            "mnist_tui",
            "export",
            "latest",
            "--format",
            "tflite",
            "--runs-dir",
            str(runs),
        ],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert re.search(
        r"argmax agrees on 10,000 of 10,000 test digits; probabilities within "
        r"\d\.\de-\d\d",
        done.stdout,
    ), done.stdout
    assert "input:  serving_default_digit:0  float32 Nx28x28" in done.stdout
    (folder,) = elsewhere.iterdir()
    assert folder.name.endswith("-mlp-" + folder.name.split("-")[3] + "-tflite")
    code, out, err = cli(
        "export",
        "latest",
        "--format",
        "savedmodel",
        "--json",
        "--out",
        str(tmp_path / "sm"),
        "--runs-dir",
        str(runs),
    )
    assert code == 0, err
    report = json.loads(out)
    assert report["verified"]["digits"] == 10_000 and report["verified"]["agree"] >= 9_999
    assert report["input"]["name"] == "digit" and report["format"] == "savedmodel"
