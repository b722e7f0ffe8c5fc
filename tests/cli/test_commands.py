"""The headless CLI, including the real MNIST path end to end."""

from __future__ import annotations

import gc
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import pytest

from mnist_tui.cli import main
from mnist_tui.core.config import PRESET_HINTS
from mnist_tui.core.data.mnist import MnistData
from mnist_tui.core.engine.evaluation import evaluate_model
from mnist_tui.core.runs.store import RunStore


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, real_mnist: MnistData) -> Path:
    """One real run of the defaults a user gets, trained through ``mnist-tui train``."""
    runs = tmp_path_factory.mktemp("runs")
    assert main(["train", "--runs-dir", str(runs)]) == 0
    return runs


SEED_SCRIPT_ACCURACY = 0.9761
"""The seed script's test accuracy (benchmarks/train_speed.py), which the default's
training promises to reach (README: "97.7% in 2 s")."""


@pytest.mark.real_mnist
def test_real_mnist_train_save_reload(trained: Path, real_mnist: MnistData) -> None:
    """Verified MNIST -> the default MLP -> the seed's accuracy -> plain Keras agrees."""
    run = RunStore(trained).load("latest")
    assert run.status == "completed" and run.epochs_done == 6
    assert run.test_accuracy >= SEED_SCRIPT_ACCURACY
    assert run.data["dataset"]["verified"] is True
    model = keras.models.load_model(run.model_path)
    again = evaluate_model(model, real_mnist.x_test, real_mnist.y_test)
    assert again.accuracy == pytest.approx(run.test_accuracy, abs=1e-4)


def test_runs_evaluate_show_json(trained: Path, capfd: pytest.CaptureFixture[str]) -> None:
    capfd.readouterr()
    assert main(["runs", "--json", "--runs-dir", str(trained)]) == 0
    listing = json.loads(capfd.readouterr().out)
    run_id = listing["runs"][0]["run_id"]
    assert listing["runs"][0]["epochs"] == 6 and listing["problems"] == []

    assert main(["evaluate", run_id, "--json", "--runs-dir", str(trained)]) == 0
    metrics = json.loads(capfd.readouterr().out)
    assert metrics["accuracy"] == pytest.approx(listing["runs"][0]["test_accuracy"], abs=1e-4)
    assert len(metrics["confusion_matrix"]) == 10

    assert (
        main(
            [
                "show",
                run_id,
                "--misclassified",
                "--true",
                "7",
                "--limit",
                "3",
                "--runs-dir",
                str(trained),
            ]
        )
        == 0
    )
    out = capfd.readouterr().out
    assert out.count("WRONG") == 3 and out.count("true 7") == 3
    assert "█" in out

    assert main(["show", "latest", "--limit", "2", "--ascii", "--runs-dir", str(trained)]) == 0
    out = capfd.readouterr().out
    assert "#0 true 7" in out and "#1 true 2" in out and "@" in out


