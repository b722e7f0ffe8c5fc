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
import dataclasses
import math
import os
import re
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote

from mnist_tui.core.config import ConfigError
from mnist_tui.core.errors import MnistTuiError
from mnist_tui.core.runs.record import MAX_EPOCHS, study_name_problem
from mnist_tui.core.sweeps.space import SearchSpace

STORAGE_FILE = "sweeps.db"
"""The embedded storage's file in the runs folder."""
SETTINGS_ATTR = "mnist_tui"
"""The study attribute holding the sweep's settings (its space and pruner)."""
SETTINGS_FORMAT = 1
SETTINGS_WAIT = 5.0
"""Seconds to wait for a new study's settings (written just after the study is created)."""
PRUNERS = ("median", "hyperband", "none")
DEFAULT_HEARTBEAT = 10
"""Seconds between a worker's heartbeats for its running trial."""
MAX_HEARTBEAT = 3600
GRACE_HEARTBEATS = 3
"""A running trial silent for this many heartbeats is marked failed by the next worker
that asks for a trial."""
CONNECT_TIMEOUT = 10
"""Seconds to wait for a database server before giving up."""
SQLITE_BUSY_TIMEOUT = 60
"""Seconds a worker waits for another worker's write to the SQLite file."""
RETRY_SECONDS = 120.0
"""How long a storage call that meets a passing fault (a locked SQLite file, a database
server restarting) is tried again before it fails."""
RETRY_FIRST_DELAY = 0.25
RETRY_MAX_DELAY = 8.0
"""Seconds between tries of a failing storage call: doubling from the first to the most."""
OPEN_ATTEMPTS = 5
"""Tries to open a storage whose tables another worker is creating at the same moment."""
MAX_TEXT = 200
MAX_PARAMS = 64
_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,199}$")

TrialState = Literal["running", "complete", "pruned", "stopped", "failed", "waiting"]
STATES: tuple[TrialState, ...] = ("running", "complete", "pruned", "stopped", "failed", "waiting")


class SweepError(MnistTuiError):
    """The study storage cannot be reached or used, or a study is missing or unreadable:
    one line for the user."""


def default_storage_url(runs_dir: Path) -> str:
    """``sqlite:////abs/runs/sweeps.db``: the study file inside the runs folder."""
    return f"sqlite:///{(runs_dir / STORAGE_FILE).absolute()}"


_SECRET_NAME = re.compile(r"pass|pwd|secret|token|credential", re.IGNORECASE)
"""Query parameters whose values are hidden (``password``, ``sslpassword``, ``passfile``...)."""
_HIDDEN = "***"


@dataclass(frozen=True)
class _UrlParts:
    """A storage URL cut where its secrets are: ``head``, ``user[:password]@``, ``host``
    (with the path), ``?query``. The userinfo ends at the last ``@`` before the query,
    so a password may hold ``@``, ``:`` or ``/`` unencoded."""

    head: str
    user: str | None
    password: str | None
    host: str
    query: tuple[tuple[str, str | None], ...]


def _split_url(url: str) -> _UrlParts:
    head, sep, body = url.partition("://")
    if sep:
        head += sep
    else:
        head, body = "", url
    query_at = body.find("?")
    at = body.rfind("@", 0, len(body) if query_at < 0 else query_at)
    if at < 0 and query_at >= 0 and "/" not in body[:query_at]:
        at = body.rfind("@")  # no path before the '?': it is in the password
    user: str | None = None
    password: str | None = None
    if at >= 0:
        user, colon, secret = body[:at].partition(":")
        password = secret if colon else None
        body = body[at + 1 :]
    host, mark, query = body.partition("?")
    params = (
        tuple(
            (name, value if eq else None)
            for name, eq, value in (part.partition("=") for part in query.split("&"))
        )
        if mark
        else ()
    )
    return _UrlParts(head, user, password, host, params)


