"""Where sweeps live: an Optuna study storage, and the studies and trials read from it.

The default is an SQLite file in the runs folder (:data:`STORAGE_FILE`); any URL
Optuna's relational storage accepts works too (``postgresql://user@host/db`` for many
machines). Heartbeats are on for every worker, so a trial whose worker died is marked
failed. Whatever is read back is checked like a file from disk: a study or trial
written by another tool, or by hand, gives typed values in range or is left out, and
never crashes a front end. :class:`SweepStorage` is cheap to poll (a front end may read a
study once a second through one instance).
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from mnist_tui.core.config import ConfigError
from mnist_tui.core.run_record import MAX_EPOCHS, study_name_problem
from mnist_tui.core.sweep_space import SearchSpace

STORAGE_FILE = "sweeps.db"
"""The embedded storage's file in the runs folder."""
SETTINGS_ATTR = "mnist_tui"
"""The study attribute holding the sweep's settings (its space and pruner)."""
SETTINGS_FORMAT = 1
PRUNERS = ("median", "hyperband", "none")
DEFAULT_HEARTBEAT = 10
"""Seconds between a worker's heartbeats for its running trial."""
GRACE_HEARTBEATS = 3
"""A running trial silent for this many heartbeats is marked failed by the next worker
that asks for a trial."""
CONNECT_TIMEOUT = 10
"""Seconds to wait for a database server before giving up."""
SQLITE_BUSY_TIMEOUT = 60
"""Seconds a worker waits for another worker's write to the SQLite file."""
OPEN_ATTEMPTS = 5
"""Tries to open a storage whose tables another worker is creating at the same moment."""
MAX_TEXT = 200
MAX_PARAMS = 64
_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,199}$")

TrialState = Literal["running", "complete", "pruned", "stopped", "failed", "waiting"]
STATES: tuple[TrialState, ...] = ("running", "complete", "pruned", "stopped", "failed",
                                  "waiting")


class SweepError(Exception):
    """The study storage cannot be reached or used, or a study is missing or unreadable:
    one line for the user."""


def default_storage_url(runs_dir: Path) -> str:
    """``sqlite:////abs/runs/sweeps.db``: the study file inside the runs folder."""
    return f"sqlite:///{(runs_dir / STORAGE_FILE).absolute()}"


def display_url(url: str) -> str:
    """The URL with any password hidden, fit to print."""
    try:
        from sqlalchemy.engine import make_url

        return str(make_url(url).render_as_string(hide_password=True))
    except Exception:
        return re.sub(r"//([^:/@]*):[^@/]*@", r"//\1:***@", url)


def sqlite_file(url: str) -> Path | None:
    """The file of a ``sqlite:///`` URL, or ``None`` for any other storage."""
    if not url.startswith("sqlite:///"):
        return None
    path = url[len("sqlite:///"):].split("?", 1)[0]
    return Path(path) if path and path != ":memory:" else None


@dataclass(frozen=True)
class SweepSettings:
    """What a study searches and how it prunes, kept in the study so that every worker,
    on any machine, and a later resume, run the same sweep."""

    space: SearchSpace
    pruner: str = "median"
    """``median`` (Optuna's MedianPruner), ``hyperband`` or ``none``."""

    def to_dict(self) -> dict[str, Any]:
        """The study attribute's value."""
        return {"format": SETTINGS_FORMAT, "space": self.space.texts(), "pruner": self.pruner}

    @classmethod
    def from_dict(cls, value: Any) -> SweepSettings:
        """Parse a study attribute; :class:`SweepError` says what is wrong."""
        if not isinstance(value, dict):
            raise SweepError("it has no mnist-tui sweep settings (a study of another tool?)")
        if value.get("format") != SETTINGS_FORMAT:
            raise SweepError(f"its settings format {_short(repr(value.get('format')))} is not "
                             f"{SETTINGS_FORMAT}")
        space = value.get("space")
        if not isinstance(space, dict) or len(space) > 64:
            raise SweepError("its search space is not an object of field specs")
        try:
            parsed = SearchSpace.from_texts(space)
        except ConfigError as exc:
            raise SweepError(f"its search space is invalid: {_short(str(exc), 300)}") from None
        pruner = value.get("pruner")
        if pruner not in PRUNERS:
            raise SweepError(f"its pruner {_short(repr(pruner))} is not one of "
                             f"{', '.join(PRUNERS)}")
        return cls(space=parsed, pruner=str(pruner))


@dataclass(frozen=True)
class TrialView:
    """One trial as read from the storage, checked."""

    number: int
    state: TrialState
    params: tuple[tuple[str, str], ...]
    """The searched fields' values, as text, in the order Optuna drew them."""
    val_curve: tuple[float, ...]
    """Validation accuracy after each epoch reported (a pruned trial's stops early)."""
    val_accuracy: float | None
    """The trial's result: the validation accuracy of the model it kept."""
    test_accuracy: float | None
    """The saved run's test accuracy (reported, never used to choose)."""
    run_id: str | None
    """The saved run's folder name in its runs folder."""
    seconds: float | None
    """Wall time of the trial (so far, while running)."""
    worker: str
    """``host:pid`` of the worker that ran it."""
    started: datetime | None


