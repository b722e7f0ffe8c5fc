"""A run's name, note and tags: the user's words about it, kept beside its record.

They live in ``annotation.json`` in the run folder, written atomically, so naming a
run never rewrites its ``run.json``, model or metrics. What is read back is checked
like every file from disk: size, types, lengths and text that can be written back.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import stat
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from mnist_tui.core.errors import MnistTuiError
from mnist_tui.core.files import strict_json
from mnist_tui.core.files.atomic import atomic_write_text
from mnist_tui.core.files.bounded_io import is_plain_file, read_text_bounded

ANNOTATION_FILE = "annotation.json"
LOCK_FILE = ".annotation.lock"
"""Held (``fcntl.flock``) while the annotation is read, changed and written."""
MAX_NAME = 80
MAX_NOTE = 2000
MAX_TAGS = 20
MAX_TAG = 32
MAX_ANNOTATION_BYTES = 64 << 10
_TAG = re.compile(r"^[\w.+-]+$")


class AnnotationError(MnistTuiError, ValueError):
    """A name, note or tag that cannot be kept; the message says why."""


@dataclass(frozen=True)
class Annotation:
    """What the user says about a run."""

    name: str = ""
    """A short name shown wherever the run is (empty: none given)."""
    note: str = ""
    """Free text."""
    tags: tuple[str, ...] = ()
    """Words to filter by: letters, digits, ``_ . + -``; sorted, no repeats."""

    def __post_init__(self) -> None:
        if len(self.name) > MAX_NAME or "\n" in self.name:
            raise AnnotationError(f"a name is one line of at most {MAX_NAME} characters")
        if len(self.note) > MAX_NOTE:
            raise AnnotationError(f"a note is at most {MAX_NOTE} characters")
        _check_text("name", self.name, allowed="")
        _check_text("note", self.note, allowed="\n\t")
        if len(self.tags) > MAX_TAGS:
            raise AnnotationError(f"at most {MAX_TAGS} tags")
        for tag in self.tags:
            if not (0 < len(tag) <= MAX_TAG and _TAG.match(tag)):
                raise AnnotationError(
                    f"a tag is 1 to {MAX_TAG} letters, digits or _ . + -, not {tag[:40]!r}"
                )

    @classmethod
    def of(cls, name: str = "", note: str = "", tags: Iterable[str] = ()) -> Annotation:
        """Build from user text: spaces trimmed, tags split on commas, deduplicated."""
        return cls(name=name.strip(), note=note.strip(), tags=normalise_tags(tags))

    def updated(
        self, name: str | None = None, note: str | None = None, tags: Iterable[str] | None = None
    ) -> Annotation:
        """A copy with the given parts replaced (``None`` keeps a part)."""
        return replace(
            self,
            name=self.name if name is None else name.strip(),
            note=self.note if note is None else note.strip(),
            tags=self.tags if tags is None else normalise_tags(tags),
        )

    @property
    def empty(self) -> bool:
        """Nothing said."""
        return not (self.name or self.note or self.tags)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"name": self.name, "note": self.note, "tags": list(self.tags)}


def _check_text(what: str, text: str, allowed: str) -> None:
    """:class:`AnnotationError` for text that cannot be written as UTF-8 (a lone
    surrogate: bytes that were not UTF-8) or that holds a control character not in
    ``allowed``."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise AnnotationError(
            f"the {what} is not valid text: it holds "
            f"{exc.object[exc.start]!a} (bytes that are not UTF-8)"
        ) from None
    bad = next(
        (char for char in text if unicodedata.category(char) == "Cc" and char not in allowed), None
    )
    if bad is not None:
        raise AnnotationError(f"the {what} holds a control character ({bad!a})")


def normalise_tags(tags: Iterable[str]) -> tuple[str, ...]:
    """``["b, a", "a"]`` → ``("a", "b")``."""
    words = {word.strip() for tag in tags for word in tag.split(",")}
    return tuple(sorted(word for word in words if word))


def read_annotation(folder: Path) -> Annotation:
    """The folder's annotation; none if absent. :class:`AnnotationError` if malformed."""
    path = folder / ANNOTATION_FILE
    if not path.exists() and not path.is_symlink():
        return Annotation()
    if not is_plain_file(path):
        raise AnnotationError(f"{ANNOTATION_FILE} is not a plain file")
    try:
        data = json.loads(read_text_bounded(path, MAX_ANNOTATION_BYTES))
    except (OSError, ValueError, RecursionError) as exc:
        raise AnnotationError(f"{ANNOTATION_FILE} is unreadable ({exc})") from None
    if not isinstance(data, dict):
        raise AnnotationError(f"{ANNOTATION_FILE} must be an object")
    name, note, tags = data.get("name", ""), data.get("note", ""), data.get("tags", [])
    if not (
        isinstance(name, str)
        and isinstance(note, str)
        and isinstance(tags, list)
        and all(isinstance(tag, str) for tag in tags)
    ):
        raise AnnotationError(f"{ANNOTATION_FILE}: name and note must be text, tags a list")
    try:
        return Annotation(name=name, note=note, tags=tuple(tags))
    except AnnotationError as exc:
        raise AnnotationError(f"{ANNOTATION_FILE}: {exc}") from None


def write_annotation(folder: Path, annotation: Annotation) -> None:
    """Write (atomically) or, for an empty annotation, remove the folder's file."""
    path = folder / ANNOTATION_FILE
    if annotation.empty:
        path.unlink(missing_ok=True)
        return
    atomic_write_text(path, strict_json.dumps(annotation.to_dict(), indent=2))


def update_annotation(
    folder: Path,
    name: str | None = None,
    note: str | None = None,
    tags: Iterable[str] | None = None,
) -> Annotation:
    """Change the folder's name, note or tags (``None`` keeps one); return the result.

    The file is read, changed and written under an exclusive lock on :data:`LOCK_FILE`,
    so changes made at once by several processes all land. A file that cannot be read
    is replaced. :class:`AnnotationError` for a value that cannot be kept, ``OSError``
    when the file cannot be written.
    """
    with _locked(folder):
        try:
            current = read_annotation(folder)
        except AnnotationError:
            current = Annotation()
        updated = current.updated(name, note, tags)
        write_annotation(folder, updated)
    return updated


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """Hold the folder's annotation lock. A link, FIFO or device in its place is refused,
    never opened."""
    import fcntl  # POSIX

    path = folder / LOCK_FILE
    with contextlib.suppress(FileNotFoundError):
        if not stat.S_ISREG(os.lstat(path).st_mode):
            raise OSError(errno.EINVAL, f"{LOCK_FILE} is not a plain file", str(path))
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)
