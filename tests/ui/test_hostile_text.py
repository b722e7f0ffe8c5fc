"""Text from disk, paths, exceptions and the user is shown as written, never read as markup.

Run folders, the runs folder's path, run.json contents, reasons from exceptions and
values typed into the form may hold anything Textual's markup uses (``[red]``, ``[/]``,
``[@click=...]``). Each test drives the real app over runs that were really trained and
saved, copied under hostile names, and reads back what the widgets display.
"""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from rich.text import Text
from textual.content import Content
from textual.widgets import DataTable, Input, Static
from textual.widgets._data_table import default_cell_formatter
from textual.widgets._toast import Toast

from mnist_tui.core.config import TrainConfig
from mnist_tui.core.data.mnist import MnistData, load_mnist
from mnist_tui.core.runs.store import RUN_FILE, RunStore
from mnist_tui.ui.app import MnistApp
from mnist_tui.ui.screens.dialogs import ConfirmScreen, ErrorScreen
from tests.ui.conftest import FAST, wait_for

SIZE = (160, 40)
AppFactory = Callable[..., MnistApp]

HOSTILE_ROOT = ("[bold]runs", "a[", "]b")
"""The runs folder's last parts: its path reads ``…/[bold]runs/a[/]b``."""
OPENED = "[bold]x"
"""A run folder whose name opens a style."""
OTHER = "[red]y[@click=app.quit]z\\"
"""A run folder with a colour, a click action and a trailing backslash in its name."""
BROKEN = "[bold]"
"""A folder whose run.json breaks the schema with a status of ``a[/]b``."""
NOT_A_RUN = "[yellow]skip"


def shown(widget: Static) -> str:
    """What a Static displays, as plain text."""
    return str(widget.render())


def cell_text(table: DataTable[Any], row: int, column: int) -> str:
    """A table cell as the table displays it (Textual's own cell formatter)."""
    rendered = default_cell_formatter(table.get_cell_at((row, column)))
    assert isinstance(rendered, Text)
    return rendered.plain


def toasts(app: MnistApp) -> list[str]:
    """The notifications on screen, as plain text."""
    return [str(toast.render()) for toast in app.screen.query(Toast)]


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory: pytest.TempPathFactory, slice_data: MnistData) -> Path:
    """One run really trained (an epoch of a small MLP) and saved by the store."""
    from mnist_tui.core.session import train_evaluate_save

    store = RunStore(tmp_path_factory.mktemp("saved") / "runs")
    config = TrainConfig(hidden_units=(16,), batch_size=128, epochs=1, validation_split=0.0)
    return train_evaluate_save(config, slice_data, store, lambda _event: None).run.path


def copy_run(saved: Path, runs_dir: Path, name: str, **changes: object) -> Path:
    """A copy of a saved run under the folder ``name``, its run.json fields updated."""
    folder = runs_dir / name
    shutil.copytree(saved, folder)
    if changes:
        record = json.loads((folder / RUN_FILE).read_text(encoding="utf-8"))
        record.update(changes)
        (folder / RUN_FILE).write_text(json.dumps(record), encoding="utf-8")
    return folder


@pytest.fixture
def hostile_runs(tmp_path: Path, saved_run: Path) -> Path:
    """A runs folder at a bracketed path: two runs, a broken one and a stray folder."""
    runs_dir = tmp_path.joinpath(*HOSTILE_ROOT)
    runs_dir.mkdir(parents=True)
    copy_run(saved_run, runs_dir, OPENED, run_id="a[/]b")  # the id inside is never shown
    copy_run(saved_run, runs_dir, OTHER, run_id="[red]x[/red]")
    copy_run(saved_run, runs_dir, BROKEN, status="a[/]b")
    (runs_dir / NOT_A_RUN).mkdir()
    return runs_dir


