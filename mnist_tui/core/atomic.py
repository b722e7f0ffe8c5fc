"""Atomic file writes: write a temporary file beside the target, then rename.

Every temporary name made here carries its owner (host and process id), so that
:func:`remove_orphans` can clear what a killed process left behind, and only that.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

LEFTOVER_SUFFIXES = (".tmp", ".partial", ".deleting")
"""Hidden names ending so are temporary: files being written, runs being built or removed."""
FOREIGN_LEFTOVER_AGE = 24 * 3600
"""Seconds after which a leftover of another host (or without an owner) counts as orphaned."""
_OWNER = re.compile(r"~(?P<host>[A-Za-z0-9-]{1,64})~(?P<pid>[0-9]{1,10})~")


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:64] or "host"


def owner_tag() -> str:
    """``~host~pid~``: put in a temporary name, it tells :func:`remove_orphans` its owner."""
    return f"~{_host()}~{os.getpid()}~"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True  # someone else's process, or a number we cannot ask about: keep
    return True


def is_orphan(path: Path, now: float | None = None) -> bool:
    """Whether a hidden temporary in a folder we write was left by a process now gone.

    The owner's process is asked on this host; another host's leftovers and those
    without an owner tag count as orphaned after :data:`FOREIGN_LEFTOVER_AGE`.
    """
    name = path.name
    if not name.startswith(".") or not name.endswith(LEFTOVER_SUFFIXES):
        return False
    owner = _OWNER.search(name)
    if owner is not None and owner["host"] == _host():
        return not _alive(int(owner["pid"]))
    try:
        age = (now if now is not None else time.time()) - path.lstat().st_mtime
    except OSError:
        return False
    return age > FOREIGN_LEFTOVER_AGE


def remove_orphans(folder: Path) -> list[Path]:
    """Remove the orphaned temporaries directly inside ``folder``; return what went.

    Symbolic links are unlinked, never followed. Errors leave an item in place.
    """
    removed: list[Path] = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return removed
    for path in entries:
        if not is_orphan(path):
            continue
        try:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
        except OSError:
            continue
        removed.append(path)
    return removed


@contextlib.contextmanager
def atomic_path(target: Path, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it onto ``target`` on success.

    On any error (a full disk included) the temporary file is removed and ``target``
    is left as it was.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.{owner_tag()}",
                                    suffix=suffix + ".tmp",
                                    dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        _fsync(tmp)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write(target: Path, write: Callable[[IO[bytes]], object]) -> None:
    """Call ``write`` with a binary file that becomes ``target`` only if it succeeds."""
    with atomic_path(target) as tmp, tmp.open("wb") as handle:
        write(handle)


def atomic_write_text(target: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``target`` atomically."""
    atomic_write(target, lambda handle: handle.write(text.encode("utf-8")))


def fsync_tree(root: Path) -> None:
    """Flush every file under ``root`` to disk, then each folder's entries (a folder
    after what it holds, ``root`` last), so that renaming ``root`` into place publishes
    complete files. Symbolic links are not followed."""
    for parent, _folders, files in os.walk(root, topdown=False):
        for name in files:
            path = Path(parent, name)
            if not path.is_symlink():
                _fsync(path)
        _fsync(Path(parent))


def _fsync(path: Path) -> None:
    """Flush a file, or a folder's entries, to disk."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
