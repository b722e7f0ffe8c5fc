"""The one schema of ``run.json``: what a saved run must hold, checked in one place.

A runs folder is hostile input. :func:`parse_run_record` accepts a record only when
every field the app uses has the right type and a sane range, so nothing read
from disk can crash a front end later (an ``"Infinity"`` accuracy, an integer too
large for numpy, a history row whose seconds are ``"slow"``). The run's id is its
folder's name, never an id written inside the file.
"""

from __future__ import annotations

import json
import math
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from mnist_tui.core.config import ConfigError, TrainConfig
from mnist_tui.core.errors import MnistTuiError
from mnist_tui.core.events import CONTROL_KINDS, STEP_FIELDS, ControlApplied, EpochEnd, StepPoint
from mnist_tui.core.files.printable import printable
from mnist_tui.core.runs.annotations import Annotation, AnnotationError, read_annotation

FORMAT_VERSION = 1
MAX_RECORD_BYTES = 8 << 20
"""A run.json larger than this is refused unread (1,000 epochs take about 0.2 MB, or
1.8 MB with their validation confusion matrices)."""
STATUSES = ("completed", "stopped", "early_stopped", "pruned")
"""``pruned``: a sweep's pruner ended the trial early (its history stops there)."""
MAX_EPOCHS = 1000
MAX_COUNT = 10**7
"""Upper bound of one confusion-matrix cell."""
MAX_PARAMS = 10**12
MAX_SECONDS = 10.0**8
MAX_TEXT = 500
MAX_STEPS = 20_000
"""Most points a per-step curve may hold (the engine keeps at most 10,000)."""
MAX_CONTROLS = 1000
"""Most user changes a run may record (the engine keeps at most as many)."""
MAX_STUDY_NAME = 128
"""Longest study name a run may name (and a sweep accepts)."""
MAX_TRIAL_NUMBER = 10**9


@dataclass(frozen=True)
class SweepTrial:
    """Which sweep trial a run is: its study's name and the trial's number in it."""

    study: str
    """The Optuna study's name."""
    trial: int
    """The trial's number in the study (0-based, as Optuna numbers them)."""

    def to_dict(self) -> dict[str, Any]:
        """The ``sweep`` object of ``run.json``."""
        return {"study": self.study, "trial": self.trial}

    @property
    def label(self) -> str:
        """``study #3``."""
        return f"{self.study} #{self.trial}"


def study_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a study's name (1 to 128 characters, no control
    characters or lone surrogates, not blank), or ``None``."""
    if not name.strip():
        return "a study name cannot be empty"
    if len(name) > MAX_STUDY_NAME:
        return f"a study name is at most {MAX_STUDY_NAME} characters"
    if any(unicodedata.category(char) == "Cs" for char in name):
        return "a study name must be valid text (it holds bytes that are not UTF-8)"
    if any(unicodedata.category(char).startswith("C") for char in name):
        return "a study name cannot hold control characters"
    return None


class RecordError(MnistTuiError, ValueError):
    """``run.json`` breaks the schema; the message names the field."""


@dataclass(frozen=True)
class RunInfo:
    """One saved run as read from its folder and validated ``run.json``."""

    run_id: str
    """The run folder's name: the run's key everywhere."""
    path: Path
    config: TrainConfig
    status: str
    """``completed``, ``stopped``, ``early_stopped`` or ``pruned``."""
    created: str
    """ISO-8601 UTC time the run was saved."""
    history: tuple[EpochEnd, ...]
    test_loss: float
    test_accuracy: float
    confusion: np.ndarray
    train_seconds: float
    param_count: int
    device: str
    annotation: Annotation = field(default_factory=Annotation)
    """The user's name, note and tags (``annotation.json``)."""
    annotation_problem: str = ""
    """Why ``annotation.json`` was ignored (one line naming it), or ``""``: a bad
    annotation never hides a run."""
    steps: tuple[StepPoint, ...] = ()
    """The per-step training curve (empty for runs saved before it was recorded)."""
    sweep: SweepTrial | None = None
    """The sweep trial this run was, or ``None`` for a run trained on its own."""
    controls: tuple[ControlApplied, ...] = ()
    """The user's changes during training (pause, learning rate, how it ends), in order."""
    data: dict[str, Any] = field(default_factory=dict)
    """The whole ``run.json`` as parsed (only the fields above are validated)."""

    @property
    def name(self) -> str:
        """The user's name for the run, or ``""``."""
        return self.annotation.name

    @property
    def annotation_note(self) -> str:
        """``ID: annotation.json ... (ignored)`` if the annotation was not used, else ``""``."""
        if not self.annotation_problem:
            return ""
        return f"{self.run_id}: {self.annotation_problem} (ignored)"

    @property
    def label(self) -> str:
        """How the run is named to a user: ``name (id)``, or the id alone; printable (a
        folder name's control characters read as escapes such as ``\\x1b``)."""
        return printable(f"{self.name} ({self.run_id})" if self.name else self.run_id, lines=False)

    @property
    def steered_rate(self) -> float | None:
        """The learning rate the user set last while it trained, or ``None``."""
        rates = [control.value for control in self.controls if control.kind == "learning_rate"]
        return rates[-1] if rates else None

    @property
    def summary(self) -> str:
        """Its settings in short, a steered rate shown (``mlp 128 lr=0.01→0.005``)."""
        return self.config.summary(self.steered_rate)

    @property
    def epochs_done(self) -> int:
        """Whole epochs trained."""
        return len(self.history)

    @property
    def progress_text(self) -> str:
        """Whole epochs trained of those planned, ``2/3``; ``<1/3`` for a run stopped
        within its first epoch (its model learned from the steps it took)."""
        done = self.epochs_done
        return f"{'<1' if not done and self.steps else done}/{self.config.epochs}"

    @property
    def model_path(self) -> Path:
        """The Keras model file."""
        return self.path / "model.keras"


