"""Issue 22 on the command line: a run by its name everywhere, ``--tags`` says ``--tag``,
percentages and plurals as the app writes them, a steered run reads as steered, Compare
lists only settings that apply, a smoothed loss is explained, a run stopped in its first
epoch is ``<1/N``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from mnist_tui.core.data.mnist import MnistData
from mnist_tui.core.runs.annotations import Annotation, write_annotation
from mnist_tui.core.runs.store import RUN_FILE, RunStore
from tests.conftest import Cli

SMALL = ("--hidden-units", "16", "--batch-size", "128", "--epochs", "1")


pytestmark = pytest.mark.usefixtures("small_data_for_the_cli")


def copy_run(one_run: Path, root: Path, run_id: str, name: str = "", **record: object) -> Path:
    """A copy of ``one_run`` as ``run_id``, named ``name``, its ``run.json`` changed by
    ``record`` (top-level keys; ``config`` entries are merged)."""
    folder = root / run_id
    shutil.copytree(one_run, folder)
    data = json.loads((folder / RUN_FILE).read_text())
    config = record.pop("config", {})
    data["config"].update(config)  # type: ignore[arg-type]
    data.update(record)
    (folder / RUN_FILE).write_text(json.dumps(data))
    if name:
        write_annotation(folder, Annotation.of(name, "", []))
    return folder


@pytest.fixture
def named(one_run: Path, tmp_path: Path) -> Path:
    """Runs named ``pause-test``, ``wide-mlp``, ``wide-cnn``, ``wide`` and one unnamed."""
    root = tmp_path / "runs"
    root.mkdir()
    for number, name in enumerate(("pause-test", "wide-mlp", "wide-cnn", "wide", "")):
        copy_run(one_run, root, f"2026112{number}-120000-mlp-000{number}", name)
    return root


def test_every_command_takes_a_run_by_its_name(
    cli: Cli, named: Path, tmp_path: Path, small_data: MnistData
) -> None:
    runs = ("--runs-dir", str(named))
    code, out, _ = cli("evaluate", "pause-test", *runs)
    assert code == 0
    assert out.splitlines()[0].startswith("pause-test (20261120-120000-mlp-0000)")
    assert cli("evaluate", "pause", *runs)[0] == 0  # a unique prefix of a name
    assert "wide (20261123-" in cli("show", "wide", "--limit", "1", *runs)[1]  # exact first
    code, out, _ = cli("compare", "pause-test", "wide-mlp", *runs)
    assert code == 0 and "A pause-test" in out and "B wide-mlp" in out
    assert cli("export", "wide-mlp", "--out", str(tmp_path / "h.csv"), *runs)[0] == 0
    assert cli("annotate", "wide-c", "--note", "found by name", *runs)[0] == 0
    image = tmp_path / "digit.npy"
    np.save(image, small_data.x_test[0])
    assert cli("predict", "pause-test", str(image), "--no-art", *runs)[0] == 0
    assert cli("delete", "wide-cnn", "--yes", *runs)[0] == 0
    assert [run.name for run in RunStore(named).list()[0]].count("wide-cnn") == 0


def test_an_ambiguous_name_lists_the_runs_it_fits(cli: Cli, named: Path) -> None:
    code, out, err = cli("evaluate", "wide-", "--runs-dir", str(named))
    assert code == 4 and not out
    assert len(err.strip().splitlines()) == 1
    assert (
        "'wide-' fits 2 runs: wide-cnn (20261122-120000-mlp-0002), wide-mlp "
        "(20261121-120000-mlp-0001)"
    ) in err
    code, _, err = cli("evaluate", "nobody", "--runs-dir", str(named))
    assert code == 4 and "give its name or id" in err


@pytest.mark.parametrize(
    "argv", [["train", *SMALL, "--tags", "a"], ["annotate", "latest", "--tags=a"]]
)
def test_tags_asks_if_tag_was_meant(cli: Cli, named: Path, argv: list[str]) -> None:
    code, _, err = cli(*argv, "--runs-dir", str(named))
    assert code == 2 and "did you mean --tag?" in err


def test_figures_read_as_in_the_app(cli: Cli, tmp_path: Path) -> None:
    runs = ("--runs-dir", str(tmp_path / "runs"))
    code, out, _ = cli("train", *SMALL, *runs)
    assert code == 0
    assert ": 1 epoch in " in out
    run = RunStore(tmp_path / "runs").load("latest")
    assert f"Test accuracy {run.test_accuracy:.2%}" in out
    code, out, _ = cli("evaluate", "latest", *runs)
    assert "(completed, 1 epoch)" in out and "1 epochs" not in out
    assert f"Test accuracy {run.test_accuracy:.2%}" in out
    assert f"{run.test_accuracy:.2%}" in cli("runs", *runs)[1]


def test_a_steered_run_reads_as_steered(cli: Cli, one_run: Path, tmp_path: Path) -> None:
    root = tmp_path / "runs"
    controls = [
        {"step": 3, "kind": "pause", "value": 0.0},
        {"step": 3, "kind": "resume", "value": 2.5},
        {"step": 3, "kind": "learning_rate", "value": 0.0028951},
        {"step": 5, "kind": "learning_rate", "value": 0.00144755},
    ]
    copy_run(
        one_run,
        root,
        "20261120-120000-mlp-0000",
        "steered",
        config={"learning_rate": 0.003},
        controls=controls,
    )
    copy_run(one_run, root, "20261121-120000-mlp-0001", "plain")
    runs = ("--runs-dir", str(root))
    steered = "lr=0.003→0.00145"
    assert steered in cli("runs", *runs)[1]
    assert steered in cli("evaluate", "steered", *runs)[1]
    code, out, _ = cli("compare", "steered", "plain", *runs)
    assert code == 0 and steered in out
    assert "0.003→0.00145" in out.split("Settings that differ")[1]


def test_compare_lists_only_the_settings_that_apply(
    cli: Cli, one_run: Path, tmp_path: Path
) -> None:
    root = tmp_path / "runs"
    copy_run(
        one_run,
        root,
        "20261120-120000-mlp-0000",
        "a",
        config={"conv_filters": [8], "momentum": 0.5},
    )
    copy_run(one_run, root, "20261121-120000-mlp-0001", "b", config={"hidden_units": [32]})
    runs = ("--runs-dir", str(root))
    code, out, _ = cli("compare", "a", "b", "--json", *runs)
    assert code == 0 and list(json.loads(out)["settings"]) == ["hidden_units"]
    out = cli("compare", "a", "b", *runs)[1]
    assert "conv filters" not in out and "momentum" not in out and "hidden units" in out


def test_a_smoothed_loss_is_explained(cli: Cli, tmp_path: Path) -> None:
    runs = ("--runs-dir", str(tmp_path / "runs"))
    code, out, _ = cli("train", *SMALL, "--label-smoothing", "0.1", *runs)
    assert code == 0
    assert "Label smoothing 0.1: the training loss stays above 0.50" in out
    assert (
        "Label smoothing 0.1: the training loss stays above 0.50"
        in cli("evaluate", "latest", *runs)[1]
    )
    assert "smoothing" not in cli("train", *SMALL, *runs)[1]


def test_a_run_stopped_in_its_first_epoch_is_under_one(
    cli: Cli, one_run: Path, tmp_path: Path
) -> None:
    root = tmp_path / "runs"
    copy_run(
        one_run,
        root,
        "20261120-120000-mlp-0000",
        "early quit",
        status="stopped",
        history=[],
        config={"epochs": 2},
    )
    out = cli("runs", "--runs-dir", str(root))[1]
    assert "<1/2" in out and "0/2" not in out
    assert "(stopped, under 1 epoch)" in cli("evaluate", "early", "--runs-dir", str(root))[1]


def test_a_stop_in_the_first_epoch_is_said_as_such() -> None:
    from mnist_tui.core.events import TrainingFinished, epochs_text

    assert [epochs_text(n) for n in (0, 1, 3)] == ["under 1 epoch", "1 epoch", "3 epochs"]
    assert TrainingFinished("stopped", seconds=1.25).summary == (
        "Training stopped by you within its first epoch, after 1.2s"
    )
