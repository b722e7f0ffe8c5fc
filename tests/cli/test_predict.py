"""``mnist-tui predict``: a saved run reads the user's own images, hostile ones included,
as a user runs it (a real process) and in this process."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from mnist_tui.cli import main
from mnist_tui.cli.predict import Read, classified
from mnist_tui.core.digits.drawing import predictor
from mnist_tui.core.digits.images import read_digit
from mnist_tui.core.runs.store import RunStore
from tests.conftest import Cli
from tests.core.test_images import png_header


@pytest.fixture(scope="module")
def runs(one_run: Path) -> Path:
    """A runs folder holding one small run (read only here)."""
    return one_run.parent


def one(size: tuple[int, int] = (90, 120), ink: str = "black", paper: str = "white") -> Image.Image:
    image = Image.new("RGB", size, paper)
    width, height = size
    ImageDraw.Draw(image).line(
        [(width * 0.5, height * 0.15), (width * 0.45, height * 0.85)],
        fill=ink,
        width=max(2, width // 9),
    )
    return image


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Good images of every kind, and hostile ones beside them."""
    images = tmp_path / "images"
    images.mkdir()
    one().save(images / "a.png")
    one(ink="white", paper="black").save(images / "b.jpg", quality=95)
    one((900, 1200)).convert("L").save(images / "c.gif")
    np.save(images / "d.npy", 255 - np.asarray(one().convert("L")))
    one().save(images / "e\x1b[31m\u202e.png")  # a name with control characters
    (images / "notes.txt").write_text("not an image, not listed")
    os.mkfifo(images / "f_fifo.png")
    (images / "g_bomb.png").write_bytes(png_header(100_000, 100_000))
    np.save(images / "h_3d.npy", np.zeros((2, 28, 28), dtype=np.uint8))
    Image.new("L", (40, 40), 255).save(images / "i_blank.png")
    (images / "j_truncated.png").write_bytes((images / "a.png").read_bytes()[:120])
    return images


GOOD = ["a.png", "b.jpg", "c.gif", "d.npy", "e\x1b[31m\u202e.png"]
BAD = {
    "f_fifo.png": "FIFO",
    "g_bomb.png": "too many pixels",
    "h_3d.npy": "2-D",
    "i_blank.png": "no ink",
    "j_truncated.png": "damaged",
}


