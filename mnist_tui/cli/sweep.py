"""``mnist-tui sweep``: run a study's trials here (in K worker processes), list and show
studies. A study's storage that cannot be used is one line and exit 5."""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from rich.markup import escape
from rich.table import Table

from mnist_tui.cli.console import console, load_data, print_json
from mnist_tui.cli.exit_codes import ExitCode
from mnist_tui.cli.options import CliError
from mnist_tui.cli.outputs import StopSignals
from mnist_tui.cli.sweep_parser import AUTO
from mnist_tui.core.config import FIELDS, PRESETS, ConfigError, read_config_file
from mnist_tui.core.events import EpochEnd, plural
from mnist_tui.core.files import strict_json
from mnist_tui.core.files.printable import printable
from mnist_tui.core.paths import (
    GPUS_ENV,
    STORAGE_ENV,
    default_runs_dir,
    storage_url_from_env,
    visible_gpus_from_env,
)
from mnist_tui.core.runs.store import RunStore
from mnist_tui.core.sweeps.space import SearchSpace
from mnist_tui.core.sweeps.storage import (
    LATEST,
    StudyExists,
    StudyView,
    SweepError,
    SweepSettings,
    SweepStorage,
    TrialView,
    check_study_name,
    default_storage_url,
    new_study_name,
    sqlite_file,
)

if TYPE_CHECKING:
    from mnist_tui.core.sweeps.worker import WorkerPlan

"""Exit code when the study's storage cannot be reached or a study is missing."""
DEFAULT_TRIALS = 20
SPARKS = "▁▂▃▄▅▆▇█"
PR_SET_PDEATHSIG = 1
"""Linux's ``prctl`` option: a signal this process gets when its parent dies."""
PARENT_POLL_SECONDS = 1.0
"""How often a worker without ``prctl`` checks that its parent is alive."""


def cmd_sweep(args: argparse.Namespace) -> int:
    """Dispatch ``sweep run|list|show``; a :class:`SweepError` is one line and exit 5."""
    try:
        if args.sweep_command == "run":
            return _cmd_run(args)
        if args.sweep_command == "list":
            return _cmd_list(args)
        return _cmd_show(args)
    except SweepError as exc:
        print(f"error: {printable(str(exc))}", file=sys.stderr)
        return ExitCode.SWEEP


# --- sweep run ------------------------------------------------------------------------


def space_from_args(args: argparse.Namespace) -> SearchSpace | None:
    """The search space the options ask for, or ``None`` when they name none (a resume).

    Bad specs are a :class:`CliError` naming each option with the form's reason.
    """
    given = {
        name: raw for name in FIELDS if (raw := getattr(args, f"cfg_{name}", None)) is not None
    }
    preset, config = getattr(args, "preset", None), getattr(args, "config", None)
    if not given and not preset and not config:
        return None
    try:
        base: dict[str, Any] = {}
        if preset:
            base.update(PRESETS[preset].to_dict())
        if config:
            base.update(read_config_file(Path(config)))
        return SearchSpace.build(base, given)
    except ConfigError as exc:
        reasons = "; ".join(f"--{k.replace('_', '-')}: {v}" for k, v in exc.errors.items())
        raise CliError(f"invalid search space: {reasons}") from exc


