"""A run's name, note and tags: changed at once by several processes, all land; text that
cannot be kept is refused before training; words never cost a trained run; a bad
``annotation.json`` is ignored with a note, never hiding its run."""

from __future__ import annotations

import dataclasses
import errno
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import mnist_tui.core.runs.annotations as annotation_module
from mnist_tui.core.config import TrainConfig
from mnist_tui.core.data.mnist import MnistData
from mnist_tui.core.runs.annotations import ANNOTATION_FILE, Annotation, AnnotationError
from mnist_tui.core.runs.store import RunStore
from tests.conftest import Cli

CONFIG = TrainConfig(hidden_units=(16,), batch_size=128, epochs=1)
SMALL = ("--hidden-units", "16", "--batch-size", "128", "--epochs", "1")


pytestmark = pytest.mark.usefixtures("small_data_for_the_cli")


def _mnist_tui(
    *args: str | bytes, env: dict[str, str] | None = None, isolated: bool = True
) -> subprocess.Popen[bytes]:
    flags = ["-I"] if isolated else []  # -I would ignore PYTHONIOENCODING
    return subprocess.Popen(
        [sys.executable, *flags, "-m", "mnist_tui", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )


# --- 5. concurrent changes all land -----------------------------------------------------------


def test_a_change_from_a_stale_read_keeps_what_another_wrote(runs: Path) -> None:
    store = RunStore(runs)
    stale = store.load("latest")  # read before the other change
    store.annotate(store.load("latest"), name="a")
    after = store.annotate(stale, note="b")
    assert (after.name, after.annotation.note) == ("a", "b")


def test_three_annotate_processes_at_once_all_land(runs: Path) -> None:
    run_id = next(runs.iterdir()).name
    changes = (("--name", "a"), ("--note", "b"), ("--tag", "c"))
    for round_ in range(8):
        (runs / run_id / ANNOTATION_FILE).unlink(missing_ok=True)
        procs = [
            _mnist_tui("annotate", run_id, *change, "--runs-dir", str(runs))
            for change in (changes[round_ % 3 :] + changes[: round_ % 3])
        ]
        for proc in procs:
            _out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err.decode()
        note = RunStore(runs).load(run_id).annotation
        assert (note.name, note.note, note.tags) == ("a", "b", ("c",)), f"round {round_}"


# --- 6. text that cannot be kept, and words that cannot be written --------------------------


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": "\udcff"}, "not valid text"),
        ({"note": "fine\udc80"}, "not valid text"),
        ({"name": "a\x1b[31mb"}, "control character"),
        ({"name": "a\rb"}, "control character"),
        ({"note": "bell\x07"}, "control character"),
    ],
)
def test_text_that_cannot_be_kept_is_refused(fields: dict[str, str], message: str) -> None:
    with pytest.raises(AnnotationError, match=message):
        Annotation(**fields)  # type: ignore[arg-type]


def test_a_note_keeps_its_lines_and_tabs() -> None:
    assert Annotation(note="line one\n\tline two").note == "line one\n\tline two"


def test_a_name_that_cannot_be_encoded_is_refused_before_training(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Cli
) -> None:
    def no_training(*_a: object, **_k: object) -> None:
        raise AssertionError("the data was loaded: training would have started")

    monkeypatch.setattr("mnist_tui.cli.commands.load_data", no_training)
    for option in ("--name", "--note", "--tag"):
        code, _out, err = cli("train", *SMALL, option, "x\udcff", "--runs-dir", str(tmp_path))
        assert code == 2 and err.startswith("error: "), err
        assert len(err.strip().splitlines()) == 1
    assert RunStore(tmp_path).list() == ([], [])


def test_a_name_of_bytes_that_are_not_utf8_exits_2_at_once(tmp_path: Path) -> None:
    """``train --name $'\\xff'``, as a shell runs it."""
    proc = _mnist_tui(
        b"train", b"--epochs", b"1", b"--name", b"\xff", b"--runs-dir", str(tmp_path).encode()
    )
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 2, err.decode(errors="replace")
    assert err.decode().startswith("error: ") and len(err.splitlines()) == 1
    assert not list(tmp_path.iterdir())


