"""The Runs tab exports the selected run's model: a dialog with the format and the folder,
the stages while it converts, and the verification's figures."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.widgets import Button, Input, Static

from mnist_tui.core.config import TrainConfig
from mnist_tui.core.data.mnist import MnistData
from mnist_tui.ui.app import MnistApp
from mnist_tui.ui.screens.export import ExportScreen
from tests.ui.conftest import wait_for, write_fixed_run

AppFactory = Callable[..., MnistApp]


def text_of(screen: ExportScreen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


async def test_train_from_the_defaults_then_export_it_as_tflite(
    make_app: AppFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    app = make_app(TrainConfig())  # the form as a new user gets it
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(lambda: app.data is not None, pilot)
        await pilot.press("ctrl+t")
        await wait_for(lambda: app.shown_run is not None and not app.training, pilot, timeout=120)
        run = app.shown_run
        assert run is not None
        await pilot.press("5", "x")
        screen = app.screen
        assert isinstance(screen, ExportScreen)
        assert screen.query_one("#export-path", Input).value == f"{run.run_id}-onnx"
        await pilot.press("down", "enter")  # ONNX -> LiteRT
        assert screen.format == "tflite"
        assert screen.query_one("#export-path", Input).value == f"{run.run_id}-tflite"
        screen.query_one("#export", Button).press()
        await wait_for(lambda: "Verified" in text_of(screen, "#export-status"), pilot, timeout=120)
        status = text_of(screen, "#export-status")
        assert "argmax agrees on 500 of 500 test digits" in status
        assert "Input serving_default_digit:0: float32 Nx28x28" in status
        folder = tmp_path / f"{run.run_id}-tflite"
        contract = json.loads((folder / "contract.json").read_text())
        assert contract["verified"]["agree"] == 500 and contract["run_id"] == run.run_id
        # The folder is there now: Export waits for another name.
        assert screen.query_one("#export", Button).disabled
        await pilot.click("#export-path")
        await pilot.press("end", "backspace", "e")  # the same name typed again
        await pilot.pause()
        assert "already exists" in text_of(screen, "#export-error")
        await pilot.press("escape")
        assert not isinstance(app.screen, ExportScreen)


async def test_a_folder_that_exists_is_refused_at_the_field(
    make_app: AppFactory, tmp_path: Path, slice_data: MnistData, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    run_id = "20261124-120000-mlp-aaaa"
    write_fixed_run(tmp_path / "runs", slice_data, run_id=run_id)
    (tmp_path / "mine").mkdir()
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: app.data is not None, pilot)
        await pilot.press("5", "x")
        screen = app.screen
        assert isinstance(screen, ExportScreen)
        assert not screen.query_one("#export", Button).disabled
        field = screen.query_one("#export-path", Input)
        field.value = "mine"
        await pilot.pause()
        assert "already exists" in text_of(screen, "#export-error")
        assert screen.query_one("#export", Button).disabled
        field.value = ""
        await pilot.pause()
        assert "Give the new folder a name" in text_of(screen, "#export-error")
        field.value = "new-one"
        await pilot.pause()
        assert text_of(screen, "#export-error") == ""
        assert not screen.query_one("#export", Button).disabled
