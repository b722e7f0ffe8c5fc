"""The Sweep tab: a search space with field messages, a real sweep watched live, and
its best trial and top trials taken further."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from textual.widgets import Button, DataTable, Input, Static

from mnist_tui.core.runs.store import RunStore
from mnist_tui.ui.app import MnistApp
from mnist_tui.ui.screens.compare import CompareScreen
from mnist_tui.ui.tabs.setup_form import ConfigForm
from mnist_tui.ui.tabs.sweep_view import SweepView
from mnist_tui.ui.widgets.line_chart import LineChart
from tests.ui.conftest import wait_for

AppFactory = Callable[..., MnistApp]
SIZE = (120, 40)


def text(app: MnistApp, selector: str) -> str:
    return str(app.query_one(selector, Static).render())


async def set_field(app: MnistApp, pilot: object, name: str, value: str) -> None:
    app.query_one(f"#sweep-field-{name}", Input).value = value
    await pilot.pause()  # type: ignore[attr-defined]


async def test_a_bad_range_is_named_beside_its_field_and_blocks_the_start(
    make_app: AppFactory,
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(lambda: app.data is not None, pilot)
        await pilot.press("6")
        view = app.query_one(SweepView)
        fields = {
            name: app.query_one(f"#sweep-field-{name}", Input).value
            for name in ("learning_rate", "batch_size", "dropout")
        }
        assert fields == {
            "learning_rate": "3e-4..3e-2:log",
            "batch_size": "128|256|512",
            "dropout": "0..0.5",
        }  # the MLP's defaults
        assert view.request() is not None
        await set_field(app, pilot, "dropout", "0.5..0.1")
        assert text(app, "#sweep-hint-dropout") != ""
        assert app.query_one("#sweep-run", Button).disabled
        await set_field(app, pilot, "learning_rate", "0..1e-2:log")
        assert "learning" not in text(app, "#sweep-hint-dropout").lower()
        assert text(app, "#sweep-hint-learning_rate") != ""
        await set_field(app, pilot, "dropout", "0..0.5")
        await set_field(app, pilot, "learning_rate", "1e-3")
        assert not app.query_one("#sweep-run", Button).disabled
        app.query_one("#sweep-architecture").value = "cnn"  # type: ignore[attr-defined]
        await pilot.pause()
        assert app.query_one("#sweep-row-conv_filters").region.height == 1  # cnn only
        assert app.query_one("#sweep-field-learning_rate", Input).value == "3e-4..3e-3:log"


async def test_a_sweep_runs_live_and_its_best_trial_loads_into_the_form(
    make_app: AppFactory, tmp_path: Path
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(lambda: app.data is not None, pilot)
        await pilot.press("6")
        app.query_one("#sweep-study", Input).value = "tab-study"
        app.query_one("#sweep-trials", Input).value = "3"
        for name, value in (
            ("hidden_units", "16|32"),
            ("epochs", "2"),
            ("batch_size", "256"),
            ("learning_rate", "1e-3..1e-2:log"),
        ):
            await set_field(app, pilot, name, value)
        view = app.query_one(SweepView)
        await pilot.press("ctrl+r")
        await wait_for(lambda: view.running, pilot)
        assert app.why_not("train") is not None  # one model trains at a time
        await wait_for(lambda: not view.running, pilot, timeout=180)
        table = app.query_one("#sweep-trials-table", DataTable)

        def states() -> list[str]:
            return [str(table.get_row_at(i)[1]) for i in range(table.row_count)]

        await wait_for(lambda: len(states()) == 3 and "running" not in states(), pilot)
        assert all(state in ("done", "pruned") for state in states()), states()
        assert "tab-study: 3 trials" in text(app, "#sweep-status")
        chart = app.query_one("#sweep-chart", LineChart)
        assert [line.name for line in chart.series] == ["trial", "best"]
        runs, _ = RunStore(tmp_path / "runs").list()
        assert len(runs) == 3 and all(run.config.validation_split == 0.1 for run in runs)
        await pilot.press("b")  # the best trial's settings into the form
        await wait_for(
            lambda: app.query_one("#tabs").active == "setup",  # type: ignore[attr-defined]
            pilot,
        )
        config = app.query_one(ConfigForm).config
        best = re.search(r"best #(\d+)", text(app, "#sweep-status"))
        assert best is not None and config is not None
        chosen = next(run for run in runs if run.data["sweep"]["trial"] == int(best[1]))
        assert config == chosen.config  # exactly: no digit of the learning rate lost
        app.action_show_tab("sweep")
        await pilot.press("c")
        await wait_for(lambda: isinstance(app.screen, CompareScreen), pilot)


def test_a_trials_settings_read_short() -> None:
    from mnist_tui.ui.tabs.sweep_view import params_text

    drawn = (
        ("hidden_units", "256,128"),
        ("learning_rate", "0.014009123"),
        ("activation", "gelu"),
        ("batch_size", "256"),
    )
    assert params_text(drawn) == "lr=0.014 units=256,128 gelu bs=256"  # the rate first


def test_one_trial_reads_as_one_and_the_trial_axis_counts_whole_trials() -> None:
    from mnist_tui.core.sweeps.storage import StudyView, TrialView
    from mnist_tui.ui.tabs.sweep_view import study_summary
    from mnist_tui.ui.widgets.line_chart import x_ticks

    trial = TrialView(
        number=0,
        state="running",
        params=(),
        val_curve=(),
        val_accuracy=None,
        test_accuracy=None,
        run_id=None,
        seconds=3.0,
        worker="",
        started=None,
    )
    assert study_summary(StudyView("s", None, "", (trial,))) == "1 trial: 1 running"
    assert x_ticks(0, 1, 60, whole=True) == [0, 1]
    assert x_ticks(0, 0, 60, whole=True) == [0]
    assert x_ticks(0, 1, 60) == [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1]


async def test_ctrl_s_stops_a_sweep_and_keeps_its_trial_in_a_narrow_terminal(
    make_app: AppFactory, tmp_path: Path
) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: app.data is not None, pilot)
        await pilot.press("6")
        view = app.query_one(SweepView)
        assert app.query_one("#sweep-setup").display and not app.query_one("#sweep-live").display
        app.query_one("#sweep-study", Input).value = "stop-study"
        for name, value in (("hidden_units", "16"), ("epochs", "500"), ("batch_size", "128")):
            await set_field(app, pilot, name, value)
        await pilot.press("ctrl+r")
        await wait_for(lambda: view.running, pilot)
        assert app.query_one("#sweep-live").display and not app.query_one("#sweep-setup").display
        await wait_for(lambda: "epoch 1" in text(app, "#sweep-status"), pilot, timeout=60)
        await pilot.press("ctrl+s")
        await wait_for(lambda: not view.running, pilot, timeout=30)
        runs, _ = RunStore(tmp_path / "runs").list()
        assert [run.status for run in runs] == ["stopped"]  # its trial, saved as it stood
        assert runs[0].epochs_done < 500
        await pilot.press("e")  # the space again, to change it
        assert app.query_one("#sweep-setup").display
