"""Reading files from disk as hostile input: never more bytes than a limit allows.

Every reader here checks a size before it allocates or decodes, so a file that
promises (or holds) far more than it should is refused with a ``ValueError`` naming
the file, instead of filling memory or hanging on ``/dev/zero``.
"""

from __future__ import annotations

import math
import os
import stat
from pathlib import Path
from typing import IO

import numpy as np
from numpy.lib import format as npy_format

MIB = 1 << 20


def is_plain_file(path: Path) -> bool:
    """Whether ``path`` is a regular file itself: not a symbolic link, a FIFO (whose
    read would wait for a writer forever) or a device."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def read_bytes_bounded(path: Path, max_bytes: int) -> bytes:
    """The bytes of ``path``; ``ValueError`` if it holds more than ``max_bytes``.

    Reads at most ``max_bytes + 1`` bytes, so endless files (``/dev/zero``) and
    files growing while read are refused too. ``OSError`` passes through.
    """
    with path.open("rb") as handle:
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ValueError(f"it is larger than {_size(max_bytes)}")
    return data


def read_text_bounded(path: Path, max_bytes: int) -> str:
    """The UTF-8 text of ``path``, refused past ``max_bytes`` or when not UTF-8."""
    data = read_bytes_bounded(path, max_bytes)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"it is not UTF-8 text (byte {exc.start})") from None


def read_npy_bounded(
    handle: IO[bytes],
    *,
    name: str,
    max_bytes: int,
    shape: tuple[int, ...] | None = None,
    dtypes: tuple[str, ...] = (),
) -> np.ndarray:
    """One ``.npy`` array from an open binary file, its header checked first.

    ``shape`` (if given) must match exactly, the dtype must be one of ``dtypes`` (any
    plain numeric dtype if empty; never objects) and the data must fit ``max_bytes``,
    all before any array memory is allocated. Raises ``ValueError``.
    """
    try:
        version = npy_format.read_magic(handle)
        if version == (1, 0):
            found_shape, fortran, dtype = npy_format.read_array_header_1_0(handle)
        elif version in ((2, 0), (3, 0)):
            found_shape, fortran, dtype = npy_format.read_array_header_2_0(handle)
        else:
            raise ValueError(f"unsupported .npy version {version}")
    except (ValueError, OSError, EOFError, SyntaxError) as exc:
        raise ValueError(f"{name} is not a readable .npy array ({exc})") from None
    if dtype.hasobject or dtype.kind not in "biuf":
        raise ValueError(f"{name} holds {dtype} values, not numbers")
    if dtypes and dtype.name not in dtypes:
        raise ValueError(f"{name} holds {dtype.name} values, expected {' or '.join(dtypes)}")
    if shape is not None and tuple(found_shape) != shape:
        raise ValueError(f"{name} has shape {tuple(found_shape)}, expected {shape}")
    count = math.prod(found_shape)
    if count * dtype.itemsize > max_bytes:
        raise ValueError(f"{name} declares {count:,} values, more than {_size(max_bytes)}")
    data = handle.read(count * dtype.itemsize)
    if len(data) != count * dtype.itemsize:
        raise ValueError(f"{name} is truncated")
    array = np.frombuffer(data, dtype=dtype)
    return (array.reshape(found_shape, order="F") if fortran else array.reshape(found_shape)).copy()


def _size(count: int) -> str:
    return f"{count / MIB:g} MiB" if count >= MIB else f"{count:,} bytes"
