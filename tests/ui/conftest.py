"""Fixtures for driving the real app headless on small slices of the real MNIST."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from textual.app import App
from textual.command import CommandList, CommandPalette
from textual.widgets import Static

from mnist_tui.core.config import TrainConfig
from mnist_tui.core.data.mnist import MnistData
from mnist_tui.core.engine.heap import thaw
from mnist_tui.core.runs.store import RUN_FILE
from mnist_tui.ui.app import MnistApp


@pytest.fixture(scope="session")
def slice_data(real_mnist: MnistData) -> MnistData:
    """3,000 training and 500 test digits of the real MNIST: quick to train, real to look at."""
    return MnistData(
        real_mnist.x_train[:3000],
        real_mnist.y_train[:3000],
        real_mnist.x_test[:500],
        real_mnist.y_test[:500],
        source="slice",
    )


FAST = TrainConfig(hidden_units=(64,), batch_size=128, epochs=2, validation_split=0.1)


@pytest.fixture(autouse=True)
def same_device_everywhere(monkeypatch: pytest.MonkeyPatch) -> None:
    """The device reads "CPU" on every machine (not "CPU (8 cores)" or a GPU's name), so
    what the tests see and the snapshots show do not depend on the machine."""
    monkeypatch.setattr("mnist_tui.core.engine.training.describe_device", lambda: "CPU")


@pytest.fixture(autouse=True)
def pilot_after_startup(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test's pilot starts once every tab is mounted (the app mounts all but Setup
    just after its first frame), as a user's first key comes after that. What keys do
    before then is tested on its own, in test_app_shell.py."""
    run_test = MnistApp.run_test

    @contextlib.asynccontextmanager
    async def started(app: MnistApp, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        async with run_test(app, *args, **kwargs) as pilot:
            await wait_for(lambda: app.tabs_mounted, pilot, timeout=30.0)
            yield pilot

    monkeypatch.setattr(MnistApp, "run_test", started)


@pytest.fixture(autouse=True)
def thawed_heap() -> Iterator[None]:
    """The app freezes the heap for the rest of its process; tests share one process."""
    yield
    thaw()


@pytest.fixture
def make_app(slice_data: MnistData, tmp_path: Path) -> Callable[..., MnistApp]:
    """An app factory: small real data, a private runs directory, a chosen config."""

    def make(config: TrainConfig = FAST, runs_dir: Path | None = None) -> MnistApp:
        return MnistApp(
            config=config,
            runs_dir=runs_dir or tmp_path / "runs",
            data_loader=lambda _say: slice_data,
        )

    return make


async def wait_for(condition: Callable[[], bool], pilot: object, timeout: float = 60.0) -> None:
    """Let the app run until ``condition()`` holds; fail after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await pilot.pause(0.05)  # type: ignore[attr-defined]


def grid_drawn(app: App[Any]) -> bool:
    """The Samples tab shows its grid, drawn at its laid-out size (the grid is drawn
    after the layout that sizes it)."""
    grid = app.query_one("#digit-grid", Static)
    return grid.display and grid.size.width > 0 and bool(str(grid.render()).strip())


def palette_found(app: App[Any]) -> bool:
    """The command palette is open and its search has highlighted an answer."""
    if not isinstance(app.screen, CommandPalette):
        return False
    found = app.screen.query_one(CommandList)
    return found.option_count > 0 and found.highlighted is not None


def write_fixed_run(
    runs_dir: Path,
    data: MnistData,
    run_id: str = "20261124-120000-mlp-0001",
    accuracy_target: float = 0.9,
) -> Path:
    """A complete saved run with fixed, seeded predictions (for stable snapshots)."""
    rng = np.random.default_rng(0)
    labels = data.y_test.astype(int)
    wrong = rng.random(len(labels)) > accuracy_target
    predicted = np.where(wrong, (labels + 1 + rng.integers(0, 9, len(labels))) % 10, labels)
    probabilities = np.full((len(labels), 10), 0.02, dtype=np.float32)
    probabilities[np.arange(len(labels)), predicted] = 0.82
    from mnist_tui.core.engine.evaluation import evaluate_probabilities

    evaluation = evaluate_probabilities(probabilities, labels)
    folder = runs_dir / run_id
    folder.mkdir(parents=True)
    history = [
        {
            "epoch": e,
            "loss": 0.5 / e,
            "accuracy": 0.8 + 0.05 * e,
            "val_loss": 0.6 / e,
            "val_accuracy": 0.78 + 0.05 * e,
            "seconds": 1.0,
        }
        for e in (1, 2, 3)
    ]
    per_epoch = TrainConfig(epochs=3).train_count(len(data.x_train))
    ticks = [(e, k) for e in (1, 2, 3) for k in range(1, 9)]  # 8 progress ticks an epoch
    steps = {
        "step": [(e - 1) * 8 + k for e, k in ticks],
        "samples": [(e - 1) * per_epoch + per_epoch * k // 8 for e, k in ticks],
        "epoch": [e for e, _ in ticks],
        "loss": [0.5 / (e - 1 + k / 8) + 0.08 * (-1) ** k for e, k in ticks],
        "loss_mean": [0.5 / (e - 1 + k / 8) + 0.1 / k for e, k in ticks],
        "accuracy": [0.8 + 0.05 * (e - 1 + k / 8) for e, k in ticks],
        "accuracy_mean": [0.8 + 0.05 * (e - 1 + k / 16) for e, k in ticks],
        "learning_rate": [
            0.0005 * (1 + math.cos(math.pi * ((e - 1) * 8 + k) / 24)) for e, k in ticks
        ],
    }
    record = {
        "format": 1,
        "run_id": run_id,
        "status": "completed",
        "steps": steps,
        "created": "2026-11-24T12:00:00+00:00",
        "started": "2026-11-24T11:59:50+00:00",
        "config": TrainConfig(epochs=3).to_dict(),
        "history": history,
        "test": evaluation.metrics_dict(),
        "train_seconds": 3.0,
        "param_count": 101770,
        "device": "CPU",
        "dataset": {"source": "slice"},
        "versions": {},
    }
    (folder / RUN_FILE).write_text(json.dumps(record))
    np.save(folder / "test_probabilities.npy", probabilities)
    return folder


def screen_lines(app: MnistApp) -> list[str]:
    """The screen as a person reads it, one string per row."""
    import io

    from rich.console import Console

    console = Console(
        width=app.size.width,
        height=app.size.height,
        file=io.StringIO(),
        record=True,
        color_system=None,
        legacy_windows=False,
    )
    console.print(
        app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)
    )
    return console.export_text().splitlines()
