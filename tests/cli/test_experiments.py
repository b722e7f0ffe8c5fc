"""Across runs: name and tag them, find them, compare them, export their curves."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from mnist_tui.core.config import TrainConfig
from mnist_tui.core.data.mnist import MnistData
from mnist_tui.core.engine.evaluation import evaluate_probabilities
from mnist_tui.core.runs.annotations import ANNOTATION_FILE, Annotation, AnnotationError
from mnist_tui.core.runs.comparison import (
    differing_settings,
    disagreement,
    metric_rows,
    recall_by_digit,
)
from mnist_tui.core.runs.query import filter_runs, sort_runs
from mnist_tui.core.runs.store import MODEL_FILE, RUN_FILE, RunStore
from mnist_tui.core.session import train_evaluate_save
from tests.conftest import Cli


@pytest.fixture(scope="module")
def three(small_data: MnistData, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three small runs that differ in one setting each, one named at training time."""
    root = tmp_path_factory.mktemp("runs")
    store = RunStore(root)
    base = TrainConfig(hidden_units=(16,), batch_size=128, epochs=2)
    for config, annotation in (
        (base, Annotation.of("baseline", "the seed's shape", ["mlp", "small"])),
        (base.replace(hidden_units=(64,)), None),
        (base.replace(learning_rate=0.001), None),
    ):
        train_evaluate_save(config, small_data, store, lambda _e: None, annotation=annotation)
    return root