def test_options_before_the_command_are_not_dropped(
    trained: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    from mnist_tui.cli.options import config_from_args
    from mnist_tui.cli.parser import build_parser

    capfd.readouterr()
    assert main(["--runs-dir", str(trained), "runs", "--json"]) == 0
    assert len(json.loads(capfd.readouterr().out)["runs"]) == 1  # not ./saved_models
    args = build_parser().parse_args(
        ["--epochs", "3", "--runs-dir", "a", "train", "--dropout", "0.1"]
    )
    assert (config_from_args(args).epochs, config_from_args(args).dropout) == (3, 0.1)
    assert args.runs_dir == Path("a")
    later = build_parser().parse_args(["--runs-dir", "a", "runs", "--runs-dir", "b"])
    assert later.runs_dir == Path("b")  # the subcommand's own option wins


def test_evaluate_prints_tables(trained: Path, capfd: pytest.CaptureFixture[str]) -> None:
    capfd.readouterr()
    assert main(["evaluate", "latest", "--runs-dir", str(trained)]) == 0
    out = capfd.readouterr().out
    assert "Confusion matrix" in out and "Per class" in out and "Test accuracy" in out
    assert "Most confused (true→predicted): " in out and "×" in out


@pytest.mark.real_mnist
def test_data_reports_source(capfd: pytest.CaptureFixture[str]) -> None:
    capfd.readouterr()
    assert main(["data", "--json"]) == 0
    report = json.loads(capfd.readouterr().out)
    assert report["verified"] is True
    assert report["arrays"]["x_train"]["shape"] == [60000, 28, 28]


def test_a_command_collects_cycles_again(tmp_path: Path) -> None:
    gc.disable()  # as the ``mnist-tui`` entry point starts
    try:
        assert main(["runs", "--runs-dir", str(tmp_path)]) == 0
        assert gc.isenabled()
    finally:
        gc.enable()


def test_delete(trained: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    import shutil

    copy = tmp_path / "runs"
    shutil.copytree(trained, copy)
    assert main(["delete", "latest", "--yes", "--runs-dir", str(copy)]) == 0
    assert RunStore(copy).list() == ([], [])


def _in_terminal(argv: list[str], answer: bytes) -> str:
    """Run ``mnist-tui argv`` in a pseudo-terminal; once it asks [y/N], type ``answer``.

    Returns everything the terminal showed.
    """
    import pty
    import select

    pid, fd = pty.fork()
    if pid == 0:  # the child: the CLI, as a user starts it in a terminal
        os.execvp(sys.executable, [sys.executable, "-I", "-m", "mnist_tui", *argv])
    shown, answered, began = b"", False, time.monotonic()
    try:
        while time.monotonic() - began < 30:
            if select.select([fd], [], [], 0.1)[0]:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:  # the child closed the terminal
                    break
                if not chunk:
                    break
                shown += chunk
            if not answered and b"[y/N]" in shown:
                os.write(fd, answer)
                answered = True
    finally:
        if os.waitpid(pid, os.WNOHANG) == (0, 0):  # still waiting for an answer
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    return shown.decode(errors="replace")


@pytest.mark.parametrize(("answer", "kept"), [(b"n\r", True), (b"\x04", True), (b"y\r", False)])
def test_delete_asks_in_the_terminal(
    trained: Path, tmp_path: Path, answer: bytes, kept: bool
) -> None:
    import shutil

    copy = tmp_path / "runs"
    shutil.copytree(trained, copy)
    shown = _in_terminal(["delete", "latest", "--runs-dir", str(copy)], answer)
    assert "? [y/N]" in shown  # the question is on screen, not in the native log
    assert "Traceback" not in shown
    assert ("Kept." in shown) is kept
    assert (len(RunStore(copy).list()[0]) == 1) is kept


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["train", "--epochs", "zero"], 2, "--epochs: 'zero' is not a whole number"),
        (["train", "--dropout", "1.5", "--optimizer", "adagrad"], 2, "--dropout: must be in"),
        (["show", "x", "--true", "11"], 2, "11 is not a digit 0-9"),
        (["frobnicate"], 2, "invalid choice"),
        (["evaluate", "no-such-run"], 4, "no run 'no-such-run'"),
        (["delete", "no-such-run", "--yes"], 4, "no run 'no-such-run'"),
        (["delete", "", "--yes"], 4, "'' is not a run id"),
        (
            ["train", "--config", "/dev/zero"],
            2,
            "--config: cannot read /dev/zero: it is larger than 1 MiB",
        ),
        (
            ["train", "--seed", "1180591620717411303424"],
            2,
            "--seed: must be between 0 and 2147483647, got 1180591620717411303424",
        ),
        (
            [
                "train",
                "--hidden-units",
                "8192,8192,8192,8192,8192,8192,8192,8192",
                "--batch-size",
                "8192",
            ],
            2,
            "--hidden-units: needs about 14.9 GB to train",
        ),
    ],
)
def test_bad_input_is_one_clear_line(
    argv: list[str], code: int, message: str, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    assert main([*argv, "--runs-dir", str(tmp_path)] if argv[0] != "frobnicate" else argv) == code
    err = capfd.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"learning_rate": NaN}', "--learning-rate: must be a finite number, got nan"),
        (b'{"config": {"dropout": Infinity}}', "--dropout: must be a finite number, got inf"),
        (b"\xff\xfe\x00\x01", "is not UTF-8 text"),
        (b"[" * 100_000, "cannot read"),
    ],
)
def test_a_bad_config_file_is_one_clear_line(
    content: bytes, message: str, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.json"
    config.write_bytes(content)
    assert main(["train", "--config", str(config), "--runs-dir", str(tmp_path)]) == 2
    err = capfd.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err


def test_missing_data_is_explained(tmp_path: Path) -> None:
    """A bad --data path with no other source: exit 3, what was tried, how to fix it."""
    env = {
        **os.environ,
        "MNIST_TUI_CACHE_DIR": str(tmp_path / "c"),
        "KERAS_HOME": str(tmp_path),
        "MNIST_TUI_NO_DOWNLOAD": "1",
    }
    done = subprocess.run(
        [sys.executable, "-I", "-m", "mnist_tui", "data", "--data", str(tmp_path / "nowhere.npz")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 3, done.stderr
    assert "does not exist" in done.stderr and "--data PATH" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.real_mnist
def test_ctrl_c_stops_and_still_saves(tmp_path: Path) -> None:
    """SIGINT mid-training: the run is saved as stopped, exit code 0, no traceback."""
    proc = subprocess.Popen(
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
        ],
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    lines = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        lines.append(line)
        if "epoch 1/200" in line:
            break
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, "".join(lines) + err
    assert "Traceback" not in err
    assert "stopped by you" in out
    run = RunStore(tmp_path).load("latest")
    assert run.status == "stopped" and 1 <= run.epochs_done < 200


@pytest.mark.real_mnist
def test_log_output_does_not_flood(tmp_path: Path) -> None:
    """Without a terminal, progress is one line per epoch and phase, no bars."""
    done = subprocess.run(
        [
            sys.executable,
            "-I",
            "-m",
            "mnist_tui",
            "train",
            "--epochs",
            "2",
            "--batch-size",
            "1024",
            "--runs-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) <= 10, lines
    assert sum("epoch " in line for line in lines) == 2
    assert "\r" not in done.stderr and "\x1b[" not in done.stderr


def test_live_view_starts_each_epoch_without_the_last_ones_figures() -> None:
    import io

    from rich.console import Console

    from mnist_tui.cli.progress import LiveTrainingView
    from mnist_tui.core.events import BatchProgress, EpochEnd, TrainingStarted

    view = LiveTrainingView(Console(file=io.StringIO(), width=120))
    with view:
        view(
            TrainingStarted(
                epochs=3,
                steps_per_epoch=10,
                train_samples=1000,
                val_samples=0,
                param_count=10,
                device="CPU",
            )
        )
        view(
            BatchProgress(
                epoch=1,
                step=5,
                steps=10,
                loss=0.5,
                accuracy=0.8,
                samples_per_second=1000.0,
                epoch_seconds=0.5,
            )
        )
        epoch_task = view._progress.tasks[1]
        assert epoch_task.fields["metrics"] == "loss 0.5000 acc 0.8000"
        view(
            EpochEnd(
                epoch=1, loss=0.4, accuracy=0.85, val_loss=None, val_accuracy=None, seconds=1.0
            )
        )
        assert epoch_task.description == "epoch 2"
        assert epoch_task.fields == {"rate": "", "metrics": ""}  # not epoch 1's loss


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["train", "--help"],
        ["serve", "--help"],
        ["sweep", "run", "--help"],
        ["runs", "--help"],
    ],
)
def test_every_help_prints(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """argparse formats help with %: a preset's "99.1%" must not break it."""
    from mnist_tui.cli import main

    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: mnist-tui")
    if argv[0] == "train":
        assert f"'CNN quick' ({PRESET_HINTS['CNN quick']})" in " ".join(out.split())
