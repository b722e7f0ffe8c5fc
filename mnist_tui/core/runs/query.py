"""Finding runs: sort by a column, filter by text. Both front ends use these."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any, Protocol, TypeVar

from mnist_tui.core.config import FIELDS, TrainConfig, format_field
from mnist_tui.core.runs.annotations import Annotation
from mnist_tui.core.runs.record import SweepTrial


class Listed(Protocol):
    """What sorting and filtering look at: a full run (``RunInfo``) or its summary
    (``RunSummary``) alike."""

    @property
    def run_id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def created(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def config(self) -> TrainConfig: ...
    @property
    def annotation(self) -> Annotation: ...
    @property
    def sweep(self) -> SweepTrial | None: ...
    @property
    def device(self) -> str: ...
    @property
    def test_accuracy(self) -> float: ...
    @property
    def test_loss(self) -> float: ...
    @property
    def train_seconds(self) -> float: ...
    @property
    def param_count(self) -> int: ...
    @property
    def epochs_done(self) -> int: ...


Run = TypeVar("Run", bound=Listed)

SORT_KEYS: dict[str, tuple[Callable[[Listed], Any], bool]] = {
    "date": (lambda run: (run.created, run.run_id), True),
    "acc": (lambda run: run.test_accuracy, True),
    "loss": (lambda run: (math.isnan(run.test_loss), run.test_loss), False),
    "duration": (lambda run: run.train_seconds, False),
    "params": (lambda run: run.param_count, False),
    "epochs": (lambda run: run.epochs_done, True),
    "name": (lambda run: (not run.name, run.name.lower(), run.run_id), False),
    "id": (lambda run: run.run_id, False),
}
"""Each sort key: what to compare, and whether its natural order is largest first
(the best accuracy, the newest date; the lowest loss, the quickest run)."""


def sort_runs(runs: Iterable[Run], key: str = "date", reverse: bool = False) -> list[Run]:
    """Runs in ``key``'s natural order (``reverse`` flips it). Ties keep the newest first."""
    value, descending = SORT_KEYS[key]
    by_date = sorted(runs, key=SORT_KEYS["date"][0], reverse=True)
    return sorted(by_date, key=value, reverse=descending != reverse)


def search_text(run: Listed) -> str:
    """Everything a filter looks in: id, name, note, tags, status, settings and, for a
    sweep trial, its study (``study=NAME NAME #3``)."""
    parts = [
        run.run_id,
        run.name,
        run.annotation.note,
        " ".join(run.annotation.tags),
        run.status.replace("_", " "),
        run.config.summary(),
        run.device,
    ]
    parts += [f"{name}={format_field(name, getattr(run.config, name))}" for name in FIELDS]
    if run.sweep is not None:
        parts += [f"study={run.sweep.study}", run.sweep.label]
    return " ".join(parts).lower()


def filter_runs(runs: Iterable[Run], text: str, study: str | None = None) -> list[Run]:
    """The runs whose :func:`search_text` holds every word of ``text`` (any case) and,
    given a ``study``, that are trials of the study of exactly that name."""
    words = text.lower().split()
    return [
        run
        for run in runs
        if all(word in search_text(run) for word in words)
        and (study is None or (run.sweep is not None and run.sweep.study == study))
    ]
