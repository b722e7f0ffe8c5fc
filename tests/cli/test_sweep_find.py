"""Finding a sweep again from the command line: its trials among the runs, and the
study that ran last."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.test_sweep_cli import TINY, tiny_data  # noqa: F401  (a fixture)
from tests.conftest import Cli


@pytest.mark.usefixtures("tiny_data")
def test_a_studys_trials_are_found_and_the_latest_study_shown(cli: Cli, tmp_path: Path) -> None:
    runs = str(tmp_path)
    for study, trials in (("alpha", "2"), ("alpha-2", "1")):
        code, _out, err = cli(
            "sweep", "run", "--study", study, "--trials", trials, "--runs-dir", runs, *TINY
        )
        assert code == 0, err

    code, out, _err = cli("runs", "--runs-dir", runs, "--filter", "alpha", "--json")
    assert code == 0 and len(json.loads(out)["runs"]) == 3  # the study name is searched
    code, out, _err = cli("runs", "--runs-dir", runs, "--study", "alpha", "--json")
    rows = json.loads(out)["runs"]
    assert sorted(row["sweep"]["trial"] for row in rows) == [0, 1]
    assert {row["sweep"]["study"] for row in rows} == {"alpha"}  # exactly that study
    code, out, _err = cli("runs", "--runs-dir", runs, "--study", "alpha")
    assert code == 0 and "(2 of 3 match)" in out
    code, out, _err = cli("runs", "--runs-dir", runs, "--study", "beta")
    assert code == 0 and "None of the 3 runs" in out and "study 'beta'" in out

    for latest in (["latest"], []):  # the one whose newest trial started last
        code, out, _err = cli("sweep", "show", *latest, "--runs-dir", runs, "--json")
        assert code == 0 and json.loads(out)["study"] == "alpha-2"
    code, _out, err = cli("sweep", "run", "--study", "alpha", "--trials", "1", "--runs-dir", runs)
    assert code == 0, err
    code, out, _err = cli("sweep", "show", "--runs-dir", runs)
    assert code == 0 and "Study alpha in" in out and "3 trials" in out


def test_show_latest_without_sweeps_is_one_line(cli: Cli, tmp_path: Path) -> None:
    code, out, err = cli("sweep", "show", "--runs-dir", str(tmp_path))
    assert code == 5 and out == ""
    assert err.strip() == f"error: no sweeps in {tmp_path} yet"
