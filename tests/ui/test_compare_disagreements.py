"""Issue 11 point 4: the digits compared runs disagree on, browsed in the Samples tab with
both runs' predictions, from the Compare screen's `d`."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
from textual.widgets import Select, Static

from mnist_tui.core.data.mnist import MnistData
from mnist_tui.core.engine.evaluation import evaluate_probabilities
from mnist_tui.core.runs.store import RUN_FILE, RunInfo, RunStore
from mnist_tui.ui.app import MnistApp
from mnist_tui.ui.screens.compare import CompareScreen
from mnist_tui.ui.tabs.runs_view import RunsView
from mnist_tui.ui.tabs.samples_view import SampleViewer
from tests.ui.conftest import screen_lines, wait_for, write_fixed_run

SIZE = (120, 40)
AppFactory = Callable[..., MnistApp]
NAME = "[bold]night[/] run\\"
"""A name that is not markup, ending in a backslash (``escape`` would change it)."""
RUNS = (
    ("20261124-120000-mlp-aaaa", 1, 0.8),
    ("20261124-130000-mlp-bbbb", 2, 0.7),
    ("20261124-140000-mlp-cccc", 3, 0.75),
)


def write_run(runs_dir: Path, data: MnistData, run_id: str, seed: int, skill: float) -> Path:
    """A saved run whose predictions (right about ``skill`` of the time, confidences of a
    few levels) differ from the other runs' both ways."""
    folder = write_fixed_run(runs_dir, data, run_id=run_id)
    rng = np.random.default_rng(seed)
    labels = data.y_test.astype(int)
    count = len(labels)
    guesses = np.where(
        rng.random(count) < skill, labels, (labels + rng.integers(1, 10, count)) % 10
    )
    probabilities = np.full((count, 10), 0.01, dtype=np.float32)
    probabilities[np.arange(count), guesses] = rng.choice([0.55, 0.7, 0.85, 0.95], count)
    probabilities /= probabilities.sum(axis=1, keepdims=True)  # rows of probabilities
    np.save(folder / "test_probabilities.npy", probabilities)
    record = json.loads((folder / RUN_FILE).read_text())
    record["test"] = evaluate_probabilities(probabilities, labels).metrics_dict()
    (folder / RUN_FILE).write_text(json.dumps(record))
    return folder


def saved(run: RunInfo) -> np.ndarray:
    return np.load(run.path / "test_probabilities.npy")


def numpy_sets(first: np.ndarray, second: np.ndarray, labels: np.ndarray) -> dict[str, np.ndarray]:
    """Each set, surest wrong answer first (ties by index), straight from numpy."""
    right_a, right_b = first.argmax(1) == labels, second.argmax(1) == labels
    sure_a, sure_b = first.max(1), second.max(1)
    sets = {
        "a_only": (right_a & ~right_b, sure_b),
        "b_only": (right_b & ~right_a, sure_a),
        "both_wrong": (~right_a & ~right_b, np.maximum(sure_a, sure_b)),
    }
    return {
        which: np.flatnonzero(keep)[np.lexsort((np.flatnonzero(keep), -sure[keep]))]
        for which, (keep, sure) in sets.items()
    }


def text_of(app: MnistApp, selector: str) -> str:
    return str(app.query_one(selector, Static).render())


async def compare(app: MnistApp, pilot: object, count: int) -> list[RunInfo]:
    """Mark the first ``count`` runs in the Runs tab and open the Compare screen."""
    await wait_for(lambda: app.data is not None, pilot)
    await pilot.press("5")  # type: ignore[attr-defined]
    view = app.query_one(RunsView)
    view.table.move_cursor(row=0)
    await pilot.press(*["space"] * count)  # type: ignore[attr-defined]
    marked = view.marked
    await pilot.press("c")  # type: ignore[attr-defined]
    await wait_for(lambda: isinstance(app.screen, CompareScreen), pilot)
    return marked


