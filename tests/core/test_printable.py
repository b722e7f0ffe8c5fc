"""Nothing from a file, a folder name or an argument acts on the terminal: control
characters, bidi overrides and zero-width characters are shown as visible escapes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mnist_tui.core.data.mnist import MnistData
from mnist_tui.core.files import strict_json
from mnist_tui.core.files.printable import has_acting, printable
from tests.ui.conftest import write_fixed_run

TITLE = "\x1b]0;pwned\x07"
"""Sets a terminal's window title (OSC 0)."""
CLIPBOARD = "\x1b]52;c;cHduZWQ=\x07"
"""Writes the terminal's clipboard (OSC 52)."""
WIPE = "\x1b[2J"
C1_CSI = "\x9b2J"
BIDI = "\u202e"
HOSTILE = "evil" + TITLE + CLIPBOARD + WIPE + C1_CSI + BIDI + "\u200b"


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        (TITLE, "\\x1b]0;pwned\\x07"),
        (C1_CSI, "\\x9b2J"),
        ("a\u202eb\u2066c\u200bd\ufeff", "a\\u202eb\\u2066c\\u200bd\\ufeff"),
        ("x\udcffy", "x\\udcffy"),
        ("tab\tand\nline", "tab\tand\nline"),
        ("plain → text, 4→9 ×19", "plain → text, 4→9 ×19"),
    ],
)
def test_what_would_act_is_shown_as_an_escape(raw: str, shown: str) -> None:
    assert printable(raw) == shown
    assert not has_acting(printable(raw))


def test_one_line_places_escape_breaks_too() -> None:
    assert printable("a\tb\nc", lines=False) == "a\\x09b\\x0ac"


def test_json_escapes_what_a_terminal_would_obey() -> None:
    text = strict_json.dumps({"name": HOSTILE})
    assert not has_acting(text) and "\x1b" not in text
    assert json.loads(text) == {"name": HOSTILE}  # the value itself is kept exactly


@pytest.fixture
def hostile_runs(small_data: MnistData, tmp_path: Path) -> Path:
    runs = tmp_path / "runs"
    folder = write_fixed_run(runs, small_data)
    shutil.copytree(folder, runs / ("20261124-120000-mlp-" + HOSTILE))
    return runs


def real(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FORCE_COLOR": "1", "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-I", "-m", "mnist_tui", *argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        errors="surrogateescape",
    )


def acting_sequences(output: str) -> list[str]:
    """The hostile sequences that reached the output raw (colour codes are Rich's own)."""
    return [raw for raw in (TITLE, CLIPBOARD, WIPE, C1_CSI, BIDI, "\u200b") if raw in output]


def test_the_cli_shows_a_hostile_folder_name_without_obeying_it(
    hostile_runs: Path, tmp_path: Path
) -> None:
    listed = real("runs", "--runs-dir", str(hostile_runs), cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert not acting_sequences(listed.stdout + listed.stderr)
    assert "\\x1b" in listed.stdout and "\\u202e" in listed.stdout  # shown, not obeyed

    as_json = real("runs", "--json", "--runs-dir", str(hostile_runs), cwd=tmp_path)
    assert not acting_sequences(as_json.stdout)
    ids = [run["run_id"] for run in json.loads(as_json.stdout)["runs"]]
    assert any(run_id.endswith(HOSTILE) for run_id in ids)

    exported = real(
        "export",
        "20261124-120000-mlp-evil",
        "--runs-dir",
        str(hostile_runs),
        "--out",
        str(tmp_path / "history.csv"),
        cwd=tmp_path,
    )
    assert exported.returncode == 0, exported.stderr
    assert not acting_sequences(exported.stderr) and "\\x1b" in exported.stderr


def test_an_error_naming_a_hostile_argument_is_printable(tmp_path: Path) -> None:
    missing = real("evaluate", "nope" + WIPE + TITLE, "--runs-dir", str(tmp_path), cwd=tmp_path)
    assert missing.returncode == 4
    assert not acting_sequences(missing.stderr)
    assert "nope\\x1b[2J\\x1b]0;pwned\\x07" in missing.stderr
