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
    "atomic",
    "config",
    "data",
    "evaluation",
    "events",
    "exports",
    "images",
    "models",
    "native_logs",
    "runs",
    "safe_pickle",
    "session",
    "textart",
    "training",
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
        "mnist_tui.core.data",
        "mnist_tui.core.runs",
        "mnist_tui.core.evaluation",
        "mnist_tui.core.exports",
        "mnist_tui.core.images",
    ],
)
def test_light_modules_do_not_import_tensorflow(module: str) -> None:
    loaded = modules_after(f"import {module}")
    assert "tensorflow" not in loaded and "keras" not in loaded
