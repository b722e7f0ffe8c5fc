"""``mnist-tui inspect``: its text and its JSON shapes, on a small saved run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import Cli

pytestmark = pytest.mark.usefixtures("small_data_for_the_cli")


def _run_id(runs: Path) -> str:
    return next(path.name for path in runs.iterdir() if not path.name.startswith("."))


def test_attribution_json(runs: Path, cli: Cli) -> None:
    code, out, _err = cli(
        "inspect", _run_id(runs), "--attribution", "3", "--json", "--runs-dir", str(runs)
    )
    assert code == 0
    found = json.loads(out)
    assert {"index", "label", "prediction", "target", "attribution", "completeness"} <= set(found)
    assert found["index"] == 3 and found["target"] == found["prediction"]
    assert len(found["attribution"]) == 28 and all(len(row) == 28 for row in found["attribution"])
    check = found["completeness"]
    assert set(check) >= {"sum", "difference"} and check["holds"]
    assert check["sum"] == pytest.approx(check["difference"], rel=0.05, abs=5e-4)


def test_attribution_toward_another_class_by_plain_gradients(runs: Path, cli: Cli) -> None:
    code, out, _err = cli(
        "inspect",
        _run_id(runs),
        "--attribution",
        "0",
        "--target",
        "4",
        "--method",
        "gradient",
        "--runs-dir",
        str(runs),
    )
    assert code == 0
    assert "plain gradients toward 4" in out and "Completeness: first-order estimate" in out


def test_map_json_then_cached(runs: Path, cli: Cli) -> None:
    run = _run_id(runs)
    code, out, _err = cli("inspect", run, "--map", "--json", "--runs-dir", str(runs))
    assert code == 0
    found = json.loads(out)
    assert found["method"] == "pca" and 0 <= found["neighbour_agreement"] <= 1
    assert len(found["points"]) == 300 and not found["cached"]
    assert set(found["points"][0]) == {"x", "y", "label", "prediction"}
    code, out, _err = cli("inspect", run, "--map", "--json", "--runs-dir", str(runs))
    assert json.loads(out)["cached"]


def test_map_by_tsne_drawn_as_text(runs: Path, cli: Cli) -> None:
    code, out, _err = cli(
        "inspect", _run_id(runs), "--map", "--method", "tsne", "--runs-dir", str(runs)
    )
    assert code == 0
    assert "TSNE of the last hidden layer" in out and "PCA's, for comparison" in out
    assert any("\u2800" < char <= "\u28ff" for char in out)  # braille dots


def test_weights_text_json_and_a_units_digits(runs: Path, cli: Cli) -> None:
    run = _run_id(runs)
    code, out, _err = cli("inspect", run, "--weights", "--runs-dir", str(runs))
    assert code == 0 and "16 units, the most important first" in out
    code, out, _err = cli(
        "inspect", run, "--weights", "--json", "--unit", "2", "--runs-dir", str(runs)
    )
    found = json.loads(out)
    assert len(found["units"]) == 16 and len(found["units"][0]["weights"]) == 28
    importance = [unit["importance"] for unit in found["units"]]
    assert importance == sorted(importance, reverse=True)
    assert found["unit"]["unit"] == 2 and len(found["unit"]["top_digits"]) == 8
    code, out, _err = cli("inspect", run, "--weights", "--unit", "2", "--runs-dir", str(runs))
    assert "excite unit 2 most" in out


def test_training_text_and_json(runs: Path, cli: Cli) -> None:
    run = _run_id(runs)
    code, out, _err = cli("inspect", run, "--training", "--json", "--runs-dir", str(runs))
    found = json.loads(out)
    assert code == 0 and len(found["epochs"]) == 1 and found["epochs"][0]["layers"]
    code, out, _err = cli("inspect", run, "--training", "--runs-dir", str(runs))
    assert code == 0 and "dead ReLU" in out and "grad norm" in out


def test_a_hostile_dynamics_record_is_exit_4(runs: Path, cli: Cli) -> None:
    run = _run_id(runs)
    (runs / run / "dynamics.json").write_text('{"format": 1, "epochs": [{"epoch": -1}]}')
    code, _out, err = cli("inspect", run, "--training", "--runs-dir", str(runs))
    assert code == 4 and "dynamics.json was refused" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--attribution", "300"], "not a test digit"),
        (["--attribution", "1", "--method", "tsne"], "--attribution takes --method"),
        (["--map", "--method", "ig"], "--map takes --method"),
        (["--weights", "--unit", "16"], "not a unit"),
    ],
)
def test_bad_arguments_are_exit_2(runs: Path, cli: Cli, args: list[str], message: str) -> None:
    code, _out, err = cli("inspect", _run_id(runs), *args, "--runs-dir", str(runs))
    assert code == 2 and message in err
