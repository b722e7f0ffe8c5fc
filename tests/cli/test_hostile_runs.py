"""A runs folder of any shape: nothing lost, nothing foreign run, nothing crashes.

Every case here is something a real runs folder or shell will sooner or later hold;
the CLI answers each with one line and an exit code, never a traceback.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import keras
import numpy as np
import pytest

from mnist_tui.core.config import TrainConfig
from mnist_tui.core.data.mnist import MnistData
from mnist_tui.core.files.atomic import owner_tag, remove_orphans
from mnist_tui.core.runs.store import MODEL_FILE, PROBABILITIES_FILE, RUN_FILE, RunError, RunStore
from tests.conftest import Cli

CONFIG = TrainConfig(hidden_units=(16,), batch_size=128, epochs=1)


pytestmark = pytest.mark.usefixtures("small_data_for_the_cli")


def _edit(folder: Path, change: dict[str, object] | None = None, text: str | None = None) -> None:
    record = json.loads((folder / RUN_FILE).read_text())
    record.update(change or {})
    (folder / RUN_FILE).write_text(text if text is not None else json.dumps(record))


# --- 1. delete removes exactly the folder it resolved ---------------------------------------


def test_delete_of_a_copy_leaves_the_original(runs: Path, cli: Cli) -> None:
    original = next(runs.iterdir())
    copy = runs / f"{original.name}-copy"
    shutil.copytree(original, copy)  # run.json inside still names the original's id
    code, out, _err = cli("delete", copy.name, "--yes", "--runs-dir", str(runs))
    assert code == 0 and f"Deleted {copy.name}" in out
    assert not copy.exists() and (original / MODEL_FILE).is_file()


def test_an_id_inside_run_json_never_chooses_what_is_deleted(
    runs: Path, tmp_path: Path, cli: Cli
) -> None:
    outside = tmp_path / "project"
    outside.mkdir()
    (outside / "keep.txt").write_text("precious")
    hostile = runs / "20990101-000000-mlp-evil"
    shutil.copytree(next(runs.iterdir()), hostile)
    _edit(hostile, {"run_id": "../project"})
    code, _out, _err = cli("delete", hostile.name, "--yes", "--runs-dir", str(runs))
    assert code == 0 and not hostile.exists()
    assert (outside / "keep.txt").read_text() == "precious"


def test_symlinks_and_outside_paths_are_never_deleted(runs: Path, tmp_path: Path, cli: Cli) -> None:
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(next(runs.iterdir()), elsewhere)
    (runs / "linked").symlink_to(elsewhere, target_is_directory=True)
    for ref in ("linked", str(elsewhere), str(runs / "linked")):
        code, _out, err = cli("delete", ref, "--yes", "--runs-dir", str(runs))
        assert code == 4 and ("not deleted" in err or "symbolic link" in err), (ref, err)
    assert (elsewhere / RUN_FILE).is_file()
    listed, bad = RunStore(runs).list()
    assert len(listed) == 1 and [b.reason for b in bad] == [
        "linked: a symbolic link (not followed)"
    ]


@pytest.mark.parametrize("ref", ["", " ", ".", "..", ".hidden", "../runs"])
def test_empty_and_dotted_ids_are_refused(runs: Path, ref: str, cli: Cli) -> None:
    code, _out, err = cli("delete", ref, "--yes", "--runs-dir", str(runs))
    assert code == 4 and err.startswith("error:"), err
    assert len(RunStore(runs).list()[0]) == 1


def test_a_delete_that_fails_says_so_and_keeps_the_run(
    runs: Path, monkeypatch: pytest.MonkeyPatch, cli: Cli
) -> None:
    run_folder = next(runs.iterdir())
    real_unlink = os.unlink

    def refuse_model(path: object, *args: object, **kwargs: object) -> None:
        if str(path).endswith(MODEL_FILE):
            raise PermissionError(13, "Permission denied")
        real_unlink(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "unlink", refuse_model)
    code, out, err = cli("delete", run_folder.name, "--yes", "--runs-dir", str(runs))
    assert code == 4 and "could not delete" in err and "Permission denied" in err
    assert "Deleted" not in out
    assert [p.name for p in runs.iterdir()] == [run_folder.name]  # not hidden away
    monkeypatch.setattr(
        os, "rename", lambda *_a: (_ for _ in ()).throw(OSError(30, "Read-only file system"))
    )
    code, _out, err = cli("delete", run_folder.name, "--yes", "--runs-dir", str(runs))
    assert code == 4 and "Read-only file system" in err


# --- 4. malformed run folders: skipped with one line, exit 4 when asked for --------------


HOSTILE_RECORDS: dict[str, dict[str, object]] = {
    "config-null": {"config": None},
    "huge-int": {"param_count": 10**30},
    "infinite-accuracy": {
        "test": {"loss": 0.1, "accuracy": float("inf"), "confusion_matrix": [[0] * 10] * 10}
    },
    "slow-seconds": {
        "history": [
            {
                "epoch": 1,
                "loss": 0.1,
                "accuracy": 0.9,
                "val_loss": None,
                "val_accuracy": None,
                "seconds": "slow",
            }
        ]
    },
    "bad-status": {"status": "[red]done[/red]"},
    "confusion-5x5": {"test": {"loss": 0.1, "accuracy": 0.9, "confusion_matrix": [[1] * 5] * 5}},
    "history-not-list": {"history": {"epoch": 1}},
    "nan-seed": {"config": {"seed": float("nan")}},
    "created-garbage": {"created": "yesterday"},
    "newer-format": {"format": 99},
}


def _write_hostile(runs: Path) -> list[Path]:
    source = next(runs.iterdir())
    made = []
    for name, change in HOSTILE_RECORDS.items():
        folder = runs / f"20990101-{name}"
        shutil.copytree(source, folder)
        _edit(folder, change)
        made.append(folder)
    texts = {
        "deep": "[" * 200_000 + "]" * 200_000,
        "not-json": "{ not json",
        "huge-literal": '{"param_count": 1' + "0" * 5000 + "}",
        "empty": "",
    }
    for name, text in texts.items():
        folder = runs / f"20990101-{name}"
        shutil.copytree(source, folder)
        (folder / RUN_FILE).write_text(text)
        made.append(folder)
    binary = runs / "20990101-binary"
    shutil.copytree(source, binary)
    (binary / RUN_FILE).write_bytes(b"\xff\xfe\x00garbage")
    made.append(binary)
    return made


def test_every_malformed_run_is_skipped_with_a_reason(runs: Path, cli: Cli) -> None:
    hostile = _write_hostile(runs)
    listed, bad = RunStore(runs).list()
    assert len(listed) == 1
    assert sorted(b.path.name for b in bad) == sorted(f.name for f in hostile)
    assert all(len(b.reason.splitlines()) == 1 and len(b.reason) < 400 for b in bad)
    code, out, err = cli("runs", "--runs-dir", str(runs))
    assert code == 0 and err.count("skipped") == len(hostile)
    code, out, _err = cli("runs", "--json", "--runs-dir", str(runs))
    assert code == 0 and len(json.loads(out)["problems"]) == len(hostile)
    for folder in hostile:
        for command in (
            ["evaluate", folder.name],
            ["show", folder.name, "--limit", "1"],
            ["delete", folder.name, "--yes"],
        ):
            code, _out, err = cli(*command, "--runs-dir", str(runs))
            assert code == 4, (folder.name, command, err)
            assert err.startswith("error: ") and len(err.strip().splitlines()) == 1, err
    assert cli("show", "latest", "--limit", "1", "--runs-dir", str(runs))[0] == 0


def test_fifos_and_devices_in_a_run_folder_are_never_opened(runs: Path, cli: Cli) -> None:
    """Opening a FIFO waits for a writer forever: each is refused without a read."""
    good = next(runs.iterdir())
    fifo_record = runs / "20990101-fifo-record"
    fifo_record.mkdir()
    os.mkfifo(fifo_record / RUN_FILE)
    fifo_model = runs / "20990101-fifo-model"
    shutil.copytree(good, fifo_model)
    (fifo_model / MODEL_FILE).unlink()
    os.mkfifo(fifo_model / MODEL_FILE)
    (fifo_model / PROBABILITIES_FILE).unlink()
    os.mkfifo(fifo_model / PROBABILITIES_FILE)
    (runs / "20990101-zero").mkdir()
    (runs / "20990101-zero" / RUN_FILE).symlink_to("/dev/zero")
    listed, bad = RunStore(runs).list()
    assert len(listed) == 2  # the good run, and the one whose model is a FIFO
    assert {b.path.name for b in bad} == {"20990101-fifo-record", "20990101-zero"}
    assert all("not a plain file" in b.reason for b in bad)
    code, _out, err = cli("evaluate", "20990101-fifo-model", "--runs-dir", str(runs))
    assert code == 4 and "not a plain file" in err


def test_a_probabilities_header_promising_a_huge_array_is_not_allocated(
    runs: Path, small_data: MnistData
) -> None:
    import tracemalloc

    folder = next(runs.iterdir())
    header = {"descr": "<f4", "fortran_order": False, "shape": (10**9, 10)}
    with (folder / PROBABILITIES_FILE).open("wb") as handle:
        np.lib.format.write_array_header_1_0(handle, header)
        handle.write(b"\x00" * 64)
    store = RunStore(runs)
    tracemalloc.start()
    try:
        assert store.load_evaluation(store.load("latest"), small_data.y_test) is None
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 10_000_000


HOSTILE_PROBABILITIES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "nan": lambda p: np.where(np.arange(p.shape[0])[:, None] % 7 == 0, np.nan, p),
    "negative": lambda p: -p,
    "infinite": lambda p: np.where(p == p.max(axis=1, keepdims=True), np.inf, p),
    "times-a-million": lambda p: p * 1e6,
    "rows-of-half": lambda p: p / 2,
}


@pytest.mark.parametrize("name", HOSTILE_PROBABILITIES)
def test_probabilities_are_checked_by_value_and_the_model_used_instead(
    runs: Path, small_data: MnistData, name: str, cli: Cli
) -> None:
    """NaN, negatives, infinities, rows that do not sum to 1: the model is evaluated."""
    original = next(runs.iterdir())
    store = RunStore(runs)
    truth = store.evaluation(store.load(original.name), small_data.x_test, small_data.y_test)
    hostile = runs / f"20990101-{name}"
    shutil.copytree(original, hostile)
    sound = np.load(original / PROBABILITIES_FILE)
    with np.errstate(invalid="ignore"):
        np.save(hostile / PROBABILITIES_FILE, HOSTILE_PROBABILITIES[name](sound).astype(np.float32))
    run = store.load(hostile.name)
    assert store.load_evaluation(run, small_data.y_test) is None
    used = store.evaluation(run, small_data.x_test, small_data.y_test)
    np.testing.assert_allclose(used.probabilities, truth.probabilities, atol=1e-5)
    code, out, err = cli("show", hostile.name, "--limit", "4", "--runs-dir", str(runs))
    confidences = [float(word[:-1]) for word in out.split() if word.endswith("%")]
    assert code == 0 and confidences and all(0 <= c <= 100 for c in confidences), out + err
    code, out, err = cli("compare", original.name, hostile.name, "--json", "--runs-dir", str(runs))
    counts = json.loads(out)["disagreements"][0]
    assert code == 0 and counts["a_right_b_wrong"] == counts["b_right_a_wrong"] == 0, counts


def test_a_foreign_model_is_refused_not_evaluated(runs: Path, cli: Cli) -> None:
    folder = next(runs.iterdir())
    foreign = keras.Sequential(
        [
            keras.Input(shape=(32, 32, 3)),
            keras.layers.Flatten(),
            keras.layers.Dense(5, activation="softmax"),
        ]
    )
    (folder / MODEL_FILE).unlink()
    foreign.save(folder / MODEL_FILE)
    (folder / PROBABILITIES_FILE).unlink()  # so the model itself must be used
    code, _out, err = cli("evaluate", "latest", "--runs-dir", str(runs))
    assert code == 4 and "not an MNIST digit classifier" in err, err


def test_a_model_that_asks_to_run_code_is_refused_without_advising_unsafe_mode(runs: Path) -> None:
    folder = next(runs.iterdir())
    sneaky = keras.Sequential(
        [
            keras.Input(shape=(28, 28)),
            keras.layers.Flatten(),
            keras.layers.Lambda(lambda x: x * 2),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    (folder / MODEL_FILE).unlink()
    sneaky.save(folder / MODEL_FILE)
    store = RunStore(runs)
    with pytest.raises(RunError, match="was refused") as caught:
        store.load_model(store.load("latest"))
    assert "safe_mode" not in str(caught.value) and "unsafe" not in str(caught.value)


def test_keras_is_at_a_release_without_the_known_safe_mode_bypasses() -> None:
    version = tuple(int(part) for part in keras.__version__.split(".")[:2])
    assert version >= (3, 14)


# --- 5. copies of a run ---------------------------------------------------------------------


def test_two_folders_holding_the_same_run_both_list_and_open(runs: Path) -> None:
    original = next(runs.iterdir())
    shutil.copytree(original, runs / "copy-of-it")
    store = RunStore(runs)
    listed = store.list()[0]
    assert sorted(run.run_id for run in listed) == sorted([original.name, "copy-of-it"])
    assert store.load("copy-of-it").path == runs / "copy-of-it"


# --- 6. markup in names and paths -----------------------------------------------------------


def test_markup_in_folder_names_and_paths_is_shown_literally(
    one_run: Path, tmp_path: Path, cli: Cli
) -> None:
    root = tmp_path / "a[/]b [bold]"  # a folder "]b [bold]" inside a folder "a["
    root.mkdir(parents=True)
    shutil.copytree(one_run, root / "[red]x")
    code, out, err = cli("runs", "--runs-dir", str(root))
    assert code == 0 and "[red]x" in out and "a[/]b [bold]" in out, out + err
    (root / "broken [bold]").mkdir()
    code, _out, err = cli("runs", "--runs-dir", str(root))
    assert code == 0 and "broken [bold]" in err
    code, out, _err = cli("show", "[red]x", "--limit", "1", "--runs-dir", str(root))
    assert code == 0 and "[red]x" in out


# --- 9. strict JSON ---------------------------------------------------------------------------


def test_json_output_is_strict_and_plain_even_when_colour_is_forced(
    runs: Path, monkeypatch: pytest.MonkeyPatch, cli: Cli
) -> None:
    folder = next(runs.iterdir())
    record = json.loads((folder / RUN_FILE).read_text())
    record["history"][0]["loss"] = float("nan")  # a diverged run, as older versions wrote it
    (folder / RUN_FILE).write_text(json.dumps(record))
    monkeypatch.setenv("FORCE_COLOR", "1")

    def refuse(token: str) -> None:
        raise ValueError(f"bare {token} in JSON output")

    code, out, _err = cli("runs", "--json", "--runs-dir", str(runs))
    assert code == 0 and "\x1b[" not in out
    listing = json.loads(out, parse_constant=refuse)
    assert listing["runs"][0]["run_id"] == folder.name
    assert (
        RunStore(runs).load("latest").history[0].loss
        != RunStore(runs).load("latest").history[0].loss
    )  # still NaN in memory: the run stays readable


def test_saved_run_json_is_strict_json(one_run: Path) -> None:
    def refuse(token: str) -> None:
        raise ValueError(token)

    json.loads((one_run / RUN_FILE).read_text(), parse_constant=refuse)


# --- 11. leftovers of killed processes --------------------------------------------------------


def test_leftovers_of_a_dead_process_are_removed_and_live_ones_kept(runs: Path) -> None:
    dead_pid = 2**22 + 12345  # above Linux's pid_max: no such process
    tag = owner_tag()
    dead = runs / f".20990101-000000-mlp-dead.{tag.replace(str(os.getpid()), str(dead_pid))}x"
    dead_partial = dead.with_name(dead.name + ".partial")
    dead_partial.mkdir()
    (dead_partial / MODEL_FILE).write_bytes(b"half a model")
    ours = runs / f".20990101-000000-mlp-live.{tag}x.partial"
    ours.mkdir()
    old_foreign = runs / ".x.~otherhost~1~y.partial"
    old_foreign.mkdir()
    os.utime(old_foreign, (time.time() - 3 * 86400,) * 2)
    fresh_foreign = runs / ".z.~otherhost~1~y.partial"
    fresh_foreign.mkdir()
    RunStore(runs).list()  # the next start
    assert not dead_partial.exists() and not old_foreign.exists()
    assert ours.exists() and fresh_foreign.exists()
    assert remove_orphans(runs) == []


# --- 11. signals and pipes lose no work -------------------------------------------------------


def _train(tmp_path: Path, *extra: str, **popen: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-I",
            "-m",
            "mnist_tui",
            "train",
            "--epochs",
            "200",
            "--batch-size",
            "512",
            "--runs-dir",
            str(tmp_path),
            *extra,
        ],
        text=True,
        **popen,
    )  # type: ignore[call-overload]


@pytest.mark.real_mnist
def test_sigterm_stops_saves_and_exits_143(tmp_path: Path) -> None:
    proc = _train(tmp_path, stderr=subprocess.PIPE, stdout=subprocess.PIPE)
    assert proc.stderr is not None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and "epoch 1/200" not in proc.stderr.readline():
        pass
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert "Traceback" not in err and "stopped by SIGTERM" in out
    run = RunStore(tmp_path).load("latest")
    assert run.status == "stopped" and 1 <= run.epochs_done < 200


@pytest.mark.real_mnist
def test_a_reader_that_goes_away_costs_no_run(tmp_path: Path) -> None:
    """``mnist-tui train 2>&1 | head -3``: the run is still trained and saved."""
    done = subprocess.run(
        f"{sys.executable} -I -m mnist_tui train --epochs 3 --batch-size 1024 "
        f"--runs-dir {tmp_path} 2>&1 | head -3",
        shell=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert len(done.stdout.splitlines()) == 3
    deadline = time.monotonic() + 120  # head has exited; the trainer goes on by itself
    while time.monotonic() < deadline and not RunStore(tmp_path).list()[0]:
        time.sleep(0.5)
    run = RunStore(tmp_path).load("latest")
    assert run.status == "completed" and run.epochs_done == 3


def test_output_to_a_reader_or_terminal_that_went_away_is_dropped_not_fatal(tmp_path: Path) -> None:
    import errno
    import io

    from mnist_tui.cli.outputs import SurvivingStream

    class Gone(io.StringIO):
        def __init__(self, code: int) -> None:
            super().__init__()
            self.code = code

        def write(self, text: str) -> int:
            raise OSError(self.code, os.strerror(self.code))

        def fileno(self) -> int:
            return os.open(tmp_path / "fd", os.O_WRONLY | os.O_CREAT)

    for code in (errno.EPIPE, errno.EIO):  # a closed pipe, a hung-up terminal
        stream = SurvivingStream(Gone(code))  # type: ignore[arg-type]
        assert stream.write("epoch 1/5") == len("epoch 1/5") and stream.reader_gone
    with pytest.raises(OSError, match="No space left"):  # a full disk is not hidden
        SurvivingStream(Gone(errno.ENOSPC)).write("x")  # type: ignore[arg-type]