@dataclass(frozen=True)
class StudyView:
    """A study and its trials, as read from the storage."""

    name: str
    settings: SweepSettings | None
    """``None`` for a study that is not an mnist-tui sweep (or whose settings are bad)."""
    problem: str
    """Why ``settings`` is ``None`` (empty otherwise)."""
    trials: tuple[TrialView, ...]

    def count(self, state: TrialState) -> int:
        """Trials in ``state``."""
        return sum(trial.state == state for trial in self.trials)

    @property
    def best(self) -> TrialView | None:
        """The complete trial with the highest validation accuracy (the earliest of ties)."""
        done = [t for t in self.trials if t.state == "complete" and t.val_accuracy is not None]
        return max(done, key=lambda t: (t.val_accuracy or 0.0, -t.number), default=None)

    @property
    def started(self) -> datetime | None:
        """When its first trial started."""
        return min((t.started for t in self.trials if t.started is not None), default=None)


LostTrial = Callable[[int, str], None]
"""Told a trial's number and worker when its heartbeats stopped and it was marked failed."""


class SweepStorage:
    """One Optuna storage, opened once: create, read and list studies.

    Raises :class:`SweepError` (one line, the password hidden) when it cannot be opened.
    ``heartbeat`` (seconds) turns on Optuna's heartbeat for the trials run through it;
    ``on_lost`` hears of trials it marks failed because their worker went silent.
    """

    def __init__(self, url: str, *, heartbeat: int | None = None,
                 on_lost: LostTrial | None = None, create: bool = True) -> None:
        import optuna
        from optuna.exceptions import ExperimentalWarning

        self.url = url
        self.display = display_url(url)
        self._on_lost = on_lost
        file = sqlite_file(url)
        kwargs: dict[str, Any] = {}
        if file is not None:
            _check_sqlite_file(file, create)
            kwargs = {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT}}
        elif url.startswith("postgresql"):
            kwargs = {"connect_args": {"connect_timeout": CONNECT_TIMEOUT},
                      "pool_pre_ping": True}
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        for attempt in range(1, OPEN_ATTEMPTS + 1):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ExperimentalWarning)
                    warnings.simplefilter("ignore", FutureWarning)
                    self.optuna = optuna.storages.RDBStorage(
                        url, engine_kwargs=kwargs, heartbeat_interval=heartbeat,
                        grace_period=None if heartbeat is None else GRACE_HEARTBEATS * heartbeat,
                        heartbeat_stale_trial_callback=None if heartbeat is None else self._lost)
                break
            except Exception as exc:
                if attempt < OPEN_ATTEMPTS and _schema_race(exc):
                    time.sleep(0.2 * attempt)  # another worker is creating the tables
                    continue
                raise SweepError(f"cannot open the study storage {self.display}: "
                                 f"{storage_reason(exc)}") from None

    def _lost(self, _study: Any, trial: Any) -> None:
        if self._on_lost is not None:
            worker = trial.user_attrs.get("worker")
            self._on_lost(int(trial.number), _text(worker) or "?")

    def close(self) -> None:
        """Release the database connections."""
        with contextlib.suppress(Exception):
            self.optuna.engine.dispose()

    def __enter__(self) -> SweepStorage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _reading(self) -> Iterator[None]:
        try:
            yield
        except SweepError:
            raise
        except Exception as exc:
            raise SweepError(f"cannot read the study storage {self.display}: "
                             f"{storage_reason(exc)}") from None

    def names(self) -> list[str]:
        """The names of the studies kept here, oldest first."""
        with self._reading():
            return [study.study_name for study in self.optuna.get_all_studies()]

    def study_id(self, name: str) -> int | None:
        """The storage's id of study ``name``, or ``None`` if there is none."""
        import optuna

        with self._reading():
            try:
                return int(self.optuna.get_study_id_from_name(name))
            except KeyError:
                return None
            except optuna.exceptions.StorageInternalError:
                return None

    def create(self, name: str, settings: SweepSettings) -> None:
        """Create study ``name`` (maximising validation accuracy) with ``settings``;
        :class:`SweepError` if it exists already."""
        import optuna

        with self._reading():
            try:
                study_id = self.optuna.create_new_study(
                    [optuna.study.StudyDirection.MAXIMIZE], name)
            except optuna.exceptions.DuplicatedStudyError:
                raise SweepError(f"a study named {name!r} exists already in "
                                 f"{self.display}") from None
            self.optuna.set_study_user_attr(study_id, SETTINGS_ATTR, settings.to_dict())

    def settings(self, name: str) -> SweepSettings:
        """Study ``name``'s settings; :class:`SweepError` if missing or unreadable."""
        study_id = self._require(name)
        with self._reading():
            attrs = self.optuna.get_study_user_attrs(study_id)
        try:
            return SweepSettings.from_dict(attrs.get(SETTINGS_ATTR))
        except SweepError as exc:
            raise SweepError(f"study {name!r} cannot be run here: {exc}") from None

    def _require(self, name: str) -> int:
        study_id = self.study_id(name)
        if study_id is None:
            raise SweepError(f"no study {name!r} in {self.display}")
        return study_id

    def study(self, name: str) -> StudyView:
        """Study ``name`` and its trials; :class:`SweepError` if there is none."""
        study_id = self._require(name)
        with self._reading():
            attrs = self.optuna.get_study_user_attrs(study_id)
            trials = self.optuna.get_all_trials(study_id, deepcopy=False)
        settings: SweepSettings | None = None
        problem = ""
        try:
            settings = SweepSettings.from_dict(attrs.get(SETTINGS_ATTR))
        except SweepError as exc:
            problem = str(exc)
        now = datetime.now()
        views = tuple(view for trial in trials
                      if (view := _trial_view(trial, now)) is not None)
        return StudyView(name=name, settings=settings, problem=problem, trials=views)

    def studies(self) -> list[StudyView]:
        """Every study here with its trials, oldest first."""
        return [self.study(name) for name in self.names()]