def _join_url(parts: _UrlParts, value: Callable[[str, str], str]) -> str:
    userinfo = (
        ""
        if parts.user is None
        else (parts.user + ("" if parts.password is None else f":{parts.password}") + "@")
    )
    query = "&".join(
        name if item is None else f"{name}={value(name, item)}" for name, item in parts.query
    )
    return f"{parts.head}{userinfo}{parts.host}" + (f"?{query}" if parts.query else "")


def display_url(url: str) -> str:
    """``url`` fit to show: its password, in the userinfo or in a query parameter
    (``password``, ``sslpassword``, ``passfile``...), replaced by ``***``."""
    parts = _split_url(url)
    if parts.password is not None:
        parts = dataclasses.replace(parts, password=_HIDDEN)
    return _join_url(parts, lambda name, item: _HIDDEN if _SECRET_NAME.search(name) else item)


def redact(text: str, url: str) -> str:
    """``text`` (a database's error message, say) with the secrets of ``url`` hidden."""
    parts = _split_url(url)
    text = text.replace(url, display_url(url))
    secrets = [value for name, value in parts.query if value and _SECRET_NAME.search(name)]
    if parts.password:
        secrets.append(parts.password)
    for secret in sorted(
        {form for value in secrets for form in (value, unquote(value))}, key=len, reverse=True
    ):
        text = (
            text.replace(secret, _HIDDEN)
            if len(secret) >= 4
            else re.sub(rf"(?<!\w){re.escape(secret)}(?!\w)", _HIDDEN, text)
        )
    return text


def connect_url(url: str) -> str:
    """``url`` as the database driver reads it: an ``@`` in the user name or password
    percent-encoded (the driver would take the first ``@`` for the one before the host)."""
    parts = _split_url(url)
    if parts.user is None or "@" not in parts.user + (parts.password or ""):
        return url
    return _join_url(
        dataclasses.replace(
            parts,
            user=parts.user.replace("@", "%40"),
            password=None if parts.password is None else parts.password.replace("@", "%40"),
        ),
        lambda _name, item: item,
    )


def sqlite_file(url: str) -> Path | None:
    """The file of a ``sqlite:///`` URL (``sqlite:///file:PATH?...&uri=true`` too), or
    ``None`` for any other storage."""
    if not url.startswith("sqlite:///"):
        return None
    path, _mark, query = url[len("sqlite:///") :].partition("?")
    if path.startswith("file:") and re.search(r"(^|&)uri=true(&|$)", query, re.IGNORECASE):
        path = unquote(path[len("file:") :])
    return Path(path) if path and path != ":memory:" else None


def _read_only(url: str) -> bool:
    return re.search(r"[?&]mode=ro(&|$)", url) is not None


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
            raise SweepError(
                f"its settings format {_short(repr(value.get('format')))} is not {SETTINGS_FORMAT}"
            )
        space = value.get("space")
        if not isinstance(space, dict) or len(space) > 64:
            raise SweepError("its search space is not an object of field specs")
        try:
            parsed = SearchSpace.from_texts(space)
        except ConfigError as exc:
            raise SweepError(f"its search space is invalid: {_short(str(exc), 300)}") from None
        pruner = value.get("pruner")
        if pruner not in PRUNERS:
            raise SweepError(
                f"its pruner {_short(repr(pruner))} is not one of {', '.join(PRUNERS)}"
            )
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

    @property
    def last_started(self) -> datetime | None:
        """When its newest trial started."""
        return max((t.started for t in self.trials if t.started is not None), default=None)


LATEST = "latest"
"""The name that stands for the study that ran last (unless a study has that name)."""


def newest_first(studies: list[StudyView]) -> list[StudyView]:
    """``studies`` as :meth:`SweepStorage.studies` lists them (oldest first), the one
    whose newest trial started last first; those without a trial after them, the one
    created last first."""
    order = {id(study): index for index, study in enumerate(studies)}
    return sorted(
        studies,
        reverse=True,
        key=lambda study: (_seconds_since_epoch(study.last_started), order[id(study)]),
    )


def _seconds_since_epoch(when: datetime | None) -> float:
    """``when`` as a number to sort by (``-inf`` for none, or one out of range)."""
    try:
        return when.timestamp() if when is not None else -math.inf
    except (OverflowError, OSError, ValueError):
        return -math.inf