def _cmd_run(args: argparse.Namespace) -> int:
    space = space_from_args(args)
    runs_dir = args.runs_dir or default_runs_dir()
    store = RunStore(runs_dir)
    store.ensure_writable()
    url = storage_url(args, runs_dir)
    if args.study is not None:
        try:
            check_study_name(args.study)
        except SweepError as exc:
            raise CliError(f"--study: {exc}") from None
    worker = args.worker_index > 0
    if worker and args.parent_pid is not None:
        end_with_parent(args.parent_pid)
    err = console(stderr=True)
    prefix = f"[w{args.worker_index}] " if worker else ""
    view = SweepLogView(sys.stderr, prefix)
    with SweepStorage(url, heartbeat=args.heartbeat, on_lost=view.lost) as storage:
        name = args.study or new_study_name(space.architecture if space else "mlp")
        settings = _study_settings(storage, name, space, args.pruner, announce=not worker)
        if not worker:
            err.print(
                f"[bold]Study[/] {escape(name)} in {escape(storage.display)}: "
                f"{escape(settings.space.architecture)}, searching "
                f"{escape(settings.space.describe() or 'nothing (all fixed)')}; "
                f"pruner {settings.pruner}"
            )
        trials = args.trials if args.trials or args.timeout else DEFAULT_TRIALS
        signals = StopSignals(threading.Event())
        plan = _plan(args) if not worker else None
        if worker:
            _say_gpu(view)
        if plan is not None and plan.workers > 1:
            code = _run_workers(args, storage, name, trials, signals, plan, view)
        else:
            code = _run_here(args, storage, name, store, trials, view, signals)
        if not worker:
            _print_outcome(storage.study(name), storage.display, args)
    return code


def _plan(args: argparse.Namespace) -> WorkerPlan:
    """The local workers ``--workers`` asks for: K sharing the cores, or with ``auto``
    one per GPU (each its own) or per core, as :func:`auto_workers` finds."""
    from mnist_tui.core.sweeps.worker import WorkerPlan, auto_workers, threads_per_worker

    if args.workers == AUTO:
        plan = auto_workers()
        console(stderr=True).print(
            f"--workers auto: {plural(plan.workers, 'worker')}, {escape(plan.reason)}"
        )
        return plan
    workers = int(args.workers)
    return WorkerPlan(workers, (), threads_per_worker(workers), f"--workers {workers}")


def _say_gpu(view: SweepLogView) -> None:
    """A local worker given a GPU of its own says which (its ``CUDA_VISIBLE_DEVICES``)."""
    gpu = visible_gpus_from_env()
    if gpu is not None:
        view.note(f"sees only GPU {printable(gpu, lines=False)} ({GPUS_ENV})")


def _study_settings(
    storage: SweepStorage,
    name: str,
    space: SearchSpace | None,
    pruner: str | None,
    *,
    announce: bool,
) -> SweepSettings:
    """The settings of study ``name``: created from ``space`` if it is new, else read
    back and checked to be the ones asked for."""
    if storage.study_id(name) is None:
        settings = SweepSettings(space or SearchSpace.build({}, {}), pruner or "median")
        try:
            storage.create(name, settings)
            return settings
        except StudyExists:  # another worker created it first: join it
            pass
    settings = storage.settings(name)
    if space is not None and space != settings.space:
        asked, kept = space.texts(), settings.space.texts()
        differ = [field for field in FIELDS if asked.get(field) != kept.get(field)]
        raise CliError(
            f"study {name!r} searches another space (--"
            f"{differ[0].replace('_', '-')} is {kept.get(differ[0])!r} there, "
            f"{asked.get(differ[0])!r} here): give no space options to resume "
            "or join it, or a new --study name to search this one"
        )
    if pruner is not None and pruner != settings.pruner:
        raise CliError(f"study {name!r} prunes with {settings.pruner!r}, not {pruner!r}")
    if announce:
        console(stderr=True).print(
            f"Resuming study {escape(name)}: "
            f"{plural(len(storage.study(name).trials), 'trial')} so far"
        )
    return settings


def _run_here(
    args: argparse.Namespace,
    storage: SweepStorage,
    name: str,
    store: RunStore,
    trials: int | None,
    view: SweepLogView,
    signals: StopSignals,
) -> int:
    """One worker in this process."""
    if args.threads:
        from mnist_tui.core.sweeps.worker import configure_threads

        configure_threads(args.threads)
    data = load_data(args, quiet=args.worker_index > 0)
    from mnist_tui.core.sweeps.worker import run_worker  # TensorFlow

    seed = None if args.sampler_seed is None else args.sampler_seed + args.worker_index
    with signals.installed():
        run_worker(
            storage,
            name,
            data,
            store,
            view,
            trials=trials,
            timeout=args.timeout,
            stop=signals.stop,
            sampler_seed=seed,
        )
    return signals.exit_code


