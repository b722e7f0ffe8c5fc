"""The manual cannot drift: its generated pages match the code, every command and option
of ``--help`` is in it, every link resolves, and the README stays short."""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import make_docs  # noqa: E402


def test_the_generated_pages_are_current() -> None:
    done = subprocess.run(
        [sys.executable, "-I", str(ROOT / "tools" / "make_docs.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr


def test_every_command_and_option_of_help_is_in_the_cli_page() -> None:
    from mnist_tui.cli.parser import build_parser

    page = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    seen = 0
    for command, _summary, parser in make_docs.parsers(build_parser(), "mnist-tui"):
        assert f"## `{command}`" in page
        for action in parser._actions:
            if action.help == argparse.SUPPRESS:
                continue
            for option in action.option_strings:
                assert f"`{option}" in page, (command, option)
                seen += 1
    assert seen > 150  # the walk is real: every subcommand's options were read


def test_every_key_of_the_app_is_in_the_app_page() -> None:
    from mnist_tui.ui.app import MnistApp
    from mnist_tui.ui.screens.dialogs import help_groups

    page = (ROOT / "docs" / "app.md").read_text(encoding="utf-8")
    rows = [row for _title, group in help_groups(MnistApp()) for row in group]
    assert len(rows) > 40
    for row in rows:
        assert all(f"`{key}`" in page for key in row.keys), row


def test_the_map_names_every_module_and_only_those() -> None:
    page = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    named = set(re.findall(r"^\| `(mnist_tui/[^`]+\.py)` \|", page, re.M))
    real = {path.relative_to(ROOT).as_posix() for path in (ROOT / "mnist_tui").rglob("*.py")}
    assert named == real


PAGES = [*sorted(p.name for p in (ROOT / "docs").glob("*.md")), "../README.md"]


@pytest.mark.parametrize("page", PAGES)
def test_every_link_to_a_file_resolves(page: str) -> None:
    path = ROOT / "docs" / page
    text = path.read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
        if "://" in target:
            continue
        assert (path.parent / target).exists(), (page, target)


def test_the_readme_is_short_and_gives_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.encode()) < 10 * 1024
    assert "make run" in readme and "make test" in readme
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert re.search(r"^make test$", ci, re.M)  # CI runs the very command README gives


def test_the_screenshot_is_an_svg_of_the_app() -> None:
    svg = (ROOT / "docs" / "screenshot.svg").read_text(encoding="utf-8")
    assert svg.startswith("<svg") and "mnist-tui" in svg
    assert os.path.getsize(ROOT / "docs" / "screenshot.svg") < 512 * 1024
