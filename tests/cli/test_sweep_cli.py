"""``mnist-tui sweep run|list|show`` in this process, on small synthetic digits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mnist_tui.core.data.mnist import MnistData
from mnist_tui.core.runs.store import RunStore
from mnist_tui.core.sweeps.storage import STORAGE_FILE
from tests.conftest import Cli
from tests.postgres_server import free_port

TINY = ["--epochs", "1", "--hidden-units", "8|16", "--batch-size", "128", "--learning-rate", "0.01"]


@pytest.fixture
def tiny_data(monkeypatch: pytest.MonkeyPatch, small_data: MnistData) -> MnistData:
    """``sweep run`` trains on the small synthetic digits."""
    monkeypatch.setattr("mnist_tui.cli.sweep.load_data", lambda *_a, **_k: small_data)
    return small_data


def test_run_list_show_and_resume(cli: Cli, tiny_data: MnistData, tmp_path: Path) -> None:
    runs = str(tmp_path)
    code, out, err = cli(
        "sweep", "run", "--study", "first", "--trials", "2", "--runs-dir", runs, *TINY
    )
    assert code == 0, err
    assert "Study first: 2 trials (2 complete)" in out
    assert "More trials: mnist-tui sweep run --study first" in out
    assert "trial 0 started: hidden_units=" in err and "trial 1 complete" in err
    assert (tmp_path / STORAGE_FILE).is_file()  # the study lives in the runs folder

    # resumed with more trials, and the space comes from the study itself
    code, out, err = cli("sweep", "run", "--study", "first", "--trials", "1", "--runs-dir", runs)
    assert code == 0, err
    assert "Resuming study first: 2 trials so far" in err
    assert "Study first: 3 trials (3 complete)" in out

    code, out, _err = cli("sweep", "list", "--runs-dir", runs, "--json")
    assert code == 0
    (row,) = json.loads(out)["studies"]
    assert row["study"] == "first" and row["trials"] == 3 and row["states"]["complete"] == 3
    assert row["space"]["hidden_units"] == "8|16" and row["pruner"] == "median"

    code, out, _err = cli("sweep", "show", "first", "--runs-dir", runs, "--json")
    shown = json.loads(out)
    assert [t["number"] for t in shown["trials"]] == [0, 1, 2]
    run_ids = {t["run_id"] for t in shown["trials"]}
    saved = {run.run_id: run for run in RunStore(tmp_path).list()[0]}
    assert run_ids == set(saved)  # every trial is a saved run, and no other run exists
    assert shown["best_run_id"] in saved
    assert shown["best_val_accuracy"] == max(t["val_accuracy"] for t in shown["trials"])

    code, out, _err = cli("sweep", "list", "--runs-dir", runs)
    assert code == 0 and "first" in out and "complete" in out
    code, out, _err = cli("sweep", "show", "first", "--runs-dir", runs)
    assert code == 0 and "★" in out and "hidden_units=" in out
    # the runs listing is not disturbed by the study file
    code, out, err = cli("runs", "--runs-dir", runs, "--json")
    assert code == 0 and len(json.loads(out)["runs"]) == 3 and "skipped" not in err


def test_bad_ranges_are_field_level_messages(cli: Cli, tmp_path: Path) -> None:
    code, out, err = cli(
        "sweep",
        "run",
        "--runs-dir",
        str(tmp_path),
        "--learning-rate",
        "0..0.1",
        "--dropout",
        "0.6..0.2",
        "--batch-size",
        "64|x",
    )
    assert code == 2 and out == ""
    assert err.count("\n") == 1  # one line
    assert "--learning-rate: lower end: must be in (0, 10], got 0" in err
    assert "--dropout: the lower end must be below the upper end, got 0.6..0.2" in err
    assert "--batch-size: choice 2: 'x' is not a whole number" in err
    assert not (tmp_path / STORAGE_FILE).exists()  # nothing created for a bad command


def test_a_resume_with_another_space_is_refused(
    cli: Cli, tiny_data: MnistData, tmp_path: Path
) -> None:
    assert (
        cli("sweep", "run", "--study", "s", "--trials", "1", "--runs-dir", str(tmp_path), *TINY)[0]
        == 0
    )
    code, _out, err = cli(
        "sweep",
        "run",
        "--study",
        "s",
        "--trials",
        "1",
        "--runs-dir",
        str(tmp_path),
        *TINY[:-1],
        "0.02",
    )
    assert code == 2 and "searches another space (--learning-rate is '0.01' there" in err
    code, _out, err = cli(
        "sweep", "run", "--study", "s", "--pruner", "hyperband", "--runs-dir", str(tmp_path)
    )
    assert code == 2 and "prunes with 'median'" in err


def test_unreachable_storage_is_one_clear_line(cli: Cli, tmp_path: Path) -> None:
    url = f"postgresql://me:secret@127.0.0.1:{free_port()}/db"  # nothing listens there
    for argv in (
        ("sweep", "list", "--storage", url),
        ("sweep", "show", "x", "--storage", url),
        ("sweep", "run", "--storage", url, "--runs-dir", str(tmp_path), *TINY),
    ):
        code, out, err = cli(*argv)
        assert code == 5, err
        assert out == "" or argv[1] == "run"
        lines = err.strip().splitlines()
        assert lines[-1].startswith(
            "error: cannot open the study storage postgresql://me:***@127.0.0.1:"
        ), err
        assert "refused" in lines[-1].lower() and "secret" not in err


def test_list_and_show_without_sweeps(cli: Cli, tmp_path: Path) -> None:
    code, out, _err = cli("sweep", "list", "--runs-dir", str(tmp_path))
    assert code == 0 and "No sweeps in" in out
    code, out, _err = cli("sweep", "list", "--runs-dir", str(tmp_path), "--json")
    assert json.loads(out)["studies"] == []
    code, _out, err = cli("sweep", "show", "nope", "--runs-dir", str(tmp_path))
    assert code == 5 and "no study 'nope'" in err
    assert not (tmp_path / STORAGE_FILE).exists()  # reading creates no storage


def test_names_from_the_storage_are_escaped(cli: Cli, tiny_data: MnistData, tmp_path: Path) -> None:
    code, _out, err = cli(
        "sweep", "run", "--study", "[red]x", "--trials", "1", "--runs-dir", str(tmp_path), *TINY
    )
    assert code == 0, err
    code, out, _err = cli("sweep", "list", "--runs-dir", str(tmp_path))
    assert "[red]x" in out
    code, _out, err = cli("sweep", "run", "--study", "bad\x07name", "--runs-dir", str(tmp_path))
    assert code == 2 and "control characters" in err
