"""Atomic file writes: write a temporary file beside the target, then rename.

Every temporary name made here carries its owner (host and process id), so that
:func:`remove_orphans` can clear what a killed process left behind, and only that.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import shutil
import socket
import stat
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
    """Yield a new temporary path beside ``target``; rename it onto ``target`` on success.

    ``target``'s folder must exist: it is never created. A regular file already at
    ``target`` keeps its owner and mode; if its owner cannot be kept (another user's
    file, and we are not root), it is rewritten in place instead. On any error (a full
    disk included) the temporary file is removed and ``target`` is left as it was.
    """
    folder = target.parent
    if not folder.is_dir():
        raise FileNotFoundError(errno.ENOENT, f"its folder {folder} does not exist", str(target))
    tmp = _new_temporary(target, suffix)
    try:
        yield tmp
        _fsync(tmp)
        if _adopt_owner_and_mode(tmp, target):
            os.replace(tmp, target)
        else:
            _rewrite_in_place(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write(
    target: Path, write: Callable[[IO[bytes]], object], *, through_links: bool = False
) -> None:
    """Call ``write`` with a binary file that becomes ``target`` only if it succeeds.

    See :func:`atomic_path`. By default whatever else is at ``target`` (a symbolic link,
    a FIFO, a device) is replaced. ``through_links`` is for a destination the user named:
    a symbolic link is followed (the file it leads to is replaced, the link kept), and a
    FIFO, a device or this process's own stdout or stderr (``/dev/stdout``) is written
    to directly, never replaced.
    """
    if through_links:
        stream = _open_stream(target)
        if stream is not None:
            with stream:
                write(stream)
            return
        if target.is_symlink():
            target = Path(os.path.realpath(target))
    with atomic_path(target) as tmp, tmp.open("wb") as handle:
        write(handle)


def atomic_write_text(target: Path, text: str, *, through_links: bool = False) -> None:
    """Write ``text`` (UTF-8) to ``target`` atomically (see :func:`atomic_write`)."""
    data = text.encode("utf-8")  # before anything is touched: a bad text changes nothing
    atomic_write(target, lambda handle: handle.write(data), through_links=through_links)


def _new_temporary(target: Path, suffix: str) -> Path:
    """Create an empty file beside ``target``, with the mode a new file gets (the umask's)."""
    for _ in range(100):
        tmp = target.with_name(f".{target.name}.{owner_tag()}{secrets.token_hex(4)}{suffix}.tmp")
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666))
        except FileExistsError:
            continue
        return tmp
    raise FileExistsError(errno.EEXIST, "no free temporary name", str(target))


def _adopt_owner_and_mode(tmp: Path, target: Path) -> bool:
    """Give ``tmp`` the owner and mode of the regular file at ``target``, if there is one;
    ``False`` if its owner cannot be given (the file is not ours, and we are not root)."""
    try:
        there = os.lstat(target)
    except FileNotFoundError:
        return True
    if not stat.S_ISREG(there.st_mode):
        return True
    ours = os.stat(tmp)
    if (ours.st_uid, ours.st_gid) != (there.st_uid, there.st_gid):
        try:
            os.chown(tmp, there.st_uid, there.st_gid)
        except PermissionError:
            return False
    os.chmod(tmp, stat.S_IMODE(there.st_mode))  # after chown, which clears set-id bits
    return True


def _rewrite_in_place(tmp: Path, target: Path) -> None:
    """Copy ``tmp`` into the existing regular file ``target`` (its inode, owner and mode
    kept); ``PermissionError`` if we may not write to it."""
    fd = os.open(target, os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    with os.fdopen(fd, "wb") as out, tmp.open("rb") as source:
        out.truncate(0)
        shutil.copyfileobj(source, out)
        out.flush()
        os.fsync(out.fileno())


def _open_stream(target: Path) -> IO[bytes] | None:
    """``target`` opened for writing if it is not a file to replace: a FIFO or a device
    (followed through links), or the very file of this process's stdout or stderr."""
    try:
        there = os.stat(target)
    except (FileNotFoundError, NotADirectoryError):
        return None
    for fd in (1, 2):
        try:
            mine = os.fstat(fd)
        except OSError:
            continue
        if (mine.st_dev, mine.st_ino) == (there.st_dev, there.st_ino):
            return os.fdopen(os.dup(fd), "wb")
    if stat.S_ISREG(there.st_mode) or stat.S_ISDIR(there.st_mode):
        return None
    return os.fdopen(os.open(target, os.O_WRONLY | os.O_NOCTTY | os.O_CLOEXEC), "wb")


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