def storage_url(args: argparse.Namespace, runs_dir: Path) -> str:
    """The storage ``--storage`` names, else ``$MNIST_TUI_SWEEP_STORAGE``, else the SQLite
    file in the runs folder."""
    return args.storage or storage_url_from_env() or default_storage_url(runs_dir)


def worker_command(
    args: argparse.Namespace, study: str, trials: int | None, index: int, threads: int
) -> list[str]:
    """The command line of local worker ``index`` (1-based): this command on one process,
    isolated (``python -I``), on the study already created. The storage URL is not in it
    (``ps`` shows command lines): :func:`worker_env` carries it."""
    runs_dir = Path(args.runs_dir or default_runs_dir()).absolute()
    command = [
        sys.executable,
        "-I",
        "-m",
        "mnist_tui",
        "sweep",
        "run",
        "--study",
        study,
        "--threads",
        str(threads),
        "--worker-index",
        str(index),
        "--parent-pid",
        str(os.getpid()),
        "--heartbeat",
        str(args.heartbeat),
        "--runs-dir",
        str(runs_dir),
    ]
    if trials is not None:
        command += ["--trials", str(trials)]
    if args.timeout is not None:
        command += ["--timeout", repr(args.timeout)]
    if args.sampler_seed is not None:
        command += ["--sampler-seed", str(args.sampler_seed)]
    if args.data is not None:
        command += ["--data", str(Path(args.data).expanduser().absolute())]
    return command


