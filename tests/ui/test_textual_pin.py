"""What ties the app to one Textual release, named so an upgrade is a deliberate step."""

from __future__ import annotations

import os
from pathlib import Path

import textual
from textual.widgets import _footer

PINNED = "8.2.8"


def test_textual_is_the_release_the_footer_and_snapshots_were_checked_against() -> None:
    """``KeysFooter`` builds Textual's private ``FooterKey`` widgets and toggles their
    ``_disabled`` flag (what a key's click handler reads), and the SVG snapshots are drawn
    by this release. On an upgrade: check both against the new release, update the
    snapshots after looking at them, then this pin, pyproject.toml and requirements.lock
    together."""
    assert textual.__version__ == PINNED
    key = _footer.FooterKey("x", "x", "x", "app.x")
    assert key._disabled is False


def test_a_damaged_or_hostile_preferences_file_costs_only_the_preferences() -> None:
    from mnist_tui.core.paths import preferences_path
    from mnist_tui.ui.preferences import load_preferences

    folder = Path(os.environ["MNIST_TUI_CONFIG_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    path = preferences_path()
    for content in (b"[" * 100_000, b"\xff\xfe", b'{"theme": ["nord"]}', b" " * (1 << 20)):
        path.write_bytes(content)
        assert load_preferences() == {}
    path.unlink()
    os.mkfifo(path)  # a read would wait for a writer forever
    assert load_preferences() == {}
