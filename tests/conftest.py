"""Shared fixtures: small synthetic digits for fast engine tests, and the real MNIST."""

from __future__ import annotations

import os
import shutil

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from mnist_tui.core.data.mnist import MnistData, load_mnist


def synthetic_digits(count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Learnable 28x28 uint8 images: class k is a bright bar in band k, plus noise."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, size=count).astype(np.uint8)
    images = rng.integers(0, 40, size=(count, 28, 28)).astype(np.uint8)
    for i, label in enumerate(labels):
        row = 2 + int(label) * 2
        images[i, row : row + 2, 4:24] = 255
    return images, labels


@pytest.fixture(autouse=True)
def private_preferences(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each test remembers the app's theme in a folder of its own, not the user's."""
    monkeypatch.setenv("MNIST_TUI_CONFIG_DIR", str(tmp_path_factory.mktemp("config")))


@pytest.fixture(scope="session")
def small_data() -> MnistData:
    """A tiny, unverified, learnable dataset (1,200 train and 300 test digits)."""
    x_train, y_train = synthetic_digits(1200, seed=1)
    x_test, y_test = synthetic_digits(300, seed=2)
    return MnistData(x_train, y_train, x_test, y_test, source="synthetic")


@pytest.fixture(scope="session")
def real_mnist() -> MnistData:
    """The real, verified MNIST through the real loader (cache, or fetched and cached)."""
    return load_mnist()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that needs the real MNIST, through any fixture, is marked ``real_mnist``,
    so ``-m "not real_mnist"`` is a true offline run."""
    for item in items:
        if "real_mnist" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.real_mnist)


Cli = Callable[..., tuple[int, str, str]]
"""Runs ``mnist-tui ARGS`` in this process: its exit code, stdout and stderr."""


@pytest.fixture
def cli(capfd: pytest.CaptureFixture[str]) -> Cli:
    """The command line in this process; no command may print a traceback."""
    from mnist_tui.cli import main

    def run(*argv: str) -> tuple[int, str, str]:
        capfd.readouterr()
        code = main(list(argv))
        out, err = capfd.readouterr()
        assert "Traceback" not in out + err
        return code, out, err

    return run


@pytest.fixture(scope="session")
def one_run(small_data: MnistData, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real saved run (one epoch of a small MLP on the synthetic digits), alone in its
    runs folder. Shared by the whole session: copy it (:func:`runs`) to change it."""
    from mnist_tui.core.config import TrainConfig
    from mnist_tui.core.runs.store import RunStore
    from mnist_tui.core.session import train_evaluate_save

    store = RunStore(tmp_path_factory.mktemp("one-run"))
    config = TrainConfig(hidden_units=(16,), batch_size=128, epochs=1)
    return train_evaluate_save(config, small_data, store, lambda _e: None).run.path


@pytest.fixture
def runs(one_run: Path, tmp_path: Path) -> Path:
    """A runs folder of this test's own, holding a copy of :func:`one_run`."""
    root = tmp_path / "runs"
    root.mkdir()
    shutil.copytree(one_run, root / one_run.name)
    return root


@pytest.fixture
def small_data_for_the_cli(small_data: MnistData, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI's commands get the small synthetic digits instead of MNIST (no download)."""
    monkeypatch.setattr("mnist_tui.cli.console.load_mnist", lambda *_a, **_k: small_data)


def gone(pid: int) -> bool:
    """Whether process ``pid`` has ended (a zombie nobody reaps counts as ended)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True
    return "\nState:\tZ" in status