def worker_env(url: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    """A local worker's environment: this one, with the storage URL in
    :data:`STORAGE_ENV` (readable only by the same user), and ``extra`` (its own GPU)."""
    return {**os.environ, STORAGE_ENV: url, **(extra or {})}


def end_with_parent(parent: int, *, deathsig: bool = True) -> None:
    """End this worker as SIGTERM does (its trial saved as stopped) when process
    ``parent`` dies: through Linux's ``prctl(PR_SET_PDEATHSIG)`` where it works (and
    ``deathsig``), else through a thread that polls the parent's pid."""
    armed = deathsig and _parent_death_signal(signal.SIGTERM)
    if os.getppid() != parent:  # died before the signal was armed
        os.kill(os.getpid(), signal.SIGTERM)
        return
    if armed:
        return

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_SECONDS)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _parent_death_signal(signum: int) -> bool:
    """Ask Linux for ``signum`` when the parent dies; ``False`` where that is not possible."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(PR_SET_PDEATHSIG, int(signum), 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def _run_workers(
    args: argparse.Namespace,
    storage: SweepStorage,
    study: str,
    trials: int | None,
    signals: StopSignals,
    plan: WorkerPlan,
    view: SweepLogView,
) -> int:
    """K worker processes on the study, each with its share of trials and of the cores
    (and, as ``plan`` says, a GPU of its own); each ends when this process dies
    (:func:`end_with_parent`). A worker that dies (a crash, a kill) has its running trial
    marked failed as soon as it is seen gone, without waiting out its heartbeats.

    Each runs in a session of its own, so a Ctrl-C in the terminal reaches this process
    only, which passes each stop signal on to every worker once: the workers save their
    current trials as stopped, and a second signal aborts them as it aborts a train.
    """
    from mnist_tui.core.sweeps.worker import split_trials

    shares = split_trials(trials, plan.workers) if trials is not None else [None] * plan.workers
    threads = args.threads or plan.threads
    err = console(stderr=True)
    err.print(
        f"Starting {plan.workers} workers ({threads} TensorFlow "
        f"thread{'s' if threads > 1 else ''} each"
        f"{', one GPU each' if plan.gpus else ''})"
    )
    procs: list[subprocess.Popen[bytes]] = []
    forwarded = 0
    try:
        with signals.installed():
            for index, share in enumerate(shares, 1):
                if share == 0:
                    continue
                procs.append(
                    subprocess.Popen(
                        worker_command(args, study, share, index, threads),
                        env=worker_env(storage.url, plan.worker_env(index)),
                        stdin=subprocess.DEVNULL,
                        stdout=subprocess.DEVNULL,
                        stderr=_stderr_fd(),
                        start_new_session=True,
                    )
                )
            reaped: set[int] = set()
            while any(proc.poll() is None for proc in procs):
                if signals.stop.is_set() and not forwarded and signals.received is not None:
                    _forward(procs, signals.received)
                    forwarded = signals.received
                _reap(procs, reaped, storage, study, signals, view)
                time.sleep(0.1)
            _reap(procs, reaped, storage, study, signals, view)
    except KeyboardInterrupt:  # the second signal: abort the workers too
        _forward(procs, signal.SIGINT)
        for proc in procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=30)
        raise
    if signals.received is not None and not forwarded:
        _forward(procs, signals.received)
    codes = [proc.returncode for proc in procs]
    failed = [
        (index, code) for index, code in enumerate(codes, 1) if code not in (0, signals.exit_code)
    ]
    for index, code in failed:
        err.print(f"[red]worker {index} exited with code {code}[/]")
    if failed and signals.received is None:
        return failed[0][1] if failed[0][1] > 0 else 1
    return signals.exit_code


def _reap(
    procs: Sequence[subprocess.Popen[bytes]],
    reaped: set[int],
    storage: SweepStorage,
    study: str,
    signals: StopSignals,
    view: SweepLogView,
) -> None:
    """Each worker seen ended for the first time: if it died (not a clean end, nor the
    stop this process passed on), its running trials are marked failed now."""
    from mnist_tui.core.sweeps.worker import worker_name

    for proc in procs:
        if proc.pid in reaped or proc.poll() is None:
            continue
        reaped.add(proc.pid)
        if proc.returncode in (0, signals.exit_code):
            continue
        worker = worker_name(proc.pid)
        try:
            numbers = storage.fail_running(study, worker)
        except SweepError:
            continue  # the storage is down: the trial's missed heartbeats will tell
        for number in numbers:
            view.lost(number, worker, f"ended with its worker (exit {proc.returncode})")


def _stderr_fd() -> int | None:
    """The descriptor of this command's own stderr (descriptor 2 carries TensorFlow's
    native log meanwhile), for the workers' progress lines."""
    try:
        sys.stderr.flush()
        return sys.stderr.fileno()
    except (OSError, ValueError, AttributeError):
        return None


def _forward(procs: Sequence[subprocess.Popen[bytes]], signum: int) -> None:
    for proc in procs:
        if proc.poll() is None:
            with contextlib.suppress(OSError):
                proc.send_signal(signum)


