"""The Inside view on its own, in a tiny app, over a real small saved run: driven with the
keys and the mouse through its four sections."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
from textual.app import App, ComposeResult

from mnist_tui.core.data.mnist import MnistData
from mnist_tui.core.events import EpochDynamics
from mnist_tui.core.runs.store import RunStore
from mnist_tui.ui.tabs.inside import InsideView, OpenSample, ScatterMap
from tests.ui.conftest import wait_for


class InsideApp(App[None]):
    """Just the view, showing one run."""

    def __init__(self, runs: Path, data: MnistData) -> None:
        super().__init__()
        self.store = RunStore(runs)
        self.data = data
        self.opened: list[int] = []
        self.shown_at = 0.0

    def compose(self) -> ComposeResult:
        yield InsideView()

    def on_mount(self) -> None:
        view = self.query_one(InsideView)
        run = self.store.list()[0][0]
        self.shown_at = time.perf_counter()
        view.show_run(run, self.store, self.data)
        view.focus_main()

    def on_open_sample(self, message: OpenSample) -> None:
        self.opened.append(message.index)


def _text(app: InsideApp, selector: str) -> str:
    return str(app.query_one(selector).render())


async def test_the_inside_view_with_keys_and_mouse(runs: Path, small_data: MnistData) -> None:
    app = InsideApp(runs, small_data)
    async with app.run_test(size=(120, 40)) as pilot:
        view = app.query_one(InsideView)
        await wait_for(lambda: view._layer is not None, pilot, timeout=30)
        assert time.perf_counter() - app.shown_at < 10  # the first picture (one run, small MLP)
        units = _text(app, "#inside-units")
        columns, size = view._grid()
        pages = -(-16 // size)
        assert "16 units, most important first" in units and f"page 1 of {pages}" in units
        first = view._layer.units[0].index  # type: ignore[union-attr]
        assert f"▶#{first}" in units

        await pilot.press("right", "down")
        chosen = view._layer.units[columns + 1].index  # type: ignore[union-attr]
        assert f"▶#{chosen}" in _text(app, "#inside-units")
        await pilot.press("enter")
        await wait_for(lambda: view._excited is not None, pilot)
        assert "excite it most" in _text(app, "#inside-unit-side")
        await pilot.press("right_square_bracket")
        assert f"page 2 of {pages}" in _text(app, "#inside-units")
        await pilot.press("o")
        assert "#" in _text(app, "#inside-units") or "%" in _text(app, "#inside-units")

        await pilot.press("a")
        await wait_for(lambda: view._attribution is not None, pilot)
        where = _text(app, "#inside-where")
        assert "Test digit 0" in where and "Completeness" in where and "holds" in where
        await pilot.press("n", "full_stop")
        await wait_for(lambda: view._attribution is not None and view._digit == 1, pilot)
        assert "Test digit 1" in _text(app, "#inside-where")
        await pilot.press("g")
        await wait_for(lambda: view._attribution is not None, pilot)
        assert "plain gradients" in _text(app, "#inside-where")

        await pilot.press("m")
        await wait_for(lambda: "pca" in view._maps_by, pilot)
        await pilot.pause()
        side = _text(app, "#inside-map-side")
        assert "PCA" in side and "neighbour agreement" in side and "#0:" in side
        scatter = app.query_one(ScatterMap)
        found = view._maps_by["pca"]
        frame = scatter.frame
        assert frame is not None
        target = 123
        columns, rows = frame.cell(found.projection.points[[target]])
        await pilot.click(ScatterMap, offset=(int(columns[0]), int(rows[0])))
        await pilot.pause()
        picked = view.picked
        assert picked is not None
        picked_cell = frame.cell(found.projection.points[[picked]])
        assert (int(picked_cell[0][0]), int(picked_cell[1][0])) == (int(columns[0]), int(rows[0]))
        assert f"#{picked}:" in _text(app, "#inside-map-side")
        await pilot.press("enter")
        await pilot.pause()
        assert app.opened == [picked]
        before = view.picked
        await pilot.press("left", "left", "up")
        assert view.picked is not None and view.picked != before
        await pilot.press("f", "f")  # class 1 only
        assert view.picked is not None and int(small_data.y_test[view.picked]) == 1
        assert "class 1" in _text(app, "#inside-map-side")
        await pilot.press("x")
        assert "mistakes only" in _text(app, "#inside-map-side")

        await pilot.press("t")
        training = _text(app, "#inside-dynamics")
        assert "dense" in training and "probabilities" in training and "grad norm" in training
        last: Any = view._dynamics[-1]
        view.add_dynamics(EpochDynamics(epoch=last.epoch + 1, layers=last.layers, seconds=0.0))
        assert "epochs 1 to 2" in _text(app, "#inside-dynamics")


async def test_the_map_by_tsne_replaces_pca_in_the_background(
    runs: Path, small_data: MnistData
) -> None:
    app = InsideApp(runs, small_data)
    async with app.run_test(size=(80, 24)) as pilot:
        view = app.query_one(InsideView)
        await wait_for(lambda: view._model is not None, pilot, timeout=30)
        await pilot.press("m", "s")
        await wait_for(lambda: "tsne" in view._maps_by, pilot, timeout=60)
        await pilot.pause()
        side = _text(app, "#inside-map-side")
        assert "t-SNE" in side and "(PCA:" in side
        tsne = view._maps_by["tsne"].projection
        assert tsne.points.shape == (300, 2) and np.isfinite(tsne.points).all()


async def test_a_convnets_filters_and_feature_maps(small_data: MnistData, tmp_path: Path) -> None:
    from mnist_tui.core.config import TrainConfig
    from mnist_tui.core.session import train_evaluate_save

    config = TrainConfig(architecture="cnn", conv_filters=(4, 6), epochs=1, batch_size=256)
    train_evaluate_save(config, small_data, RunStore(tmp_path), lambda _e: None)
    app = InsideApp(tmp_path, small_data)
    async with app.run_test(size=(120, 40)) as pilot:
        view = app.query_one(InsideView)
        await wait_for(lambda: view._layer is not None and bool(view._maps), pilot, timeout=30)
        await pilot.pause()
        assert "4 filters, most important first" in _text(app, "#inside-units")
        side = _text(app, "#inside-unit-side")
        assert "feature maps of digit 0" in side
        await pilot.press("t")
        assert "conv2d" in _text(app, "#inside-dynamics") and "dead ReLU" in _text(
            app, "#inside-dynamics"
        )
