"""A runs folder listed at once at any size: each run's summary, reused while its files are
unchanged (same size, mtime, ctime, inode and device), kept in a small index file.

The index (``.runs-index.json`` in the runs folder) is a cache and hostile input like any
file there: read only if it is a plain file of at most :data:`MAX_INDEX_BYTES`, and each
entry checked against :func:`summary_from_dict`, the same ranges ``run.json`` is checked
against; an entry that fails is read again from its run's files, and an index that fails
is ignored whole. It is written atomically, and never holds an entry whose files changed
within :data:`RACY_SECONDS` (a change in the same clock tick would keep the same key).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mnist_tui import __version__
from mnist_tui.core.config import ConfigError, TrainConfig
from mnist_tui.core.files import strict_json
from mnist_tui.core.files.atomic import atomic_write_text
from mnist_tui.core.files.bounded_io import MIB, is_plain_file, read_text_bounded
from mnist_tui.core.files.printable import printable
from mnist_tui.core.runs.annotations import (
    ANNOTATION_FILE,
    MAX_NAME,
    MAX_NOTE,
    Annotation,
    AnnotationError,
)
from mnist_tui.core.runs.record import (
    MAX_EPOCHS,
    MAX_PARAMS,
    MAX_SECONDS,
    MAX_TEXT,
    STATUSES,
    RecordError,
    RunInfo,
    SweepTrial,
    _choice,
    _float,
    _int,
    _loss,
    _object,
    _sweep,
    _text,
    _timestamp,
)

INDEX_FILE = ".runs-index.json"
INDEX_FORMAT = 1
MAX_INDEX_BYTES = 64 * MIB
"""An index larger than this is ignored unread (3,000 runs take about 2 MB)."""
MAX_INDEX_RUNS = 200_000
MAX_PROBLEM = 4000
"""Longest note on why a run's ``annotation.json`` was ignored."""
RACY_SECONDS = 2.0
"""A run whose files changed this recently is read again next time, never cached."""

FileKey = tuple[int, int, int, int, int] | None
"""A file as found: device, inode, size, mtime and ctime (ns); ``None`` when absent."""
RunKey = tuple[FileKey, FileKey]
"""A run's ``run.json`` and ``annotation.json``."""


@dataclass(frozen=True)
class RunSummary:
    """What a listing shows of a run (``runs``, ``runs --json``, finding a run by name):
    :class:`RunInfo`'s figures without its history, curves and confusion matrix."""

    run_id: str
    """The run folder's name."""
    path: Path
    config: TrainConfig
    status: str
    created: str
    epochs_done: int
    test_loss: float
    test_accuracy: float
    train_seconds: float
    param_count: int
    device: str
    annotation: Annotation = field(default_factory=Annotation)
    annotation_problem: str = ""
    sweep: SweepTrial | None = None
    steered_rate: float | None = None
    """The learning rate the user set last while it trained, or ``None``."""
    has_steps: bool = False
    """Whether it kept a per-step curve (a run stopped in its first epoch shows ``<1``)."""
    settings: str = ""
    """Its settings in short (``config.summary(steered_rate)``, kept: it costs more to
    make again than the rest of the summary to check)."""

    @classmethod
    def of(cls, run: RunInfo) -> RunSummary:
        """The summary of a run read in full."""
        return cls(
            run_id=run.run_id,
            path=run.path,
            config=run.config,
            status=run.status,
            created=run.created,
            epochs_done=run.epochs_done,
            test_loss=run.test_loss,
            test_accuracy=run.test_accuracy,
            train_seconds=run.train_seconds,
            param_count=run.param_count,
            device=run.device,
            annotation=run.annotation,
            annotation_problem=run.annotation_problem,
            sweep=run.sweep,
            steered_rate=run.steered_rate,
            has_steps=bool(run.steps),
            settings=run.summary,
        )

    @property
    def name(self) -> str:
        """The user's name for the run, or ``""``."""
        return self.annotation.name

    @property
    def label(self) -> str:
        """``name (id)``, or the id alone; printable (as :attr:`RunInfo.label`)."""
        return printable(f"{self.name} ({self.run_id})" if self.name else self.run_id, lines=False)

    @property
    def summary(self) -> str:
        """Its settings in short, a steered rate shown."""
        return self.settings or self.config.summary(self.steered_rate)

    @property
    def progress_text(self) -> str:
        """Whole epochs trained of those planned (as :attr:`RunInfo.progress_text`)."""
        done = self.epochs_done
        return f"{'<1' if not done and self.has_steps else done}/{self.config.epochs}"

    @property
    def annotation_note(self) -> str:
        """``ID: annotation.json ... (ignored)`` if the annotation was not used, else ``""``."""
        if not self.annotation_problem:
            return ""
        return f"{self.run_id}: {self.annotation_problem} (ignored)"


