"""docs/use-your-model.md, run as written: its Python in a fresh ``python -I``,
its commands as the real ``mnist-tui`` and ``tensorboard`` in a folder of their own."""

from __future__ import annotations

import json
import re
import shlex
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from mnist_tui.core.data.mnist import MnistData

PAGE = Path(__file__).resolve().parents[2] / "docs" / "use-your-model.md"
BIN = Path(sys.executable).parent


def section() -> str:
    return PAGE.read_text(encoding="utf-8")


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", section(), re.S)


def commands(block: str) -> list[str]:
    """The block's command lines, comments cut (a `#` after two spaces or more)."""
    return [
        re.split(r"\s{2,}#", line)[0].strip()
        for line in block.splitlines()
        if line.strip() and not line.startswith("#")
    ]


def run(line: str, cwd: Path, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    """One command line of the page: ``mnist-tui`` as the module in an isolated Python, a
    ``cat FILE |`` prefix as the command's standard input."""
    if line.startswith("cat "):
        source, line = (part.strip() for part in line[4:].split("|", 1))
        stdin = (cwd / source).read_bytes()
    argv = shlex.split(line)
    assert argv[0] == "mnist-tui", line
    return subprocess.run(
        [sys.executable, "-I", "-m", "mnist_tui", *argv[1:]],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        timeout=600,
    )


@pytest.fixture(scope="module")
def workdir(real_mnist: MnistData, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with one trained run in ./saved_models and the images the page names."""
    from PIL import Image

    folder = tmp_path_factory.mktemp("user")
    done = run("mnist-tui train --epochs 1", folder)
    assert done.returncode == 0, done.stderr[-2000:]
    seven, two = real_mnist.x_test[0], real_mnist.x_test[1]
    Image.fromarray(255 - seven).resize((300, 300)).save(folder / "my-digit.png")
    Image.fromarray(seven).save(folder / "a.png")
    Image.fromarray(two).convert("RGB").save(folder / "b.jpg", quality=95)
    (folder / "scans").mkdir()
    for index in range(5):
        Image.fromarray(real_mnist.x_test[index]).save(folder / "scans" / f"{index}.png")
    return folder


@pytest.mark.real_mnist
def test_the_plain_keras_code_runs_as_written(workdir: Path) -> None:
    (code,) = blocks("python")
    (run_id,) = [
        p.name
        for p in (workdir / "saved_models").iterdir()
        if not p.name.startswith(".") and p.is_dir()
    ]
    done = subprocess.run(
        [sys.executable, "-I", "-c", code.replace("<run-id>", run_id)],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert re.fullmatch(r"(?s).*\[\d\]\n", done.stdout)


@pytest.mark.real_mnist
def test_the_export_and_predict_commands_run_as_written(workdir: Path) -> None:
    shell = blocks("sh")
    exports, predicts = commands(shell[0]), commands(shell[1])
    assert [line.split("|")[-1].split()[1] for line in exports + predicts] == (
        ["export"] * 3 + ["predict"] * 4
    )
    for line in exports:
        done = run(line, workdir)
        assert done.returncode == 0, (line, done.stderr[-2000:])
        assert b"argmax agrees on 10,000 of 10,000" in done.stdout or b'"agree"' in done.stdout
    run_id = next(p.name for p in (workdir / "saved_models").iterdir() if p.is_dir())
    assert (workdir / f"{run_id}-onnx" / "model.onnx").is_file()
    assert (workdir / "lite" / "model.tflite").is_file()
    assert (workdir / f"{run_id}-savedmodel" / "saved_model.pb").is_file()
    contract = json.loads((workdir / "lite" / "contract.json").read_text())
    assert contract["input"]["shape"] == [None, 28, 28]

    outputs = [run(line, workdir) for line in predicts]
    assert all(done.returncode == 0 for done in outputs), [d.stderr[-500:] for d in outputs]
    single, folder, as_json, piped = (done.stdout.decode() for done in outputs)
    assert re.search(r"my-digit\.png: 7 \(\d+\.\d%\); next", single) and "█" in single
    assert len(re.findall(r"\.png: \d", folder)) == 5 and "█" not in folder
    results = json.loads(as_json)
    assert [r["file"] for r in results] == ["a.png", "b.jpg"]
    assert [r["prediction"] for r in results] == [7, 2]
    assert all(len(r["probabilities"]) == 10 for r in results)
    assert re.search(r": 7 \(\d+\.\d%\)", piped)


@pytest.mark.real_mnist
def test_tensorboard_shows_the_runs(workdir: Path) -> None:
    """The README's TensorBoard command, on a free loopback port, lists the saved run."""
    (line,) = commands(blocks("sh")[2])
    argv = shlex.split(line)
    assert argv[0] == "tensorboard"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [str(BIN / argv[0]), *argv[1:], "--host", "127.0.0.1", "--port", str(port)],
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        runs: list[str] = []
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not any(r.endswith("/train") for r in runs):
            time.sleep(0.5)
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/data/runs", timeout=5
                ) as answer:
                    runs = json.loads(answer.read())
            except OSError:
                continue
        run_id = next(p.name for p in (workdir / "saved_models").iterdir() if p.is_dir())
        assert f"{run_id}/tensorboard/train" in runs, runs
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_the_section_names_only_real_images() -> None:
    """The predict lines name the files the fixture makes (a guard on the test itself)."""
    names = {
        word
        for line in commands(blocks("sh")[1])
        for word in shlex.split(line)
        if re.search(r"\.(png|jpg)$|/$", word)
    }
    assert names == {"my-digit.png", "scans/", "a.png", "b.jpg"}