async def test_two_runs_disagreements_with_both_predictions(
    make_app: AppFactory, tmp_path: Path, slice_data: MnistData
) -> None:
    runs_dir = tmp_path / "runs"
    for run_id, seed, skill in RUNS[:2]:
        write_run(runs_dir, slice_data, run_id, seed, skill)
    store = RunStore(runs_dir)
    store.annotate(store.load(RUNS[0][0]), name=NAME)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        runs = await compare(app, pilot, 2)
        first, second = saved(runs[0]), saved(runs[1])
        labels = slice_data.y_test.astype(int)
        expected = numpy_sets(first, second, labels)
        assert all(len(found) > 5 for found in expected.values())  # all three worth a look
        counts_line = " ".join(str(w.render()) for w in app.screen.query(".compare-disagreements"))
        assert (
            f"A right, B wrong: {len(expected['a_only'])} · B right, A wrong: "
            f"{len(expected['b_only'])} · both wrong: {len(expected['both_wrong'])}" in counts_line
        )
        assert "d" in app.screen.active_bindings  # in the compare screen's footer
        await pilot.press("d")
        viewer = app.query_one(SampleViewer)
        await wait_for(lambda: viewer.comparing, pilot)
        assert not isinstance(app.screen, CompareScreen)
        assert app.query_one("#tabs").active == "samples"  # type: ignore[attr-defined]
        assert app.focused is viewer
        await pilot.pause()

        title = text_of(app, "#viewer-title").splitlines()
        assert title[0].endswith(f"A {runs[0].label}")
        assert NAME in "\n".join(title)  # literally, wherever the runs sort
        assert title[1].endswith(f"vs  B {runs[1].label}")
        assert app.query_one("#viewer-title").region.height == 2
        sets = text_of(app, "#viewer-sets")
        assert sets == (
            f"f A right, B wrong: {len(expected['a_only'])}  ·  "
            f"s B right, A wrong: {len(expected['b_only'])}  ·  "
            f"w both wrong: {len(expected['both_wrong'])}"
        )

        # A right, B wrong, B's surest wrong answers first.
        assert viewer.browse_set == "a_only"
        assert viewer.selection.tolist() == expected["a_only"].tolist()
        index = int(expected["a_only"][0])
        info = text_of(app, "#digit-info").splitlines()
        pred_b = int(second[index].argmax())
        assert info[0] == f"test #{index}   true {labels[index]}"
        assert info[1].split() == [
            "A",
            "predicted",
            str(labels[index]),
            "B",
            "predicted",
            str(pred_b),
        ]
        assert info[2].split() == [
            "correct",
            f"{float(first[index].max()):.1%}",
            "WRONG",
            f"{float(second[index].max()):.1%}",
        ]
        bars = info[3:]  # a line per digit: A's and B's probabilities side by side
        assert len(bars) == 10
        assert f"{float(first[index][pred_b]):6.1%}" in bars[pred_b]
        assert f"{float(second[index][pred_b]):6.1%}" in bars[pred_b]
        assert bars[int(labels[index])].rstrip().endswith("◀ true")

        keys = app.screen.active_bindings
        assert {"f", "s", "w", "escape"} <= set(keys) and "m" not in keys
        assert "b" not in keys  # one pair only
        footer = screen_lines(app)[-1]
        assert all(
            key in footer for key in ("esc Back", "f 1st right", "s 2nd right", "w Both wrong")
        ), footer

        for key, which in (("s", "b_only"), ("w", "both_wrong"), ("f", "a_only")):
            await pilot.press(key)
            assert viewer.browse_set == which
            assert viewer.selection.tolist() == expected[which].tolist()
        await pilot.press("s")
        await pilot.pause()
        assert "reverse" in str(app.query_one("#viewer-sets", Static).render().spans)
        index = int(expected["b_only"][0])
        info = text_of(app, "#digit-info").splitlines()
        assert info[1].split() == [
            "A",
            "predicted",
            str(int(first[index].argmax())),
            "B",
            "predicted",
            str(labels[index]),
        ]
        assert info[2].split()[::2] == ["WRONG", "correct"]

        await pilot.press("o")  # by index
        assert viewer.selection.tolist() == sorted(expected["b_only"].tolist())
        await pilot.press("t", "t", "t")  # true class 2
        assert viewer.selection.tolist() == [
            i for i in sorted(expected["b_only"].tolist()) if labels[i] == 2
        ]
        await pilot.press("c")  # the whole set, surest first again
        assert viewer.selection.tolist() == expected["b_only"].tolist()
        await pilot.press("p", "p")  # the wrong answer (A's, here) is 1
        assert viewer.selection.tolist() == [
            i for i in expected["b_only"].tolist() if first[i].argmax() == 1
        ]
        await pilot.press("c", "g")
        await pilot.pause()
        grid = str(app.query_one("#digit-grid", Static).render())
        index = int(expected["b_only"][0])
        assert grid[2:].startswith(
            f"{labels[index]} A{int(first[index].argmax())} B{labels[index]}"
        )  # after the current cell's mark
        await pilot.press("g", "escape")  # back to the comparison
        await wait_for(lambda: isinstance(app.screen, CompareScreen), pilot)
        assert not viewer.comparing
        assert "No samples yet" in text_of(app, "#viewer-position")
        await pilot.press("escape", "4")
        assert "f" not in app.screen.active_bindings and "m" in app.screen.active_bindings


