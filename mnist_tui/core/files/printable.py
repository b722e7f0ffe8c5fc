"""Text from files, folder names, databases and arguments made safe to show on a terminal:
every character that would act instead of print is written as a visible escape."""

from __future__ import annotations

import re

_HIDDEN = (
    "[\x00-\x08\x0b-\x1f\x7f-\x9f"  # C0 (but tab and newline), DEL, C1 (8-bit CSI, OSC...)
    "\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff"  # bidi marks, zero-width
    "\ud800-\udfff]"  # lone surrogates (bytes of a name that are not UTF-8)
)
_ACTING = re.compile(_HIDDEN)
_ACTING_OR_BREAK = re.compile(_HIDDEN[:-1] + "\t\n]")


def _escape(found: re.Match[str]) -> str:
    code = ord(found[0])
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def printable(text: str, *, lines: bool = True) -> str:
    """``text`` with control characters (ESC, CSI, OSC, C1 and the rest), bidi overrides,
    zero-width characters and lone surrogates shown as visible escapes (``\\x1b``,
    ``\\u202e``); tabs and line breaks are kept when ``lines``, else escaped too (for
    one-line places: a table cell, a title)."""
    return (_ACTING if lines else _ACTING_OR_BREAK).sub(_escape, text)


def has_acting(text: str) -> bool:
    """Whether ``text`` holds a character :func:`printable` would escape (tabs and line
    breaks aside)."""
    return _ACTING.search(text) is not None


def strip_acting(text: str) -> str:
    """``text`` without the characters :func:`printable` would escape (tabs and line
    breaks aside): for a place where an escape would not fit, as a last guard."""
    return _ACTING.sub("", text)
