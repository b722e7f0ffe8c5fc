"""What the app remembers between sessions (the theme, the digit style), in the user's
config folder. The file is read like any file from disk: bounded, and ignored if damaged."""

from __future__ import annotations

import json

from mnist_tui.core.files.atomic import atomic_write_text
from mnist_tui.core.files.bounded_io import is_plain_file, read_text_bounded
from mnist_tui.core.paths import preferences_path

MAX_PREFERENCES_BYTES = 64 << 10


def load_preferences() -> dict[str, str]:
    """The saved preferences; none when the file is missing or unreadable (never an error:
    a damaged file only costs the user their theme and digit style)."""
    path = preferences_path()
    if not is_plain_file(path):
        return {}
    try:
        data = json.loads(read_text_bounded(path, MAX_PREFERENCES_BYTES))
    except (OSError, ValueError, RecursionError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(key): value for key, value in data.items() if isinstance(value, str)}


def save_preference(name: str, value: str) -> None:
    """Remember one preference (written atomically). Raises ``OSError`` when it cannot."""
    path = preferences_path()
    preferences = load_preferences()
    if preferences.get(name) == value:
        return
    preferences[name] = value
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(preferences, indent=2) + "\n", through_links=True)