LostTrial = Callable[[int, str], None]
"""Told a trial's number and worker when its heartbeats stopped and it was marked failed."""

_RETRIED = (
    "create_new_study",
    "delete_study",
    "set_study_user_attr",
    "set_study_system_attr",
    "get_study_id_from_name",
    "get_study_name_from_id",
    "get_study_directions",
    "get_study_user_attrs",
    "get_study_system_attrs",
    "get_all_studies",
    "create_new_trial",
    "_create_new_trial",
    "set_trial_param",
    "_set_trial_param",
    "get_trial_param",
    "set_trial_state_values",
    "set_trial_intermediate_value",
    "set_trial_user_attr",
    "set_trial_system_attr",
    "get_trial_id_from_study_id_trial_number",
    "get_trial",
    "get_all_trials",
    "_get_trials",
    "get_best_trial",
    "_get_best_trial_id",
    "_get_stale_trial_ids",
)
"""The relational storage's calls that reach the database, each retried as a whole."""
_PATIENT_CLASS: list[type[Any]] = []


def _patient_class() -> type[Any]:
    """Optuna's ``RDBStorage``, with every database call retried through a fault (see
    :meth:`SweepStorage.patiently`), heartbeats that never raise, and no trial judged
    stale by a worker that itself just lost the storage."""
    if _PATIENT_CLASS:
        return _PATIENT_CLASS[0]
    import optuna

    base = optuna.storages.RDBStorage

    def retried(name: str) -> Callable[..., Any]:
        call = getattr(base, name)

        def method(self: Any, *args: Any, **kwargs: Any) -> Any:
            return self.owner.patiently(call, self, *args, **kwargs)

        method.__name__ = name
        method.__doc__ = call.__doc__
        return method

    def record_heartbeat(self: Any, trial_id: int) -> None:
        try:  # once: the next heartbeat is the retry
            base.record_heartbeat(self, trial_id)
        except Exception as exc:
            if not self.owner.transient(exc):
                raise
            self.owner.last_fault = time.monotonic()

    def _get_stale_trial_ids(self: Any, study_id: int) -> list[int]:
        # Others' heartbeats are late too while the storage was out of reach.
        if time.monotonic() - self.owner.last_fault < (self.grace_period or 0):
            return []
        stale: list[int] = self.owner.patiently(base._get_stale_trial_ids, self, study_id)
        return stale

    def __init__(self: Any, owner: SweepStorage, *args: Any, **kwargs: Any) -> None:
        self.owner = owner
        base.__init__(self, *args, **kwargs)

    namespace: dict[str, Any] = {name: retried(name) for name in _RETRIED}
    namespace.update(
        __init__=__init__,
        record_heartbeat=record_heartbeat,
        _get_stale_trial_ids=_get_stale_trial_ids,
    )
    _PATIENT_CLASS.append(type("PatientRDBStorage", (base,), namespace))
    return _PATIENT_CLASS[0]


class StudyExists(SweepError):
    """A study of that name is in the storage already."""