def config_dict(config: TrainConfig) -> dict[str, Any]:
    """``config.to_dict()``, without its deep copy (the values are numbers, text and
    tuples of numbers): a sixth of the time, which counts over thousands of runs."""
    return {
        item.name: list(value) if isinstance(value := getattr(config, item.name), tuple) else value
        for item in dataclasses.fields(config)
    }


def summary_to_dict(run: RunSummary) -> dict[str, Any]:
    """An index entry's summary (the folder's name is its key, never inside)."""
    return {
        "config": config_dict(run.config),
        "status": run.status,
        "created": run.created,
        "epochs_done": run.epochs_done,
        "test_loss": run.test_loss,
        "test_accuracy": run.test_accuracy,
        "train_seconds": run.train_seconds,
        "param_count": run.param_count,
        "device": run.device,
        "annotation": run.annotation.to_dict(),
        "annotation_problem": run.annotation_problem,
        "sweep": run.sweep.to_dict() if run.sweep is not None else None,
        "steered_rate": run.steered_rate,
        "has_steps": run.has_steps,
        "settings": run.summary,
    }


def summary_from_dict(data: Any, folder: Path) -> RunSummary:
    """An index entry's summary, checked as ``run.json``'s fields are; else :class:`RecordError`."""
    entry = _object(data, "summary")
    try:
        config = TrainConfig.from_dict(_object(entry.get("config"), "config"))
    except ConfigError as exc:
        raise RecordError(f"config: {exc}") from None
    note = _object(entry.get("annotation"), "annotation")
    tags = note.get("tags")
    if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
        raise RecordError("annotation.tags must be a list of text")
    try:
        annotation = Annotation(
            name=_string(note.get("name"), "annotation.name", MAX_NAME),
            note=_string(note.get("note"), "annotation.note", MAX_NOTE),
            tags=tuple(tags),
        )
    except AnnotationError as exc:
        raise RecordError(f"annotation: {exc}") from None
    rate = entry.get("steered_rate")
    has_steps = entry.get("has_steps")
    if not isinstance(has_steps, bool):
        raise RecordError("has_steps must be true or false")
    return RunSummary(
        run_id=folder.name,
        path=folder,
        config=config,
        status=_choice(entry.get("status"), "status", STATUSES),
        created=_timestamp(entry.get("created"), "created"),
        epochs_done=_int(entry.get("epochs_done"), "epochs_done", 0, MAX_EPOCHS),
        test_loss=_loss(entry.get("test_loss"), "test_loss"),
        test_accuracy=_float(entry.get("test_accuracy"), "test_accuracy", 0.0, 1.0),
        train_seconds=_float(entry.get("train_seconds"), "train_seconds", 0.0, MAX_SECONDS),
        param_count=_int(entry.get("param_count"), "param_count", 0, MAX_PARAMS),
        device=_text(entry.get("device"), "device"),
        annotation=annotation,
        annotation_problem=_string(
            entry.get("annotation_problem"), "annotation_problem", MAX_PROBLEM
        ),
        sweep=_sweep(entry.get("sweep")),
        steered_rate=None if rate is None else _float(rate, "steered_rate", 0.0, MAX_SECONDS),
        has_steps=has_steps,
        settings=_string(entry.get("settings"), "settings", MAX_TEXT),
    )


def _string(value: Any, where: str, limit: int) -> str:
    """Text of at most ``limit`` characters (a note is longer than ``run.json``'s texts)."""
    if not isinstance(value, str) or len(value) > limit:
        raise RecordError(f"{where} must be text of at most {limit} characters")
    return value


def file_key(path: str) -> FileKey:
    """The file at ``path`` as found now, not following a link; ``None`` when absent."""
    try:
        found = os.lstat(path)
    except FileNotFoundError:
        return None
    return (found.st_dev, found.st_ino, found.st_size, found.st_mtime_ns, found.st_ctime_ns)