@pytest.fixture
def runs_dir(three: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "runs"
    shutil.copytree(three, copy)
    return copy


def _digest(folder: Path) -> dict[str, str]:
    return {
        name: hashlib.sha256((folder / name).read_bytes()).hexdigest()
        for name in (RUN_FILE, MODEL_FILE, "test_probabilities.npy")
    }


# --- naming and finding -----------------------------------------------------------------------


def test_a_name_given_at_training_time_is_kept(runs_dir: Path) -> None:
    named = [run for run in RunStore(runs_dir).list()[0] if run.name]
    assert [run.name for run in named] == ["baseline"]
    assert named[0].annotation.tags == ("mlp", "small")
    assert named[0].label == f"baseline ({named[0].run_id})"


def test_annotate_changes_only_the_annotation(runs_dir: Path, cli: Cli) -> None:
    store = RunStore(runs_dir)
    run = next(run for run in store.list()[0] if not run.name)
    before = _digest(run.path)
    code, out, _err = cli(
        "annotate",
        run.run_id,
        "--name",
        "wide [red]",
        "--note",
        "64 units",
        "--tag",
        "b,a",
        "--tag",
        "a",
        "--runs-dir",
        str(runs_dir),
    )
    assert code == 0 and "wide [red]" in out
    again = store.load(run.run_id)
    assert (again.name, again.annotation.note, again.annotation.tags) == (
        "wide [red]",
        "64 units",
        ("a", "b"),
    )
    assert _digest(run.path) == before  # record, model and metrics untouched
    assert not [p for p in run.path.iterdir() if p.name.endswith(".tmp")]  # atomic, no debris
    code, _out, _err = cli("annotate", run.run_id, "--name", "", "--runs-dir", str(runs_dir))
    assert code == 0 and store.load(run.run_id).name == ""
    assert store.load(run.run_id).annotation.tags == ("a", "b")  # the rest is kept
    code, _out, err = cli("annotate", run.run_id, "--tag", "no spaces", "--runs-dir", str(runs_dir))
    assert code == 4 and "a tag is" in err


def test_a_hostile_annotation_file_is_ignored_with_a_reason(runs_dir: Path) -> None:
    run = RunStore(runs_dir).list()[0][0]
    (run.path / ANNOTATION_FILE).write_text('{"name": ["not", "text"]}')
    runs, bad = RunStore(runs_dir).list()
    assert len(runs) == 3 and not bad  # the run is kept, without its annotation
    kept = next(item for item in runs if item.run_id == run.run_id)
    assert kept.annotation == Annotation() and "name and note must be text" in kept.annotation_note
    with pytest.raises(AnnotationError):
        Annotation(name="x" * 81)


def test_sort_and_filter(runs_dir: Path, cli: Cli) -> None:
    runs = RunStore(runs_dir).list()[0]
    by_acc = sort_runs(runs, "acc")
    assert [r.test_accuracy for r in by_acc] == sorted(
        (r.test_accuracy for r in runs), reverse=True
    )
    assert [r.test_accuracy for r in sort_runs(runs, "acc", reverse=True)] == [
        r.test_accuracy for r in by_acc[::-1]
    ]
    assert [r.param_count for r in sort_runs(runs, "params")] == sorted(r.param_count for r in runs)
    assert sort_runs(runs, "name")[0].name == "baseline"  # named runs first
    assert [r.name for r in filter_runs(runs, "SMALL")] == ["baseline"]  # a tag, any case
    assert len(filter_runs(runs, "learning_rate=0.001")) == 1  # a setting
    assert len(filter_runs(runs, "mlp hidden_units=64")) == 1  # every word must match
    assert len(filter_runs(runs, "cnn hidden_units=64")) == 0
    code, out, _err = cli(
        "runs", "--json", "--sort", "acc", "--filter", "mlp", "--runs-dir", str(runs_dir)
    )
    listed = json.loads(out)["runs"]
    assert code == 0 and [row["test_accuracy"] for row in listed] == sorted(
        (row["test_accuracy"] for row in listed), reverse=True
    )
    code, out, _err = cli("runs", "--filter", "nothing-like-this", "--runs-dir", str(runs_dir))
    assert code == 0 and "None of the 3 runs" in out


# --- compare --------------------------------------------------------------------------------


def test_compare_core_against_numpy(runs_dir: Path, small_data: MnistData) -> None:
    store = RunStore(runs_dir)
    runs = sort_runs(store.list()[0], "id")
    evaluations = [store.load_evaluation(run, small_data.y_test) for run in runs]
    assert all(e is not None for e in evaluations)
    found = disagreement(evaluations, 0, 1)  # type: ignore[arg-type]
    pa = np.load(runs[0].path / "test_probabilities.npy").argmax(1)
    pb = np.load(runs[1].path / "test_probabilities.npy").argmax(1)
    y = small_data.y_test
    assert found.counts() == {
        "a_right_b_wrong": int(((pa == y) & (pb != y)).sum()),
        "b_right_a_wrong": int(((pb == y) & (pa != y)).sum()),
        "both_wrong": int(((pa != y) & (pb != y)).sum()),
    }
    assert {row.name for row in differing_settings(runs)} == {"hidden_units", "learning_rate"}
    accuracy = next(row for row in metric_rows(runs) if row.name == "test accuracy")
    assert accuracy.best is None or runs[accuracy.best].test_accuracy == max(
        r.test_accuracy for r in runs
    )
    recalls = recall_by_digit(runs)
    assert recalls.shape == (10, 3)
    again = evaluate_probabilities(np.load(runs[2].path / "test_probabilities.npy"), y)
    assert recalls[:, 2] == pytest.approx([c.recall for c in again.per_class])


@pytest.mark.real_mnist
def test_compare_command(runs_dir: Path, cli: Cli) -> None:
    runs = RunStore(runs_dir).list()[0]
    # By what each run changed, not by id: runs saved in one second sort by their suffix.
    ids = [
        next(
            run.run_id
            for run in runs
            if (run.config.hidden_units, run.config.learning_rate) == shape
        )
        for shape in (((16,), 0.01), ((64,), 0.01), ((16,), 0.001))
    ]
    code, out, _err = cli("compare", *ids[:2], "--json", "--runs-dir", str(runs_dir))
    report = json.loads(out)
    assert code == 0 and [r["run_id"] for r in report["runs"]] == ids[:2]
    assert list(report["settings"]) == ["hidden_units"]
    counts = report["disagreements"][0]
    assert set(counts) == {"a", "b", "a_right_b_wrong", "b_right_a_wrong", "both_wrong"}
    code, out, _err = cli("compare", *ids, "--runs-dir", str(runs_dir))
    assert code == 0 and "Settings that differ" in out and "A right, B wrong:" in out
    assert "A right, C wrong:" in out and "Recall per digit" in out
    for bad, message in (([ids[0]], "2 to 6 runs"), ([ids[0], ids[0]], "named twice")):
        code, _out, err = cli("compare", *bad, "--runs-dir", str(runs_dir))
        assert code == 2 and message in err


# --- export ------------------------------------------------------------------------------------


def test_export_per_epoch_and_per_step(runs_dir: Path, tmp_path: Path, cli: Cli) -> None:
    run = RunStore(runs_dir).list()[0][0]
    code, out, _err = cli("export", run.run_id, "--runs-dir", str(runs_dir))
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and [int(r["epoch"]) for r in rows] == [1, 2]
    assert float(rows[1]["loss"]) == pytest.approx(run.history[1].loss)
    assert rows[0]["val_loss"] == ""  # no validation split: an empty cell
    code, out, _err = cli(
        "export", run.run_id, "--format", "jsonl", "--per-step", "--runs-dir", str(runs_dir)
    )

    def refuse(token: str) -> None:
        raise ValueError(token)

    points = [json.loads(line, parse_constant=refuse) for line in out.splitlines()]
    assert code == 0 and len(points) == len(run.steps) >= 1
    assert set(points[0]) == {
        "step",
        "samples",
        "epoch",
        "loss",
        "loss_mean",
        "accuracy",
        "accuracy_mean",
        "learning_rate",
    }
    target = tmp_path / "history.csv"  # in a folder that exists: a missing one is refused
    code, _out, err = cli(
        "export", run.run_id, "--per-step", "--out", str(target), "--runs-dir", str(runs_dir)
    )
    assert code == 0 and target.read_text().startswith("step,samples,epoch,loss")
    assert f"Wrote {len(run.steps)} rows" in err


@pytest.mark.real_mnist
def test_train_jsonl_streams_every_event(tmp_path: Path, cli: Cli) -> None:
    code, out, _err = cli(
        "train",
        "--epochs",
        "2",
        "--batch-size",
        "2048",
        "--jsonl",
        "--name",
        "streamed",
        "--runs-dir",
        str(tmp_path),
    )
    assert code == 0
    events = [json.loads(line) for line in out.splitlines()]  # nothing else on stdout
    kinds = [event["event"] for event in events]
    assert kinds[0] == "training_started" and kinds[-3:] == [
        "training_finished",
        "evaluation_started",
        "run_saved",
    ]
    assert kinds.count("epoch_end") == 2
    saved = events[-1]
    run = RunStore(tmp_path).load(saved["run_id"])
    assert run.name == "streamed" and saved["test_accuracy"] == pytest.approx(run.test_accuracy)