def loads_record(text: str) -> Any:
    """Parse ``run.json`` text; ``NaN``/``Infinity`` tokens become floats for the schema
    to judge (only losses may be non-finite). Deep nesting is a :class:`RecordError`."""
    try:
        return json.loads(text, parse_constant=float)
    except RecursionError:
        raise RecordError("nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, or an integer of over 4,300 digits
        raise RecordError(f"not JSON ({_short(str(exc), 120)})") from None


def parse_run_record(data: Any, folder: Path) -> RunInfo:
    """Validate a parsed ``run.json`` and build its :class:`RunInfo`; else :class:`RecordError`."""
    record = _object(data, "the record")
    version = _int(record.get("format"), "format", 1, 10**6)
    if version > FORMAT_VERSION:
        raise RecordError(f"format {version} was written by a newer mnist-tui")
    test = _object(record.get("test"), "test")
    try:
        config = TrainConfig.from_dict(_object(record.get("config"), "config"))
    except ConfigError as exc:
        raise RecordError(f"config: {exc}") from None
    history_rows = _list(record.get("history"), "history", MAX_EPOCHS)
    try:
        annotation, annotation_problem = read_annotation(folder), ""
    except AnnotationError as exc:
        annotation, annotation_problem = Annotation(), str(exc)
    return RunInfo(
        run_id=folder.name,
        path=folder,
        config=config,
        status=_choice(record.get("status"), "status", STATUSES),
        created=_timestamp(record.get("created"), "created"),
        history=tuple(_epoch_row(row, f"history[{i}]") for i, row in enumerate(history_rows)),
        test_loss=_loss(test.get("loss"), "test.loss"),
        test_accuracy=_float(test.get("accuracy"), "test.accuracy", 0.0, 1.0),
        confusion=_confusion(test.get("confusion_matrix"), "test.confusion_matrix"),
        train_seconds=_float(record.get("train_seconds", 0.0), "train_seconds", 0.0, MAX_SECONDS),
        param_count=_int(record.get("param_count", 0), "param_count", 0, MAX_PARAMS),
        device=_text(record.get("device", ""), "device"),
        annotation=annotation,
        annotation_problem=annotation_problem,
        steps=_steps(record.get("steps")),
        sweep=_sweep(record.get("sweep")),
        controls=_controls(record.get("controls")),
        data=record,
    )


def steps_columns(steps: tuple[StepPoint, ...]) -> dict[str, list[float | int]]:
    """A per-step curve as columns, the compact form ``run.json`` keeps."""
    return {name: [getattr(point, name) for point in steps] for name in STEP_FIELDS}


def _steps(value: Any) -> tuple[StepPoint, ...]:
    if value is None:
        return ()
    columns = _object(value, "steps")
    lists = {name: _list(columns.get(name), f"steps.{name}", MAX_STEPS) for name in STEP_FIELDS}
    lengths = {len(column) for column in lists.values()}
    if len(lengths) != 1:
        raise RecordError("steps: its columns differ in length")
    ints = {"step": 10**12, "samples": 10**15, "epoch": MAX_EPOCHS}
    checked: dict[str, list[Any]] = {}
    for name, column in lists.items():
        where = f"steps.{name}"
        if name in ints:
            checked[name] = [_int(item, where, 0, ints[name]) for item in column]
        elif name == "learning_rate":
            checked[name] = [_loss(item, where) for item in column]
        elif name.startswith("accuracy"):
            checked[name] = [_float(item, where, 0.0, 1.0) for item in column]
        else:
            checked[name] = [_loss(item, where) for item in column]
    return tuple(
        StepPoint(**dict(zip(STEP_FIELDS, row, strict=True)))
        for row in zip(*(checked[name] for name in STEP_FIELDS), strict=True)
    )


def _controls(value: Any) -> tuple[ControlApplied, ...]:
    if value is None:
        return ()
    rows = _list(value, "controls", MAX_CONTROLS)
    controls = []
    for i, item in enumerate(rows):
        where = f"controls[{i}]"
        row = _object(item, where)
        unknown = sorted(set(row) - {"step", "kind", "value"})
        if unknown:
            raise RecordError(f"{where} has an unknown key {_short(repr(unknown[0]))}")
        kind = _choice(row.get("kind"), f"{where}.kind", CONTROL_KINDS)
        controls.append(
            ControlApplied(
                step=_int(row.get("step"), f"{where}.step", 0, 10**12),
                kind=next(known for known in CONTROL_KINDS if known == kind),
                value=_float(row.get("value"), f"{where}.value", 0.0, MAX_SECONDS),
            )
        )
    return tuple(controls)


def _sweep(value: Any) -> SweepTrial | None:
    if value is None:
        return None
    sweep = _object(value, "sweep")
    unknown = sorted(set(sweep) - {"study", "trial"})
    if unknown:
        raise RecordError(f"sweep has an unknown key {_short(repr(unknown[0]))}")
    study = _text(sweep.get("study"), "sweep.study")
    problem = study_name_problem(study)
    if problem is not None:
        raise RecordError(f"sweep.study: {problem}")
    return SweepTrial(
        study=study, trial=_int(sweep.get("trial"), "sweep.trial", 0, MAX_TRIAL_NUMBER)
    )


def _epoch_row(value: Any, where: str) -> EpochEnd:
    row = _object(value, where)
    return EpochEnd(
        epoch=_int(row.get("epoch"), f"{where}.epoch", 1, MAX_EPOCHS),
        loss=_loss(row.get("loss"), f"{where}.loss"),
        accuracy=_float(row.get("accuracy"), f"{where}.accuracy", 0.0, 1.0),
        val_loss=None
        if row.get("val_loss") is None
        else _loss(row.get("val_loss"), f"{where}.val_loss"),
        val_accuracy=None
        if row.get("val_accuracy") is None
        else _float(row.get("val_accuracy"), f"{where}.val_accuracy", 0.0, 1.0),
        seconds=_float(row.get("seconds"), f"{where}.seconds", 0.0, MAX_SECONDS),
        val_confusion=_val_confusion(row.get("val_confusion"), f"{where}.val_confusion"),
    )


def _val_confusion(value: Any, where: str) -> tuple[tuple[int, ...], ...] | None:
    """An epoch's validation confusion matrix (absent in runs saved before it was kept)."""
    if value is None:
        return None
    return tuple(tuple(int(count) for count in row) for row in _confusion(value, where))


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise RecordError(f"{where} must be an object, not {_kind(value)}")
    return value


def _list(value: Any, where: str, max_len: int) -> list[Any]:
    if not isinstance(value, list):
        raise RecordError(f"{where} must be a list, not {_kind(value)}")
    if len(value) > max_len:
        raise RecordError(f"{where} has {len(value):,} entries, more than {max_len:,}")
    return value


def _int(value: Any, where: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise RecordError(f"{where} must be a whole number, not {_kind(value)}")
    if not low <= value <= high:
        raise RecordError(f"{where} must be between {low} and {high}, got {_digits(value)}")
    return value


def _float(value: Any, where: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RecordError(f"{where} must be a number, not {_kind(value)}")
    number = _as_float(value, where)
    if not math.isfinite(number) or not low <= number <= high:
        raise RecordError(
            f"{where} must be a finite number between {low:g} and {high:g}, got {_digits(value)}"
        )
    return number


def _loss(value: Any, where: str) -> float:
    """A loss: a number >= 0, or ``null``/``NaN``/``Infinity`` for a diverged run."""
    if value is None:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RecordError(f"{where} must be a number or null, not {_kind(value)}")
    number = _as_float(value, where)
    if number < 0:
        raise RecordError(f"{where} must not be negative, got {_digits(value)}")
    return number


def _as_float(value: int | float, where: str) -> float:
    try:
        return float(value)
    except OverflowError:
        raise RecordError(f"{where} is out of range, got {_digits(value)}") from None


def _choice(value: Any, where: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise RecordError(f"{where} must be one of {', '.join(choices)}, got {_short(repr(value))}")
    return str(value)


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise RecordError(f"{where} must be text, not {_kind(value)}")
    if len(value) > MAX_TEXT:
        raise RecordError(f"{where} is longer than {MAX_TEXT} characters")
    return value


def _timestamp(value: Any, where: str) -> str:
    text = _text(value, where)
    try:
        datetime.fromisoformat(text)
    except ValueError:
        raise RecordError(f"{where} is not an ISO-8601 time: {_short(repr(text))}") from None
    return text


def _confusion(value: Any, where: str) -> np.ndarray:
    rows = _list(value, where, 10)
    if len(rows) != 10:
        raise RecordError(f"{where} must be 10x10")
    cells = [[_int(cell, where, 0, MAX_COUNT) for cell in _list(row, where, 10)] for row in rows]
    if any(len(row) != 10 for row in cells):
        raise RecordError(f"{where} must be 10x10")
    return np.asarray(cells, dtype=np.int64)


def _kind(value: Any) -> str:
    return {
        type(None): "null",
        bool: "true/false",
        str: "text",
        list: "a list",
        dict: "an object",
        int: "a number",
        float: "a number",
    }.get(type(value), type(value).__name__)


def _digits(value: Any) -> str:
    """A number as it was written: ``1180591620717411303424``, not ``1.18e+21``."""
    text = str(value) if isinstance(value, int) else repr(float(value))
    return _short(text)


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