def test_an_annotation_that_cannot_be_written_costs_no_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Cli
) -> None:
    def full_disk(*_a: object, **_k: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(annotation_module, "atomic_write_text", full_disk)
    code, _out, err = cli("train", *SMALL, "--name", "kept?", "--runs-dir", str(tmp_path))
    assert code == 0, err
    assert "saved without its name, note and tags" in err and "No space left" in err
    runs, bad = RunStore(tmp_path).list()
    assert len(runs) == 1 and not bad and runs[0].name == ""
    assert [p.name for p in tmp_path.iterdir()] == [runs[0].run_id]  # no half run beside


def test_a_data_path_that_is_not_utf8_costs_no_run(
    tmp_path: Path, small_data: MnistData, monkeypatch: pytest.MonkeyPatch, cli: Cli
) -> None:
    """``train --data $'\\xff'.npz``: run.json records the path as a ``\\u`` escape."""
    odd = dataclasses.replace(small_data, location=str(tmp_path / "\udcff.npz"))
    monkeypatch.setattr("mnist_tui.cli.console.load_mnist", lambda *_a, **_k: odd)
    code, _out, err = cli("train", *SMALL, "--runs-dir", str(tmp_path / "runs"))
    assert code == 0, err
    run = RunStore(tmp_path / "runs").load("latest")
    assert run.data["dataset"]["location"] == odd.location
    assert "\\udcff" in (run.path / "run.json").read_text(encoding="utf-8")


# --- 10. a bad annotation.json is ignored with a note, and output survives any encoding ------


HOSTILE_ANNOTATIONS = {
    "lone-surrogate": '{"name": "\\udcff", "tags": ["ok"]}',
    "wrong-types": '{"name": ["not", "text"]}',
    "too-long": json.dumps({"name": "x" * 500}),
    "escape-codes": json.dumps({"name": "\x1b]0;owned\x07"}),
    "not-json": "{ nope",
}


def _hostile_copies(runs: Path) -> list[Path]:
    source = next(runs.iterdir())
    made = []
    for name, text in HOSTILE_ANNOTATIONS.items():
        folder = runs / f"20990101-{name}"
        shutil.copytree(source, folder)
        (folder / ANNOTATION_FILE).write_text(text, encoding="utf-8")
        made.append(folder)
    return made


def test_a_bad_annotation_is_ignored_with_a_note_and_the_run_is_kept(runs: Path, cli: Cli) -> None:
    hostile = _hostile_copies(runs)
    listed, bad = RunStore(runs).list()
    assert not bad and len(listed) == 1 + len(hostile)
    noted = {run.run_id: run.annotation_problem for run in listed if run.annotation_problem}
    assert sorted(noted) == sorted(folder.name for folder in hostile)
    assert all(
        reason.startswith(ANNOTATION_FILE)
        and "run.json" not in reason
        and len(reason.splitlines()) == 1
        for reason in noted.values()
    )
    code, out, err = cli("runs", "--runs-dir", str(runs))
    notes = [line for line in err.splitlines() if line.startswith("note ")]
    assert code == 0 and "skipped" not in err and len(notes) == len(hostile), err
    assert all(ANNOTATION_FILE in line and "run.json" not in line for line in notes)
    assert all(folder.name in out for folder in hostile)
    code, out, _err = cli("runs", "--json", "--runs-dir", str(runs))
    assert code == 0 and len(json.loads(out)["notes"]) == len(hostile)
    folder = hostile[0]
    code, _out, err = cli("show", folder.name, "--limit", "1", "--runs-dir", str(runs))
    assert code == 0, err
    code, _out, err = cli("annotate", folder.name, "--note", "fixed", "--runs-dir", str(runs))
    assert code == 0, err
    again = RunStore(runs).load(folder.name)
    assert again.annotation.note == "fixed" and not again.annotation_problem


def test_runs_survives_a_lone_surrogate_and_a_narrow_encoding(runs: Path) -> None:
    """The real command, as a user runs it: strict UTF-8 (a lone surrogate in a folder
    name and in annotation.json) and latin-1 (``→`` in a name)."""
    original = next(runs.iterdir())
    RunStore(runs).annotate(RunStore(runs).load(original.name), name="a→b")
    _hostile_copies(runs)
    shutil.copytree(original, runs / "x\udcff")  # a folder name of bytes b"x\xff"
    for encoding in ("utf-8:strict", "latin-1:strict", "ascii:strict"):
        env = {"PATH": "/usr/bin:/bin", "PYTHONIOENCODING": encoding, "LANG": "C.UTF-8"}
        for args in (["runs"], ["runs", "--json"]):
            proc = _mnist_tui(*args, "--runs-dir", str(runs), env=env, isolated=False)
            out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0 and b"Traceback" not in err, (encoding, err.decode())
            if "--json" in args:
                listing = json.loads(out)
                assert "a→b" in [row["name"] for row in listing["runs"]]
            else:
                assert b"a\\u2192b" in out or "a→b".encode() in out


def test_evaluate_degrades_on_a_latin1_stdout(runs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``PYTHONIOENCODING=latin-1 mnist-tui evaluate``: ``true→predicted`` is escaped."""
    from mnist_tui.cli import main

    stdout = io.TextIOWrapper(io.BytesIO(), encoding="latin-1")  # errors="strict"
    monkeypatch.setattr(sys, "stdout", stdout)
    assert main(["evaluate", "latest", "--runs-dir", str(runs)]) == 0
    stdout.flush()
    assert b"(true\\u2192predicted)" in stdout.buffer.getvalue()