class SweepLogView:
    """One line per trial event on a stream: started, each epoch, ended, lost."""

    def __init__(self, stream: IO[str], prefix: str = "") -> None:
        self._stream = stream
        self._prefix = prefix
        self._began = time.perf_counter()
        self._epochs: dict[int, int] = {}

    def _say(self, text: str) -> None:
        self._stream.write(f"[{time.perf_counter() - self._began:7.1f}s] {self._prefix}{text}\n")
        self._stream.flush()

    def note(self, text: str) -> None:
        """A line of its own about this worker."""
        self._say(text)

    def lost(self, number: int, worker: str, why: str = "sent no heartbeat") -> None:
        """A trial whose worker went silent (or died) was marked failed."""
        self._say(f"trial {number} (worker {worker}) {why}: marked failed")

    def __call__(self, event: object) -> None:
        from mnist_tui.core.sweeps.worker import TrialEnded, TrialLost, TrialProgress, TrialStarted

        match event:
            case TrialStarted():
                self._epochs[event.number] = event.config.epochs
                params = " ".join(f"{name}={value}" for name, value in event.params)
                self._say(f"trial {event.number} started: {params or event.config.summary()}")
            case TrialProgress(event=EpochEnd() as epoch):
                self._say(
                    f"trial {event.number} epoch {epoch.epoch}/"
                    f"{self._epochs.get(event.number, '?')} val_accuracy "
                    f"{_acc(epoch.val_accuracy)} ({epoch.seconds:.1f}s)"
                )
            case TrialEnded():
                run = f", run {event.run_id}" if event.run_id else ""
                why = f" ({event.reason})" if event.reason else ""
                self._say(
                    f"trial {event.number} {event.state}{why}: val {_acc(event.val_accuracy)}"
                    f" test {_acc(event.test_accuracy)}, "
                    f"{plural(event.epochs, 'epoch')} in {event.seconds:.1f}s{run}"
                )
            case TrialLost():
                self.lost(event.number, event.worker)
            case _:
                pass


def _print_outcome(study: StudyView, display: str, args: argparse.Namespace) -> None:
    out = console()
    out.print(f"Study [bold]{escape(study.name)}[/]: {_counts(study)}")
    best = study.best
    if best is not None:
        out.print(
            f"Best: trial {best.number}, val accuracy [bold]{_acc(best.val_accuracy)}[/], "
            f"test accuracy {_acc(best.test_accuracy)}, run {escape(best.run_id or '-')}"
        )
        out.print(f"      {escape(_params(best))}")
    storage = f" --storage {escape(display)}" if args.storage else ""
    out.print(f"More trials: mnist-tui sweep run --study {escape(study.name)}{storage}")


def _counts(study: StudyView) -> str:
    parts = [
        f"{study.count(state)} {state}"
        for state in ("complete", "pruned", "stopped", "failed", "running", "waiting")
        if study.count(state)
    ]
    return f"{plural(len(study.trials), 'trial')}" + (f" ({', '.join(parts)})" if parts else "")


def _params(trial: TrialView) -> str:
    return " ".join(f"{name}={value}" for name, value in trial.params)