def _check_sqlite_file(file: Path, create: bool) -> None:
    if file.is_symlink() or (file.exists() and not file.is_file()):
        raise SweepError(f"{file} is not a plain file (a link, folder, FIFO or device): "
                         "not opened")
    if not file.exists():
        if not create:
            raise SweepError(f"no sweeps yet: {file} does not exist")
        try:
            file.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SweepError(f"cannot create {file.parent}: {exc.strerror or exc}") from None
    elif not os.access(file, os.R_OK):
        raise SweepError(f"cannot read {file}: permission denied")


def _schema_race(exc: BaseException) -> bool:
    """Whether opening failed because another process created the same tables first."""
    from sqlalchemy.exc import IntegrityError, ProgrammingError

    return isinstance(exc, (IntegrityError, ProgrammingError)) or (
        "already exists" in str(exc) or "duplicate key" in str(exc))


def storage_reason(exc: BaseException) -> str:
    """The first line of what went wrong, without the library's own prefixes."""
    inner = getattr(exc, "orig", None) or exc
    lines = [line.strip() for line in str(inner).strip().splitlines() if line.strip()]
    text = lines[0] if lines else type(inner).__name__
    text = re.sub(r"^\([\w.]+\)\s*", "", text)
    return _short(text, 300)


_OPTUNA_STATES: dict[str, TrialState] = {"RUNNING": "running", "COMPLETE": "complete",
                                         "PRUNED": "pruned", "FAIL": "failed",
                                         "WAITING": "waiting"}


def _trial_view(trial: Any, now: datetime) -> TrialView | None:
    """A frozen Optuna trial as a checked :class:`TrialView`; ``None`` if it is unusable."""
    number = trial.number
    if isinstance(number, bool) or not isinstance(number, int) or not 0 <= number <= 10**9:
        return None
    attrs = trial.user_attrs if isinstance(trial.user_attrs, dict) else {}
    state: TrialState = _OPTUNA_STATES.get(trial.state.name, "failed")
    if state == "failed" and attrs.get("stopped") is True:
        state = "stopped"
    params = tuple((str(name)[:MAX_TEXT], _param_text(value))
                   for name, value in list(trial.params.items())[:MAX_PARAMS])
    curve = [(step, value) for step, value in trial.intermediate_values.items()
             if isinstance(step, int) and _unit(value) is not None]
    val_curve = tuple(float(value) for _step, value in sorted(curve)[:MAX_EPOCHS])
    value = _unit(trial.value) if state == "complete" else None
    run_id = attrs.get("run_id")
    started = trial.datetime_start if isinstance(trial.datetime_start, datetime) else None
    ended = trial.datetime_complete if isinstance(trial.datetime_complete, datetime) else None
    seconds = _seconds(attrs.get("seconds"))
    if seconds is None and started is not None:
        seconds = max(0.0, ((ended or now) - started).total_seconds())
    return TrialView(
        number=number, state=state, params=params, val_curve=val_curve, val_accuracy=value,
        test_accuracy=_unit(attrs.get("test_accuracy")),
        run_id=run_id if isinstance(run_id, str) and _RUN_ID.match(run_id) else None,
        seconds=seconds, worker=_text(attrs.get("worker")), started=started)


def _unit(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value)
    return number if math.isfinite(number) and 0.0 <= number <= 1.0 else None


def _seconds(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value)
    return number if math.isfinite(number) and 0.0 <= number <= 1e8 else None


def _text(value: Any) -> str:
    return _short(value, MAX_TEXT) if isinstance(value, str) else ""


def _param_text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return _short(str(value), MAX_TEXT)


def _short(text: str, limit: int = 60) -> str:
    text = "".join(char if char.isprintable() else "?" for char in text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def check_study_name(name: str) -> str:
    """``name`` if it can name a study; else :class:`SweepError` says why."""
    problem = study_name_problem(name)
    if problem is not None:
        raise SweepError(problem)
    return name


def new_study_name(architecture: str, now: datetime | None = None) -> str:
    """``mlp-20261124-013501``: a fresh study's default name."""
    return f"{architecture}-{(now or datetime.now()).strftime('%Y%m%d-%H%M%S')}"
