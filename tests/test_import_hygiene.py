"""The core never imports Textual; the UI paths never import TensorFlow up front."""

from __future__ import annotations

import subprocess
import sys

import pytest


def modules_after(code: str) -> set[str]:
    script = f"{code}\nimport sys\nprint(' '.join(sys.modules))"
    done = subprocess.run(
        [sys.executable, "-I", "-c", script], capture_output=True, text=True, check=True
    )
    return set(done.stdout.split())


CORE = [
    "config",
    "data.mnist",
    "digits.images",
    "digits.textart",
    "engine.evaluation",
    "engine.exports",
    "engine.models",
    "engine.training",
    "events",
    "files.atomic",
    "files.native_logs",
    "files.safe_pickle",
    "runs.store",
    "session",
]


def test_core_never_imports_textual() -> None:
    loaded = modules_after("\n".join(f"import mnist_tui.core.{name}" for name in CORE))
    assert "tensorflow" in loaded  # the check is real: training did load its backend
    assert not {m for m in loaded if m == "textual" or m.startswith("textual.")}


@pytest.mark.parametrize(
    "module",
    [
        "mnist_tui.cli",
        "mnist_tui.cli.parser",
        "mnist_tui.cli.commands",
        "mnist_tui.core.data.mnist",
        "mnist_tui.core.runs.store",
        "mnist_tui.core.engine.evaluation",
        "mnist_tui.core.engine.exports",
        "mnist_tui.core.digits.images",
    ],
)
def test_light_modules_do_not_import_tensorflow(module: str) -> None:
    loaded = modules_after(f"import {module}")
    assert "tensorflow" not in loaded and "keras" not in loaded