class SweepStorage:
    """One Optuna storage, opened once: create, read and list studies.

    Raises :class:`SweepError` (one line, the password hidden) when it cannot be opened.
    Once open, a call that meets a passing fault (a locked SQLite file, a database
    server restarting) is tried again for up to :data:`RETRY_SECONDS` before it fails.
    ``heartbeat`` (seconds) turns on Optuna's heartbeat for the trials run through it;
    ``on_lost`` hears of trials it marks failed because their worker went silent.
    """

    def __init__(
        self,
        url: str,
        *,
        heartbeat: int | None = None,
        on_lost: LostTrial | None = None,
        create: bool = True,
    ) -> None:
        import optuna
        from optuna.exceptions import ExperimentalWarning

        self.url = url
        self.display = display_url(url)
        self.last_fault = -math.inf
        """``time.monotonic()`` when a call last met a passing fault."""
        self._on_lost = on_lost
        self._local = threading.local()
        self._lock = threading.Lock()
        self._waiter = False
        file = sqlite_file(url)
        self._sqlite = file is not None or url.startswith("sqlite")
        kwargs: dict[str, Any] = {}
        if file is not None:
            _check_sqlite_file(file, create and not _read_only(url))
            kwargs = {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT}}
        elif url.startswith("postgresql"):
            kwargs = {"connect_args": {"connect_timeout": CONNECT_TIMEOUT}, "pool_pre_ping": True}
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        patient = _patient_class()
        for attempt in range(1, OPEN_ATTEMPTS + 1):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ExperimentalWarning)
                    warnings.simplefilter("ignore", FutureWarning)
                    self.optuna = patient(
                        self,
                        connect_url(url),
                        engine_kwargs=kwargs,
                        heartbeat_interval=heartbeat,
                        grace_period=None if heartbeat is None else GRACE_HEARTBEATS * heartbeat,
                        heartbeat_stale_trial_callback=None if heartbeat is None else self._lost,
                    )
                break
            except Exception as exc:
                if attempt < OPEN_ATTEMPTS and _schema_race(exc):
                    time.sleep(0.2 * attempt)  # another worker is creating the tables
                    continue
                raise SweepError(
                    f"cannot open the study storage {self.display}: {self.reason(exc)}"
                ) from None

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

    # --- faults ------------------------------------------------------------------------

    def reason(self, exc: BaseException) -> str:
        """What went wrong, in one line, without this storage's secrets."""
        return _short(redact(storage_reason(exc), self.url), 300)

    def transient(self, exc: BaseException) -> bool:
        """Whether ``exc`` is a fault that passes: a locked SQLite file, a database
        server out of reach or restarting (not a refused login or a read-only file)."""
        return transient_fault(exc, sqlite=self._sqlite)

    def patiently(self, call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``call(*args, **kwargs)``, tried again after a passing fault, waiting longer
        each time (up to :data:`RETRY_MAX_DELAY`), until it has failed for
        :data:`RETRY_SECONDS`; then its error is raised. Calls made inside it are tried
        once each (it retries them as a whole); so are calls inside :meth:`hurried`, and
        other threads' calls while one waits out a fault (pollers do not pile up)."""
        if getattr(self._local, "busy", False):
            return call(*args, **kwargs)
        self._local.busy = True
        waiting = False
        try:
            deadline: float | None = None
            delay = RETRY_FIRST_DELAY
            while True:
                try:
                    return call(*args, **kwargs)
                except Exception as exc:
                    if not self.transient(exc) or getattr(self._local, "hurried", False):
                        raise
                    now = self.last_fault = time.monotonic()
                    if not waiting:  # one thread waits out a fault; others fail at once
                        with self._lock:
                            if self._waiter:
                                raise
                            self._waiter = waiting = True
                    deadline = deadline or now + RETRY_SECONDS
                    if now >= deadline:
                        raise
                    time.sleep(min(delay, deadline - now))
                    delay = min(2 * delay, RETRY_MAX_DELAY)
        finally:
            self._local.busy = False
            if waiting:
                self._waiter = False

    @contextlib.contextmanager
    def hurried(self) -> Iterator[None]:
        """Inside the block, this thread's calls are tried once (no waiting on faults)."""
        before = getattr(self._local, "hurried", False)
        self._local.hurried = True
        try:
            yield
        finally:
            self._local.hurried = before

    @contextlib.contextmanager
    def using(self, doing: str = "read", *, only_storage_errors: bool = False) -> Iterator[None]:
        """Turn an error inside the block (a storage's error only, with
        ``only_storage_errors``) into a :class:`SweepError`: ``cannot {doing} the study
        storage URL: reason``."""
        try:
            yield
        except SweepError:
            raise
        except Exception as exc:
            if only_storage_errors and not is_storage_error(exc):
                raise
            raise SweepError(
                f"cannot {doing} the study storage {self.display}: {self.reason(exc)}"
            ) from None

    # --- studies -----------------------------------------------------------------------

    def names(self) -> list[str]:
        """The names of the studies kept here, oldest first."""
        with self.using():
            return [study.study_name for study in self.optuna.get_all_studies()]

    def fail_running(self, name: str, worker: str) -> list[int]:
        """Mark failed the trials of study ``name`` still running under ``worker``
        (``host:pid``, a worker known to have died), at once rather than when their
        heartbeats are missed; their numbers. A trial that ended meanwhile is left be."""
        import optuna
        from optuna.exceptions import UpdateFinishedTrialError

        study_id = self.study_id(name)
        if study_id is None:
            return []
        failed: list[int] = []
        with self.using("use"):
            running = self.patiently(
                self.optuna.get_all_trials,
                study_id,
                deepcopy=False,
                states=(optuna.trial.TrialState.RUNNING,),
            )
            for trial in running:
                if trial.user_attrs.get("worker") != worker:
                    continue
                with contextlib.suppress(UpdateFinishedTrialError):
                    if self.patiently(
                        self.optuna.set_trial_state_values,
                        trial._trial_id,
                        optuna.trial.TrialState.FAIL,
                    ):
                        failed.append(int(trial.number))
        return failed

    def study_id(self, name: str) -> int | None:
        """The storage's id of study ``name``, or ``None`` if there is none."""
        with self.using():
            try:
                return int(self.optuna.get_study_id_from_name(name))
            except KeyError:
                return None

    def create(self, name: str, settings: SweepSettings) -> None:
        """Create study ``name`` (maximising validation accuracy) with ``settings``;
        :class:`StudyExists` if it exists already."""
        import optuna

        with self.using("write to"):
            try:
                study_id = self.optuna.create_new_study(
                    [optuna.study.StudyDirection.MAXIMIZE], name
                )
            except optuna.exceptions.DuplicatedStudyError:
                raise StudyExists(
                    f"a study named {name!r} exists already in {self.display}"
                ) from None
            self.optuna.set_study_user_attr(study_id, SETTINGS_ATTR, settings.to_dict())

    def settings(self, name: str) -> SweepSettings:
        """Study ``name``'s settings; :class:`SweepError` if missing or unreadable. A study
        without them is read again for up to :data:`SETTINGS_WAIT` seconds: a worker on
        another machine may be between creating it and writing them."""
        study_id = self._require(name)
        deadline = time.monotonic() + SETTINGS_WAIT
        while True:
            with self.using():
                attrs = self.optuna.get_study_user_attrs(study_id)
            if SETTINGS_ATTR in attrs or time.monotonic() >= deadline:
                break
            time.sleep(0.1)
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
        with self.using():
            attrs = self.optuna.get_study_user_attrs(study_id)
            trials = self.optuna.get_all_trials(study_id, deepcopy=False)
        settings: SweepSettings | None = None
        problem = ""
        try:
            settings = SweepSettings.from_dict(attrs.get(SETTINGS_ATTR))
        except SweepError as exc:
            problem = str(exc)
        now = datetime.now()
        views = tuple(view for trial in trials if (view := _trial_view(trial, now)) is not None)
        return StudyView(name=name, settings=settings, problem=problem, trials=views)

    def studies(self) -> list[StudyView]:
        """Every study here with its trials, oldest first."""
        return [self.study(name) for name in self.names()]

    def find(self, name: str) -> StudyView:
        """Study ``name``; :data:`LATEST` is the one that ran last, unless a study has
        that name. :class:`SweepError` if there is none."""
        if name != LATEST or self.study_id(name) is not None:
            return self.study(name)
        studies = newest_first(self.studies())
        if not studies:
            raise SweepError(f"no study in {self.display} yet")
        return studies[0]


def _check_sqlite_file(file: Path, create: bool) -> None:
    if file.is_symlink() or (file.exists() and not file.is_file()):
        raise SweepError(f"{file} is not a plain file (a link, folder, FIFO or device): not opened")
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
        "already exists" in str(exc) or "duplicate key" in str(exc)
    )


