"""The Inside tab in the app, from the real defaults: it follows the run on show, is
driven with the keys and the mouse, opens a digit in Samples, takes one from it, and
draws a running training's dynamics live."""

from __future__ import annotations

import time
from collections.abc import Callable

from textual.widgets import Static, TabbedContent

from mnist_tui.core.config import TrainConfig
from mnist_tui.ui.app import MnistApp
from mnist_tui.ui.tabs import tab_hint
from mnist_tui.ui.tabs.inside import InsideView, ScatterMap
from tests.ui.conftest import screen_lines, wait_for

AppFactory = Callable[..., MnistApp]


def _text(app: MnistApp, selector: str) -> str:
    return str(app.query_one(selector, Static).render())


def _active(app: MnistApp) -> str:
    return app.query_one(TabbedContent).active


async def test_the_inside_tab_on_a_run_trained_from_the_defaults(make_app: AppFactory) -> None:
    app = make_app(config=TrainConfig())
    async with app.run_test(size=(120, 40)) as pilot:
        view = app.main.panes.inside_view
        await wait_for(lambda: app.data is not None, pilot)
        await pilot.press("8")
        await pilot.pause()
        assert _active(app) == "inside" and app.focused is view
        hint = _text(app, "#inside-units")
        assert f"open one ({tab_hint('runs')})" in hint and "ctrl+t" in hint

        await pilot.press("ctrl+t")
        await wait_for(lambda: app.shown_run is not None and not app.training, pilot, timeout=120)
        await pilot.press("1")
        await pilot.pause()
        shown_at = time.perf_counter()
        await pilot.press("8")
        await wait_for(lambda: "units, most important first" in _text(app, "#inside-units"), pilot)
        first_picture = time.perf_counter() - shown_at
        print(f"\nInside, first picture of the default MLP: {first_picture:.2f} s")
        units = _text(app, "#inside-units")
        assert "dense: 128 units" in units and "page 1 of" in units
        run = app.shown_run
        assert run is not None and run.label in _text(app, "#inside-status")

        await pilot.press("a")
        await wait_for(lambda: view._attribution is not None, pilot)
        where = _text(app, "#inside-where")
        assert "Test digit 0" in where and "Completeness" in where and "holds" in where

        await pilot.press("m")
        await wait_for(lambda: "pca" in view._maps_by, pilot)
        await pilot.pause()
        found = view._maps_by["pca"]
        scatter = app.query_one(ScatterMap)
        frame = scatter.frame
        assert frame is not None
        columns, rows = frame.cell(found.projection.points[[321]])
        await pilot.click(ScatterMap, offset=(int(columns[0]), int(rows[0])))
        await pilot.pause()
        picked = view.picked
        assert picked is not None and f"#{picked}:" in _text(app, "#inside-map-side")

        await pilot.press("enter")  # the picked digit, in Samples
        await wait_for(lambda: _active(app) == "samples", pilot)
        viewer = app.main.panes.viewer
        assert viewer.current_index == picked
        assert app.focused is viewer

        await pilot.press("right", "i")  # the next digit, sent back to Inside
        following = viewer.current_index
        assert following is not None and following != picked
        await wait_for(lambda: _active(app) == "inside", pilot)
        assert view.section == "attribution"
        await wait_for(lambda: view._attribution is not None and view._digit == following, pilot)
        assert f"Test digit {following}:" in _text(app, "#inside-where")


async def test_a_training_s_dynamics_appear_live_in_80x24(make_app: AppFactory) -> None:
    app = make_app(config=TrainConfig().replace(epochs=1000))  # still training when checked
    async with app.run_test(size=(80, 24)) as pilot:
        view = app.query_one(InsideView)
        await wait_for(lambda: app.data is not None, pilot)
        await pilot.press("ctrl+t")
        await wait_for(lambda: app.training, pilot)
        await pilot.press("8", "t")
        assert _active(app) == "inside" and view.section == "training"
        assert "8 Inside" in screen_lines(app)[1]  # the eight tabs fit in 80 columns
        assert "first epoch" in _text(app, "#inside-dynamics") or view._dynamics
        await wait_for(lambda: len(view._dynamics) >= 1, pilot, timeout=120)
        seen = len(view._dynamics)
        assert app.training and f"epochs 1 to {seen})" in _text(app, "#inside-dynamics")
        await wait_for(lambda: len(view._dynamics) > seen, pilot, timeout=120)
        assert app.training
        now = view._dynamics[-1].epoch
        live = _text(app, "#inside-dynamics")
        assert "running now, live" in live and f"epochs 1 to {now})" in live
        assert "dense" in live and "grad norm" in live
        assert any("running now, live" in line for line in screen_lines(app))

        await pilot.press("ctrl+s")  # stopped: the saved run is on show, its own dynamics
        await wait_for(lambda: app.shown_run is not None and not app.training, pilot, timeout=60)
        await wait_for(lambda: view._layer is not None, pilot, timeout=30)
        saved = _text(app, "#inside-dynamics")
        assert "running now" not in saved and "epochs 1 to" in saved
