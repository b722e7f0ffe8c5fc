"""JSON as other tools read it: never bare ``NaN`` or ``Infinity`` in what we write."""

from __future__ import annotations

import json
import math
from typing import Any


def finite_or_none(value: Any) -> Any:
    """``value`` with every non-finite float (at any depth) replaced by ``None``."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: finite_or_none(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_none(item) for item in value]
    return value


def dumps(value: Any, *, indent: int | None = None) -> str:
    """Strict JSON (RFC 8259): a diverged ``nan`` loss is written as ``null``."""
    return json.dumps(finite_or_none(value), indent=indent, allow_nan=False,
                      ensure_ascii=False)