def run_key(folder: Path, record: str) -> RunKey | None:
    """The key of a run's files, or ``None`` when it must be read in full: its record is
    not a plain file (the full read says why), or it changed too recently to be trusted."""
    where = os.fspath(folder)
    try:
        found = os.lstat(os.path.join(where, record))
        note = file_key(os.path.join(where, ANNOTATION_FILE))
    except OSError:
        return None
    if not stat.S_ISREG(found.st_mode):
        return None
    key = (
        (found.st_dev, found.st_ino, found.st_size, found.st_mtime_ns, found.st_ctime_ns),
        note,
    )
    recent = time.time_ns() - int(RACY_SECONDS * 1e9)
    if any(part is not None and max(part[3], part[4]) >= recent for part in key):
        return None
    return key


def _file_key(value: Any) -> FileKey:
    if value is None:
        return None
    if (
        not isinstance(value, list)
        or len(value) != 5
        or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in value)
    ):
        raise RecordError("a file key is five whole numbers")
    return (value[0], value[1], value[2], value[3], value[4])


@dataclass
class RunIndex:
    """The summaries of one runs folder's runs, by folder name, with their files' keys."""

    root: Path
    entries: dict[str, tuple[RunKey, RunSummary]] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)
    """Entries read from the file and not yet checked (each is checked when first asked)."""
    changed: bool = False

    @property
    def path(self) -> Path:
        """The index file."""
        return self.root / INDEX_FILE

    def load(self) -> None:
        """Read the index file, if it is there and sound (else start empty)."""
        self.raw = {}
        path = self.path
        if not is_plain_file(path):
            return
        try:
            data = json.loads(read_text_bounded(path, MAX_INDEX_BYTES))
        except (OSError, ValueError, RecursionError):
            return
        if (
            not isinstance(data, dict)
            or data.get("format") != INDEX_FORMAT
            or data.get("mnist_tui") != __version__
            or not isinstance(data.get("runs"), dict)
            or len(data["runs"]) > MAX_INDEX_RUNS
        ):
            return
        self.raw = data["runs"]

    def get(self, name: str, key: RunKey) -> RunSummary | None:
        """The summary of run folder ``name`` if kept for exactly these files, checked."""
        kept = self.entries.get(name)
        if kept is not None:
            return kept[1] if kept[0] == key else None
        raw = self.raw.pop(name, None)
        if not isinstance(raw, dict):
            return None
        try:
            files = raw.get("key")
            if not isinstance(files, list) or len(files) != 2:
                raise RecordError("key must hold two file keys")
            if (_file_key(files[0]), _file_key(files[1])) != key:
                return None
            summary = summary_from_dict(raw.get("summary"), self.root / name)
        except RecordError:
            return None
        self.entries[name] = (key, summary)
        return summary

    def put(self, name: str, key: RunKey, summary: RunSummary) -> None:
        """Keep a run's summary for these files."""
        self.entries[name] = (key, summary)
        self.changed = True

    def keep_only(self, names: set[str]) -> None:
        """Forget runs no longer in the folder."""
        gone = [name for name in self.entries if name not in names]
        for name in gone:
            del self.entries[name]
        self.changed = self.changed or bool(gone) or any(name not in names for name in self.raw)
        self.raw = {name: raw for name, raw in self.raw.items() if name in names}

    def save(self) -> None:
        """Write the index atomically if it changed; a folder that cannot take it is
        left alone (the next listing reads the runs again)."""
        if not self.changed:
            return
        runs = {
            name: {
                "key": [list(part) if part else None for part in key],
                "summary": summary_to_dict(summary),
            }
            for name, (key, summary) in sorted(self.entries.items())
        }
        text = strict_json.dumps(
            {"format": INDEX_FORMAT, "mnist_tui": __version__, "runs": runs}, indent=None
        )
        with contextlib.suppress(OSError, ValueError):
            if len(text) <= MAX_INDEX_BYTES and len(runs) <= MAX_INDEX_RUNS:
                atomic_write_text(self.path, text)
        self.changed = False


__all__ = ["INDEX_FILE", "RunIndex", "RunSummary", "config_dict", "run_key", "summary_from_dict"]
