"""JSON as other tools read it: never bare ``NaN`` or ``Infinity`` in what we write,
and always text that encodes as UTF-8."""

from __future__ import annotations

import json
import math
import re
from typing import Any

_ESCAPED = re.compile("[\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff\ud800-\udfff]")
"""What JSON may hold raw but is written as ``\\u`` escapes: lone surrogates (the text must
encode as UTF-8), and DEL, C1 controls, bidi and zero-width characters (a terminal that
shows the output must not act on them). JSON escapes the other controls itself."""


def finite_or_none(value: Any) -> Any:
    """``value`` with every non-finite float (at any depth) replaced by ``None``."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: finite_or_none(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_none(item) for item in value]
    return value


def dumps(value: Any, *, indent: int | None = None, ascii_only: bool = False) -> str:
    """Strict JSON (RFC 8259): a diverged ``nan`` loss is written as ``null``; a lone
    surrogate (from a file name's bytes that are not UTF-8) as its ``\\u`` escape, so the
    text always encodes as UTF-8, and so is every character a terminal would act on;
    ``ascii_only`` escapes every non-ASCII character."""
    text = json.dumps(
        finite_or_none(value), indent=indent, allow_nan=False, ensure_ascii=ascii_only
    )
    return _ESCAPED.sub(lambda found: f"\\u{ord(found[0]):04x}", text)