def test_the_real_command_from_another_folder(runs: Path, folder: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = subprocess.run(
        [
            sys.executable,
            "-I",
            "-m",
            "mnist_tui",
            "predict",
            "latest",
            str(folder),
            str(folder / "missing.png"),
            "--json",
            "--runs-dir",
            str(runs),
        ],
        cwd=elsewhere,
        capture_output=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 4, done.stderr.decode(errors="replace")
    assert b"\x1b" not in done.stdout + done.stderr and "\u202e".encode() not in done.stdout
    results = json.loads(done.stdout, parse_constant=lambda c: pytest.fail(f"bare {c}"))
    names = [Path(item["file"]).name for item in results]
    assert names == [*sorted(GOOD + list(BAD)), "missing.png"]  # sorted, in order
    by_name = dict(zip(names, results, strict=True))
    model = RunStore(runs).load_model(RunStore(runs).load("latest"))
    for name in GOOD:
        item = by_name[name]
        assert set(item) == {"file", "prediction", "confidence", "probabilities"}
        expected = predictor(model)(read_digit(folder / name)[None])[0]
        assert np.allclose(item["probabilities"], expected, atol=1e-5)
        assert item["prediction"] == int(np.argmax(expected))
        assert item["confidence"] == pytest.approx(float(expected.max()))
    errors = done.stderr.decode().splitlines()
    for name, reason in {**BAD, "missing.png": "no such file"}.items():
        assert set(by_name[name]) == {"file", "error"} and reason in by_name[name]["error"]
        assert any(line.startswith(str(folder / name)) and reason in line for line in errors), name
    assert "6 of 11 images could not be classified" in done.stderr.decode()


def test_one_image_on_standard_input(runs: Path, tmp_path: Path) -> None:
    data = io.BytesIO()
    one().save(data, "PNG")
    done = subprocess.run(
        [
            sys.executable,
            "-I",
            "-m",
            "mnist_tui",
            "predict",
            "latest",
            "-",
            "--runs-dir",
            str(runs),
        ],
        input=data.getvalue(),
        cwd=tmp_path,
        capture_output=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    lines = done.stdout.decode().splitlines()
    assert lines[1].startswith("-: ") and "next" in lines[1]
    assert "█" in done.stdout.decode()


def test_text_output_art_and_exit_code(cli: Cli, runs: Path, folder: Path) -> None:
    good = [str(folder / name) for name in GOOD]
    code, out, err = cli("predict", "latest", *good, "--runs-dir", str(runs))
    assert code == 0 and err == ""
    run_id = RunStore(runs).load("latest").run_id
    lines = out.splitlines()
    assert lines[0].startswith(run_id)
    headers = [line for line in lines if ": " in line and "next" in line]
    assert len(headers) == len(GOOD)
    assert headers[0].startswith(f"{folder / 'a.png'}: ")
    assert headers[-1].startswith(f"{folder}/e\\x1b[31m\\u202e.png: ")  # escaped, not run
    assert "\x1b" not in out and "\u202e" not in out
    assert sum("█" in line or "▀" in line or "▄" in line for line in lines) >= 5 * len(GOOD)
    code, out, _ = cli("predict", "latest", *good, "--no-art", "--runs-dir", str(runs))
    assert code == 0 and len(out.splitlines()) == 1 + len(GOOD)
    assert not any(char in out for char in "█▀▄")


def test_hostile_images_each_get_one_line_and_the_rest_still_run(
    cli: Cli, runs: Path, folder: Path
) -> None:
    code, out, err = cli("predict", "latest", str(folder), "--no-art", "--runs-dir", str(runs))
    assert code == 4
    assert len(out.splitlines()) == 1 + len(GOOD)
    err_lines = err.splitlines()
    assert len(err_lines) == len(BAD) + 1
    for (name, reason), line in zip(sorted(BAD.items()), err_lines, strict=False):
        assert line.startswith(f"{folder / name}: ") and reason in line
    assert err_lines[-1] == "5 of 10 images could not be classified"


def test_a_missing_run_or_an_empty_folder(cli: Cli, runs: Path, tmp_path: Path) -> None:
    code, _, err = cli("predict", "nothing-like-this", "x.png", "--runs-dir", str(runs))
    assert code == 4 and err.startswith("error:")
    (tmp_path / "empty").mkdir()
    code, out, err = cli(
        "predict", "latest", str(tmp_path / "empty"), "--json", "--runs-dir", str(runs)
    )
    assert code == 4 and "no image files" in err
    assert json.loads(out) == [
        {"file": str(tmp_path / "empty"), "error": json.loads(out)[0]["error"]}
    ]


def test_standard_input_in_process(cli: Cli, runs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = io.BytesIO()
    np.save(data, 255 - np.asarray(one().convert("L")))
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data.getvalue())))
    code, out, _ = cli("predict", "latest", "-", "--json", "--runs-dir", str(runs))
    assert code == 0
    (item,) = json.loads(out)
    assert item["file"] == "-" and len(item["probabilities"]) == 10
    assert sum(item["probabilities"]) == pytest.approx(1.0, abs=1e-4)


def test_the_help_names_the_exit_codes(capfd: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["predict", "--help"])
    text = " ".join(capfd.readouterr().out.split())
    assert "0 every image was classified; 4 any image could not be" in text
    assert "--no-art" in text and "--json" in text and "--runs-dir" in text


def test_digits_are_read_in_batches_and_shown_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("mnist_tui.cli.predict.BATCH", 4)
    calls: list[int] = []

    def predict(images: np.ndarray) -> np.ndarray:
        calls.append(len(images))
        probabilities = np.zeros((len(images), 10), dtype=np.float32)
        probabilities[np.arange(len(images)), images[:, 0, 0] % 10] = 1.0
        return probabilities

    reads = [
        Read(f"{i}", np.full((28, 28), i, dtype=np.uint8)) if i % 3 else Read(f"{i}", None, "bad")
        for i in range(11)
    ]
    results = list(classified(iter(reads), predict))
    assert [read.name for read, _ in results] == [str(i) for i in range(11)]
    for read, probabilities in results:
        if read.digit is None:
            assert probabilities is None
        else:
            assert probabilities is not None
            assert int(np.argmax(probabilities)) == int(read.name) % 10
    assert calls == [4, 3] and sum(calls) == 7