def _causes(exc: BaseException, *, context: bool) -> Iterator[BaseException]:
    """``exc`` and the errors it was raised from (or, with ``context``, during)."""
    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen and len(seen) < 20:
        seen.add(id(link))
        yield link
        link = link.__cause__ or (link.__context__ if context else None)


def is_storage_error(exc: BaseException) -> bool:
    """Whether ``exc`` came from the study storage (its database or its driver)."""
    from optuna.exceptions import StorageInternalError
    from sqlalchemy.exc import SQLAlchemyError

    return isinstance(exc, (SQLAlchemyError, StorageInternalError)) or type(
        exc
    ).__module__.startswith(("psycopg", "sqlite3", "pymysql", "MySQLdb"))


_LASTING = (
    "authentication",
    "password",
    "permission denied",
    "does not exist",
    "read-only",
    "readonly",
    "no such table",
    "no pg_hba.conf entry",
)
"""Words of a database error that no waiting mends."""


def transient_fault(exc: BaseException, *, sqlite: bool) -> bool:
    """Whether ``exc`` is a storage fault that passes: a locked SQLite file, or a lost
    or refused connection to a database server (not a refused login or a read-only
    database)."""
    from sqlalchemy import exc as errors

    for link in _causes(exc, context=True):
        if isinstance(link, errors.DBAPIError) and link.connection_invalidated:
            return True
        if isinstance(link, (errors.TimeoutError, errors.DisconnectionError)):
            return True
        if isinstance(link, (errors.OperationalError, errors.InterfaceError)):
            text = str(link.orig if link.orig is not None else link).lower()
            if sqlite:
                return "locked" in text or "busy" in text
            return not any(word in text for word in _LASTING)
    return False