async def test_runs_tab_open_and_delete_show_names_as_written(
    make_app: AppFactory, hostile_runs: Path
) -> None:
    app = make_app(runs_dir=hostile_runs)
    root = str(hostile_runs)
    summary = RunStore(hostile_runs).list()[0][0].config.summary()  # both runs share it
    assert "[bold]" in root and "a[/]b" in root
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await wait_for(lambda: app.data is not None, pilot)
        assert shown(app.query_one("#status-bar", Static)).endswith(f"runs: {root}")
        await pilot.press("5")
        await pilot.pause()
        caption = shown(app.query_one("#runs-caption", Static))
        assert caption.startswith(f"2 runs in {root}, by date")
        table = app.query_one("#runs-table", DataTable)
        assert sorted(cell_text(table, row, 1) for row in range(2)) == sorted([OPENED, OTHER])
        assert cell_text(table, 0, 5) == summary
        problems = shown(app.query_one("#runs-problems", Static)).splitlines()
        reasons = [item.reason for item in RunStore(hostile_runs).list()[1]]
        assert problems == [f"skipped {reason}" for reason in reasons]
        assert len(reasons) == 2 and reasons[0].startswith(BROKEN) and "a[/]b" in reasons[0]
        assert reasons[1].startswith(NOT_A_RUN)

        table.move_cursor(row=table.get_row_index(str(hostile_runs / OPENED)))
        await pilot.press("enter")
        await wait_for(lambda: app.shown_run is not None, pilot)
        await pilot.pause()
        assert shown(app.query_one("#results-summary", Static)).startswith(
            f"{OPENED}  {summary}  (completed)\nTest accuracy "
        )
        assert shown(app.query_one("#train-status", Static)).startswith(
            f"Saved run {OPENED}  {summary}  (completed)"
        )

        await pilot.press("5")
        table.move_cursor(row=table.get_row_index(str(hostile_runs / OPENED)))
        await pilot.press("d")
        assert isinstance(app.screen, ConfirmScreen)
        question = shown(app.screen.query_one(".dialog-text", Static))
        assert question.startswith(f"Delete this run?\n{OPENED}  {summary}  test accuracy")
        await pilot.press("y")
        await pilot.pause()
        assert not (hostile_runs / OPENED).exists() and (hostile_runs / OTHER).exists()
        await wait_for(lambda: f"Deleted {OPENED}" in toasts(app), pilot, timeout=5)
        gone = f"Run {OPENED} was deleted."
        assert shown(app.query_one("#results-summary", Static)) == gone
        assert shown(app.query_one("#viewer-position", Static)) == gone
        assert shown(app.query_one("#train-status", Static)) == gone
        assert cell_text(table, 0, 1) == OTHER

        table.move_cursor(row=0)
        await pilot.press("s")
        await wait_for(
            lambda: f"Settings of {OTHER} loaded into the form" in toasts(app), pilot, timeout=5
        )


async def test_training_into_a_bracketed_runs_folder(make_app: AppFactory, tmp_path: Path) -> None:
    runs_dir = tmp_path.joinpath(*HOSTILE_ROOT)
    app = make_app(FAST.replace(epochs=1), runs_dir=runs_dir)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(lambda: app.data is not None, pilot)
        await pilot.press("ctrl+t")  # the key waits for idle: the small run may be over
        await wait_for(lambda: not app.training, pilot, timeout=120)
        await pilot.pause()
        (run,), _ = RunStore(runs_dir).list()
        status = shown(app.query_one("#train-status", Static))
        assert status.startswith("Run completed: test accuracy ")
        assert f"Saved to {run.path}  (3: results" in status
        assert shown(app.query_one("#status-bar", Static)).endswith(f"runs: {runs_dir}")


async def test_a_bracketed_data_path_in_the_status_bar_and_the_error(tmp_path: Path) -> None:
    data_file = tmp_path / "a[" / "]b" / "[red]mnist.npz"
    go_on = threading.Event()

    def load(say: Callable[[str], None]) -> MnistData:
        say(
            f"Could not write the cache in {data_file.parent} ([Errno 13] [bold]denied); continuing"
        )
        go_on.wait(30)
        return load_mnist(data_file, sources=("path",), progress=say)

    app = MnistApp(runs_dir=tmp_path / "runs", data_loader=load)
    async with app.run_test(size=SIZE) as pilot:
        bar = app.query_one("#status-bar", Static)
        await wait_for(lambda: "continuing" in shown(bar), pilot)
        assert shown(bar) == (
            f"Could not write the cache in {data_file.parent} ([Errno 13] [bold]denied); continuing"
        )
        go_on.set()
        await wait_for(lambda: isinstance(app.screen, ErrorScreen), pilot)
        await pilot.pause()
        text = "\n".join(shown(part) for part in app.screen.query(Static))
        assert f"MNIST at {data_file} could not be used" in text


async def test_error_dialog_and_form_hints_show_brackets(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(lambda: app.data is not None, pilot)
        app.query_one("#field-epochs", Input).value = "[/]"
        app.query_one("#field-dropout", Input).value = "[red]0.5"
        await pilot.pause()
        assert shown(app.query_one("#hint-epochs", Static)) == "✗ '[/]' is not a whole number"
        assert shown(app.query_one("#hint-dropout", Static)) == "✗ '[red]0.5' is not a number"

        app.push_screen(
            ErrorScreen(
                "Could not delete [red]x[/red] a[/]b\\", "could not delete [bold]: [Errno 13] a[/]b"
            )
        )
        await pilot.pause()
        title = app.screen.query_one(".dialog-title", Static)
        assert shown(title) == "Could not delete [red]x[/red] a[/]b\\"
        visual = title.visual
        assert isinstance(visual, Content) and visual.spans  # still bold
        assert shown(app.screen.query_one(".dialog-text", Static)) == (
            "could not delete [bold]: [Errno 13] a[/]b"
        )
        await pilot.press("escape")
        assert not isinstance(app.screen, ErrorScreen)