async def test_three_runs_choose_the_pair_and_opening_a_run_leaves(
    make_app: AppFactory, tmp_path: Path, slice_data: MnistData
) -> None:
    for run_id, seed, skill in RUNS:
        write_run(tmp_path / "runs", slice_data, run_id, seed, skill)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(lambda: app.data is not None, pilot)
        await pilot.press("5", "enter")  # a run on show first
        await wait_for(lambda: app.shown_run is not None, pilot)
        shown = app.shown_run
        assert shown is not None
        await pilot.press("4", "m")  # its mistakes
        viewer = app.query_one(SampleViewer)
        mistakes = viewer.selection.tolist()
        runs = await compare(app, pilot, 3)
        await pilot.press("d")
        await wait_for(lambda: viewer.comparing, pilot)
        labels = slice_data.y_test.astype(int)
        probabilities = [saved(run) for run in runs]
        assert "b" in app.screen.active_bindings
        await pilot.press("b")
        assert viewer.pair == (0, 2)
        assert app.query_one("#filter-pair", Select).value == "0-2"
        await pilot.pause()
        expected = numpy_sets(probabilities[0], probabilities[2], labels)
        assert viewer.selection.tolist() == expected["a_only"].tolist()
        assert text_of(app, "#viewer-title").splitlines()[1].endswith(f"C {runs[2].label}")
        assert f"C wrong: {len(expected['a_only'])}" in text_of(app, "#viewer-sets")
        app.query_one("#filter-pair", Select).value = "1-2"  # as if picked with the mouse
        await pilot.pause()
        assert viewer.pair == (1, 2)
        await pilot.press("w")
        expected = numpy_sets(probabilities[1], probabilities[2], labels)
        assert viewer.selection.tolist() == expected["both_wrong"].tolist()
        await pilot.press("escape")  # back to the comparison; the tab to the run on show
        await wait_for(lambda: isinstance(app.screen, CompareScreen), pilot)
        assert not viewer.comparing and viewer.selection.tolist() == mistakes
        assert text_of(app, "#viewer-title").startswith(shown.label)
        await pilot.press("escape")

        await pilot.press("5")
        await compare(app, pilot, 0)  # the three runs are still marked
        await pilot.press("d")
        await wait_for(lambda: viewer.comparing, pilot)
        assert viewer.browse_set == "a_only" and viewer.pair == (0, 1)  # from the start
        assert app.query_one("#filter-pair", Select).value == "0-1"
        await pilot.press("5")
        app.query_one(RunsView).table.move_cursor(row=1)
        await pilot.press("enter")  # opening a run leaves the comparison
        await wait_for(
            lambda: app.shown_run is not None and app.shown_run.path != shown.path, pilot
        )
        await pilot.press("4")
        await pilot.pause()
        assert not viewer.comparing
        assert app.shown_run is not None
        assert text_of(app, "#viewer-title").startswith(app.shown_run.label)