def storage_reason(exc: BaseException) -> str:
    """The first line of what went wrong (the database's own words where there are
    some), without the library's prefixes. It may hold a URL's secrets: show
    :meth:`SweepStorage.reason` instead."""
    inner = exc
    for link in _causes(exc, context=False):
        inner = getattr(link, "orig", None) or link
    lines = [line.strip() for line in str(inner).strip().splitlines() if line.strip()]
    text = lines[0] if lines else type(inner).__name__
    text = re.sub(r"^\([\w.]+\)\s*", "", text)
    return _short(text, 300)


_OPTUNA_STATES: dict[str, TrialState] = {
    "RUNNING": "running",
    "COMPLETE": "complete",
    "PRUNED": "pruned",
    "FAIL": "failed",
    "WAITING": "waiting",
}


def _trial_view(trial: Any, now: datetime) -> TrialView | None:
    """A frozen Optuna trial as a checked :class:`TrialView`; ``None`` if it is unusable."""
    number = trial.number
    if isinstance(number, bool) or not isinstance(number, int) or not 0 <= number <= 10**9:
        return None
    attrs = trial.user_attrs if isinstance(trial.user_attrs, dict) else {}
    state: TrialState = _OPTUNA_STATES.get(trial.state.name, "failed")
    if state == "failed" and attrs.get("stopped") is True:
        state = "stopped"
    params = tuple(
        (str(name)[:MAX_TEXT], _param_text(value))
        for name, value in list(trial.params.items())[:MAX_PARAMS]
    )
    curve = [
        (step, value)
        for step, value in trial.intermediate_values.items()
        if isinstance(step, int) and _unit(value) is not None
    ]
    val_curve = tuple(float(value) for _step, value in sorted(curve)[:MAX_EPOCHS])
    value = _unit(trial.value) if state == "complete" else None
    run_id = attrs.get("run_id")
    started = trial.datetime_start if isinstance(trial.datetime_start, datetime) else None
    ended = trial.datetime_complete if isinstance(trial.datetime_complete, datetime) else None
    seconds = _seconds(attrs.get("seconds"))
    if seconds is None and started is not None:
        seconds = max(0.0, ((ended or now) - started).total_seconds())
    return TrialView(
        number=number,
        state=state,
        params=params,
        val_curve=val_curve,
        val_accuracy=value,
        test_accuracy=_unit(attrs.get("test_accuracy")),
        run_id=run_id if isinstance(run_id, str) and _RUN_ID.match(run_id) else None,
        seconds=seconds,
        worker=_text(attrs.get("worker")),
        started=started,
    )


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