def _acc(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


# --- sweep list / show ---------------------------------------------------------------


def _open_for_reading(args: argparse.Namespace) -> SweepStorage | None:
    """The storage to read, or ``None`` when the default one was never created."""
    runs_dir = args.runs_dir or default_runs_dir()
    url = storage_url(args, runs_dir)
    file = sqlite_file(url)
    if url == default_storage_url(runs_dir) and file is not None and not file.exists():
        return None
    return SweepStorage(url, create=False)


def _cmd_list(args: argparse.Namespace) -> int:
    storage = _open_for_reading(args)
    studies = [] if storage is None else storage.studies()
    display = "" if storage is None else storage.display
    if storage is not None:
        storage.close()
    if args.json:
        print_json({"storage": display, "studies": [_study_row(s) for s in studies]})
        return ExitCode.OK
    out = console()
    if not studies:
        where = display or str(args.runs_dir or default_runs_dir())
        out.print(f"No sweeps in {escape(where)}. Start one with: mnist-tui sweep run")
        return ExitCode.OK
    table = Table(title=f"Studies in {escape(display)}", title_justify="left", header_style="bold")
    for header in (
        "study",
        "trials",
        "complete",
        "pruned",
        "failed",
        "running",
        "best val",
        "its test",
        "started",
    ):
        table.add_column(header, justify="left" if header == "study" else "right")
    for study in studies:
        best = study.best
        started = study.started
        table.add_row(
            escape(study.name),
            str(len(study.trials)),
            *(str(study.count(state)) for state in ("complete", "pruned", "failed", "running")),
            _acc(best.val_accuracy if best else None),
            _acc(best.test_accuracy if best else None),
            started.strftime("%Y-%m-%d %H:%M") if started else "-",
        )
    out.print(table)
    return ExitCode.OK


def _cmd_show(args: argparse.Namespace) -> int:
    storage = _open_for_reading(args)
    if storage is None:
        none = f"no sweeps in {args.runs_dir or default_runs_dir()} yet"
        raise SweepError(none if args.study == LATEST else f"no study {args.study!r}: {none}")
    with storage:
        study = storage.find(args.study)
    if args.json:
        print_json(
            {
                **_study_row(study),
                "storage": storage.display,
                "trials": [_trial_row(trial) for trial in study.trials],
            }
        )
        return ExitCode.OK
    out = console()
    out.print(f"Study [bold]{escape(study.name)}[/] in {escape(storage.display)}: {_counts(study)}")
    if study.settings is not None:
        out.print(
            f"{escape(study.settings.space.architecture)}, searching "
            f"{escape(study.settings.space.describe() or 'nothing')}; "
            f"pruner {study.settings.pruner}"
        )
    else:
        out.print(f"[yellow]not an mnist-tui sweep[/]: {escape(study.problem)}")
    best = study.best
    table = Table(header_style="bold")
    for header in ("#", "state", "val acc", "test acc", "val per epoch", "secs", "params", "run"):
        table.add_column(header, justify="right" if header in ("#", "secs") else "left")
    low, high = _curve_bounds(study.trials)
    for trial in study.trials:
        mark = " ★" if best is not None and trial.number == best.number else ""
        table.add_row(
            f"{trial.number}{mark}",
            trial.state,
            _acc(trial.val_accuracy),
            _acc(trial.test_accuracy),
            _spark(trial.val_curve, low, high),
            "-" if trial.seconds is None else f"{trial.seconds:.1f}",
            escape(_params(trial)),
            escape(trial.run_id or "-"),
        )
    out.print(table)
    return ExitCode.OK


def _curve_bounds(trials: Sequence[TrialView]) -> tuple[float, float]:
    values = [value for trial in trials for value in trial.val_curve]
    return (min(values), max(values)) if values else (0.0, 1.0)


def _spark(curve: Sequence[float], low: float, high: float) -> str:
    """A validation curve in block characters, on the study's common scale."""
    span = high - low
    return "".join(
        SPARKS[0 if span <= 0 else min(len(SPARKS) - 1, int((value - low) / span * len(SPARKS)))]
        for value in curve[-40:]
    )


def _study_row(study: StudyView) -> dict[str, Any]:
    best = study.best
    started = study.started
    return {
        "study": study.name,
        "architecture": study.settings.space.architecture if study.settings else None,
        "space": study.settings.space.texts() if study.settings else None,
        "pruner": study.settings.pruner if study.settings else None,
        "problem": study.problem or None,
        "trials": len(study.trials),
        "states": {
            state: study.count(state)
            for state in ("complete", "pruned", "stopped", "failed", "running", "waiting")
        },
        "best_trial": best.number if best else None,
        "best_val_accuracy": best.val_accuracy if best else None,
        "best_test_accuracy": best.test_accuracy if best else None,
        "best_run_id": best.run_id if best else None,
        "started": started.isoformat(timespec="seconds") if started else None,
    }


def _trial_row(trial: TrialView) -> dict[str, Any]:
    row: dict[str, Any] = strict_json.finite_or_none(
        {
            "number": trial.number,
            "state": trial.state,
            "params": dict(trial.params),
            "val_accuracy": trial.val_accuracy,
            "test_accuracy": trial.test_accuracy,
            "val_curve": list(trial.val_curve),
            "seconds": trial.seconds,
            "run_id": trial.run_id,
            "worker": trial.worker,
            "started": trial.started.isoformat(timespec="seconds") if trial.started else None,
        }
    )
    return row
