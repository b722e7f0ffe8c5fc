"""A sweep worker: Optuna trials, each a whole run trained, evaluated and saved.

Trials are chosen on validation accuracy (the test set is only reported); after each
epoch the validation accuracy is reported to Optuna's pruner, and a trial it prunes
stops at once and is saved as a run marked ``pruned``. Any number of workers, in
this process, in others or on other machines, can run on one study at a time: each
asks the storage for its next trial. Events go to the caller as they happen, from
the calling thread.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import shutil
import socket
import subprocess
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mnist_tui.core.config import ConfigError, TrainConfig
from mnist_tui.core.data.mnist import MnistData
from mnist_tui.core.events import EpochEnd, TrainingEvent
from mnist_tui.core.paths import GPUS_ENV, visible_gpus_from_env
from mnist_tui.core.runs.record import SweepTrial
from mnist_tui.core.runs.store import RunStore
from mnist_tui.core.sweeps import storage as sweep_storage
from mnist_tui.core.sweeps.storage import (
    MAX_TEXT,
    SweepError,
    SweepSettings,
    SweepStorage,
    TrialState,
    is_storage_error,
)

CHANCE_ACCURACY = 0.2
"""A trial whose validation accuracy is at or below this after an epoch has diverged
(chance is 0.1): pruned at once, whatever the pruner (unless pruning is off)."""
SAMPLER_STARTUP_TRIALS = 5
"""Trials sampled at random before TPE models the space."""
PRUNER_STARTUP_TRIALS = 4
"""Trials the median pruner lets finish before it compares."""
PRUNER_WARMUP_EPOCHS = 2
"""Epochs before the median pruner may prune (the first one is judged only on chance)."""


@dataclass(frozen=True)
class TrialStarted:
    """A worker began a trial."""

    study: str
    number: int
    config: TrainConfig
    params: tuple[tuple[str, str], ...]
    """The searched fields' values for this trial, as text."""
    worker: str


@dataclass(frozen=True)
class TrialProgress:
    """An engine event of the trial being trained."""

    number: int
    event: TrainingEvent


@dataclass(frozen=True)
class TrialEnded:
    """A trial ended; unless it failed before training, its run is saved."""

    number: int
    state: TrialState
    """``complete``, ``pruned``, ``stopped`` or ``failed``."""
    val_accuracy: float | None
    """Validation accuracy of the kept model (the last epoch's for a pruned trial)."""
    test_accuracy: float | None
    run_id: str | None
    epochs: int
    seconds: float
    reason: str = ""
    """Why a trial failed or was pruned, in a few words."""


@dataclass(frozen=True)
class TrialLost:
    """A trial's worker stopped sending heartbeats (killed, or its machine lost): the
    trial was marked failed, and the study goes on."""

    number: int
    worker: str


SweepEvent = TrialStarted | TrialProgress | TrialEnded | TrialLost
SweepSink = Callable[[SweepEvent], None]


def worker_name(pid: int | None = None) -> str:
    """``host:pid``, how trials name the worker that ran them (this process, or the
    local process ``pid``)."""
    return f"{socket.gethostname()[:60]}:{os.getpid() if pid is None else pid}"


def split_trials(total: int, workers: int) -> list[int]:
    """``total`` trials shared by ``workers`` as evenly as possible: 5 over 2 is [3, 2]."""
    return [total // workers + (index < total % workers) for index in range(workers)]


WORKER_MEMORY = 1_200_000_000
"""Bytes a local worker takes at its peak: TensorFlow, MNIST as floats and a trial's
model (measured: about 0.9 GB for the default MLP space, 1.2 GB for the CNN's)."""


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity, and a cgroup quota)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    with contextlib.suppress(OSError, ValueError):
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            cores = min(cores, max(1, math.ceil(int(quota) / int(period))))
    return max(1, cores)


def available_memory() -> int:
    """Bytes of memory free for new processes: the system's available memory (else its
    physical memory), and what a cgroup limit leaves."""
    from mnist_tui.core.memory import physical_memory

    free = physical_memory()
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                free = int(line.split()[1]) * 1024
    with contextlib.suppress(OSError, ValueError):
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit != "max":
            used = int(Path("/sys/fs/cgroup/memory.current").read_text())
            free = min(free, max(0, int(limit) - used))
    return free


@dataclass(frozen=True)
class WorkerLimit:
    """How many local workers this machine can run at once, and why."""

    workers: int
    reason: str


def worker_limit() -> WorkerLimit:
    """At most one worker per core, and as many as the free memory holds at
    :data:`WORKER_MEMORY` each (never fewer than one)."""
    cores, memory = available_cores(), available_memory()
    return WorkerLimit(
        max(1, min(cores, memory // WORKER_MEMORY)),
        f"{cores} cores, and {memory / 1e9:.1f} GB of free memory at about "
        f"{WORKER_MEMORY / 1e9:.1f} GB a worker",
    )


def threads_per_worker(workers: int, cores: int | None = None) -> int:
    """TensorFlow threads for each of ``workers`` local workers sharing the cores."""
    return max(1, (cores or available_cores()) // max(1, workers))


GPU_PROBE_SECONDS = 10.0
"""How long ``nvidia-smi -L`` may take before the machine is taken to have no GPU."""
MAX_GPUS = 64
"""Most GPUs shared out to local workers (and lines of ``nvidia-smi`` read)."""
_GPU_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9:._-]{0,127}")
_NVIDIA_SMI_LINE = re.compile(r"GPU (\d{1,4}): .*?(?:\(UUID: (GPU-[0-9A-Za-z-]{1,100})\))?\s*$")


@dataclass(frozen=True)
class Gpus:
    """The GPUs this machine offers local workers, and how they were found."""

    ids: tuple[str, ...]
    """Each one as a ``CUDA_VISIBLE_DEVICES`` entry (a UUID, or an index)."""
    source: str
    """``CUDA_VISIBLE_DEVICES``, ``nvidia-smi``, or why none were found."""
    pci_order: bool = False
    """The ids are ``nvidia-smi``'s indices (no UUIDs), which name the GPUs in PCI bus
    order: a worker must then run with ``CUDA_DEVICE_ORDER=PCI_BUS_ID``."""


def visible_gpus(probe_seconds: float = GPU_PROBE_SECONDS) -> Gpus:
    """The GPUs local workers can share, without TensorFlow: the list an existing
    ``CUDA_VISIBLE_DEVICES`` names (up to its first entry CUDA would stop at, such as
    ``-1``), else those ``nvidia-smi -L`` lists (its own process, stdin closed, at most
    ``probe_seconds``). None when neither says so; never an error."""
    given = visible_gpus_from_env()
    if given is not None:
        ids: list[str] = []
        for entry in given.split(","):
            entry = entry.strip()
            if not _GPU_ID.fullmatch(entry) or len(ids) >= MAX_GPUS:
                break
            ids.append(entry)
        return Gpus(tuple(ids), GPUS_ENV if ids else f"{GPUS_ENV} names none")
    command = shutil.which("nvidia-smi")
    if command is None:
        return Gpus((), "no nvidia-smi")
    try:
        done = subprocess.run(
            [command, "-L"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=probe_seconds,
            start_new_session=True,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return Gpus((), f"nvidia-smi failed ({type(exc).__name__})")
    if done.returncode != 0:
        return Gpus((), f"nvidia-smi exited with {done.returncode}")
    found: list[tuple[str, str | None]] = []
    for line in done.stdout[: 64 * 1024].decode("utf-8", "replace").splitlines()[: 4 * MAX_GPUS]:
        match = _NVIDIA_SMI_LINE.match(line.strip())
        if match and len(found) < MAX_GPUS:
            found.append((match.group(1), match.group(2)))
    if found and all(uuid for _index, uuid in found):
        return Gpus(tuple(uuid for _index, uuid in found if uuid), "nvidia-smi")
    return Gpus(tuple(index for index, _uuid in found), "nvidia-smi", pci_order=bool(found))


@dataclass(frozen=True)
class WorkerPlan:
    """What ``--workers auto`` runs here: how many local workers, each one's GPU (none
    on a CPU-only machine), and TensorFlow's threads in each."""

    workers: int
    gpus: tuple[str, ...]
    """One ``CUDA_VISIBLE_DEVICES`` value per worker, or empty: the workers share the cores."""
    threads: int
    reason: str
    pci_order: bool = False

    def worker_env(self, index: int) -> dict[str, str]:
        """What worker ``index`` (1-based) adds to its environment: its own GPU."""
        if not self.gpus:
            return {}
        extra = {GPUS_ENV: self.gpus[index - 1]}
        if self.pci_order:
            extra["CUDA_DEVICE_ORDER"] = "PCI_BUS_ID"
        return extra


def auto_workers(gpus: Gpus | None = None) -> WorkerPlan:
    """One worker per GPU when the machine has GPUs (as many as the free memory holds),
    each seeing only its own; else one per core (:func:`worker_limit`), the cores shared."""
    gpus = visible_gpus() if gpus is None else gpus
    cores, memory = available_cores(), available_memory()
    if gpus.ids:
        workers = max(1, min(len(gpus.ids), memory // WORKER_MEMORY))
        held = "" if workers == len(gpus.ids) else f" (the free memory holds {workers})"
        return WorkerPlan(
            workers,
            gpus.ids[:workers],
            threads_per_worker(workers, cores),
            f"one per GPU ({len(gpus.ids)} from {gpus.source}){held}",
            gpus.pci_order,
        )
    limit = worker_limit()
    return WorkerPlan(
        limit.workers,
        (),
        threads_per_worker(limit.workers, cores),
        f"no GPU ({gpus.source}): {limit.reason}",
    )


def configure_threads(threads: int) -> bool:
    """Limit TensorFlow to ``threads`` threads for its ops (and one thread running ops
    side by side), so that local workers share the cores instead of fighting over them.
    Only possible before TensorFlow first runs anything: ``False`` if it is too late."""
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:
        return False
    return True


def _pruner(settings: SweepSettings) -> Any:
    import optuna

    if settings.pruner == "hyperband":
        epochs = settings.space.base_values().get("epochs")
        return optuna.pruners.HyperbandPruner(
            min_resource=1,
            max_resource=epochs if isinstance(epochs, int) else "auto",
            reduction_factor=3,
        )
    if settings.pruner == "median":
        return optuna.pruners.MedianPruner(
            n_startup_trials=PRUNER_STARTUP_TRIALS, n_warmup_steps=PRUNER_WARMUP_EPOCHS
        )
    return optuna.pruners.NopPruner()


def _diverged(event: EpochEnd) -> bool:
    val = event.val_accuracy
    loss = event.val_loss
    return (
        val is None
        or not math.isfinite(val)
        or val <= CHANCE_ACCURACY
        or loss is None
        or not math.isfinite(loss)
    )


@dataclass(frozen=True)
class WorkerResult:
    """What one worker did."""

    trials: tuple[TrialEnded, ...]
    stopped: bool
    """The worker was stopped (its current trial saved as ``stopped``)."""


@dataclass
class _Outcome:
    """How a trial ended here, to be recorded in the study."""

    ended: TrialEnded
    attrs: dict[str, Any] = field(default_factory=dict)
    """User attributes still to write."""
    curve: dict[int, float] = field(default_factory=dict)
    """Validation accuracy per epoch, all of it (reported or not)."""
    reported: set[int] = field(default_factory=set)
    """Epochs the study has already."""
    finished_elsewhere: bool = False
    """Another worker marked the trial failed meanwhile (its heartbeats were late)."""


def run_worker(
    storage: SweepStorage,
    study: str,
    data: MnistData,
    store: RunStore,
    on_event: SweepSink,
    *,
    trials: int | None,
    timeout: float | None = None,
    stop: threading.Event | None = None,
    sampler_seed: int | None = None,
) -> WorkerResult:
    """Run trials of ``study`` (which must exist in ``storage``) until this worker has
    run ``trials`` of them, ``timeout`` seconds have passed (a running trial finishes),
    or ``stop`` is set: then the trial being trained stops within a fraction of a second
    and is saved as ``stopped`` (and failed in the study), and no other starts.

    Every trial's run is saved in ``store`` with its study and number, whatever the
    storage does. Storage calls ride out passing faults (see
    :meth:`SweepStorage.patiently`); one that fails during training only stops the
    reports and pruning until the trial's end. Raises :class:`SweepError` when the
    storage fails for good: naming the trial's saved run when its result could not be
    recorded. A trial another worker failed meanwhile (its heartbeats late) is recorded
    again as a new trial with the same parameters and result.
    """
    import keras
    import optuna
    import tensorflow as tf
    from optuna.exceptions import ExperimentalWarning

    stop = stop or threading.Event()
    tf.get_logger().setLevel("ERROR")  # a model per trial retraces by design
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # trial outcomes are our events
    settings = storage.settings(study)
    study_id = storage.study_id(study)
    worker = worker_name()
    ended: list[TrialEnded] = []

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentalWarning)
        sampler = optuna.samplers.TPESampler(
            seed=sampler_seed,
            n_startup_trials=SAMPLER_STARTUP_TRIALS,
            constant_liar=True,
            multivariate=True,
        )
        with storage.using("use", only_storage_errors=True):
            opened = optuna.load_study(
                study_name=study, storage=storage.optuna, sampler=sampler, pruner=_pruner(settings)
            )
        began = time.monotonic()
        count = 0
        while (
            not stop.is_set()
            and (trials is None or count < trials)
            and (timeout is None or time.monotonic() - began < timeout)
        ):
            count += 1
            with storage.using("use", only_storage_errors=True), warnings.catch_warnings():
                warnings.filterwarnings("ignore", "Heartbeat of storage")  # ours, not optimize's
                optuna.storages.fail_stale_trials(opened)
                trial = opened.ask()
                trial_id = storage.optuna.get_trial_id_from_study_id_trial_number(
                    study_id, trial.number
                )
            with _heartbeat(storage, trial_id):
                try:
                    keras.backend.clear_session()  # the last trial's graph and weights go
                    outcome = _run_trial(
                        storage, settings, study, trial, worker, data, store, on_event, stop
                    )
                except BaseException:
                    with contextlib.suppress(Exception), storage.hurried():
                        opened.tell(trial, state=optuna.trial.TrialState.FAIL)
                    raise
                ended.append(outcome.ended)
                _record(storage, opened, trial, trial_id, outcome, store, worker)
    return WorkerResult(trials=tuple(ended), stopped=stop.is_set())


def _run_trial(
    storage: SweepStorage,
    settings: SweepSettings,
    study: str,
    trial: Any,
    worker: str,
    data: MnistData,
    store: RunStore,
    on_event: SweepSink,
    stop: threading.Event,
) -> _Outcome:
    """Train, evaluate and save one trial; the study hears of each epoch while it can."""
    from optuna.exceptions import UpdateFinishedTrialError

    from mnist_tui.core.session import NothingTrained, train_evaluate_save

    began = time.perf_counter()
    with storage.using("use", only_storage_errors=True):
        trial.set_user_attr("worker", worker)
        try:
            config = settings.space.suggest(trial)
        except ConfigError as exc:
            reason = str(exc)[:MAX_TEXT]
            outcome = _Outcome(
                TrialEnded(
                    trial.number, "failed", None, None, None, 0, time.perf_counter() - began, reason
                ),
                attrs={"error": reason},
            )
            on_event(outcome.ended)
            return outcome
    params = tuple((name, _text(value)) for name, value in trial.params.items())
    on_event(TrialStarted(study, trial.number, config, params, worker))
    pruned, trial_stop = threading.Event(), threading.Event()
    why_pruned = ""
    offline = False  # set when the study cannot be told of this trial's epochs
    outcome = _Outcome(TrialEnded(trial.number, "failed", None, None, None, 0, 0.0))

    def talk(call: Callable[[], Any]) -> Any:
        """``call()``, or ``None`` once the study is out of reach for this trial."""
        nonlocal offline
        if offline:
            return None
        try:
            return call()
        except UpdateFinishedTrialError:
            offline = outcome.finished_elsewhere = True
        except Exception as exc:
            if not is_storage_error(exc):
                raise
            offline = True  # until the trial's end: the training goes on
        return None

    def sink(event: TrainingEvent) -> None:
        nonlocal why_pruned
        if stop.is_set():
            trial_stop.set()
        if isinstance(event, EpochEnd) and not trial_stop.is_set():
            epoch, value = event.epoch, event.val_accuracy
            if value is not None and math.isfinite(value):
                outcome.curve[epoch] = value
                if talk(lambda: trial.report(value, epoch) or True):
                    outcome.reported.add(epoch)
            if settings.pruner != "none" and epoch < config.epochs:
                if _diverged(event):
                    why_pruned = f"diverged (val accuracy {_acc(value)})"
                elif talk(trial.should_prune):
                    why_pruned = f"{settings.pruner} pruner, val accuracy {_acc(value)}"
                if why_pruned:
                    pruned.set()
                    trial_stop.set()
        on_event(TrialProgress(trial.number, event))

    if stop.is_set():
        trial_stop.set()
    try:
        session = train_evaluate_save(
            config,
            data,
            store,
            sink,
            trial_stop,
            sweep=SweepTrial(study, trial.number),
            pruned=pruned,
        )
    except NothingTrained:
        outcome.ended = TrialEnded(
            trial.number,
            "stopped",
            None,
            None,
            None,
            0,
            time.perf_counter() - began,
            "stopped before training",
        )
        outcome.attrs["stopped"] = True
        on_event(outcome.ended)
        return outcome
    run = session.run
    kept = session.result.finished.kept_epoch or run.epochs_done
    value = run.history[kept - 1].val_accuracy if run.history else None
    seconds = time.perf_counter() - began
    state: TrialState = (
        "pruned" if run.status == "pruned" else "stopped" if run.status == "stopped" else "complete"
    )
    outcome.ended = TrialEnded(
        trial.number,
        state,
        value,
        run.test_accuracy,
        run.run_id,
        run.epochs_done,
        seconds,
        why_pruned,
    )
    outcome.attrs.update(run_id=run.run_id, test_accuracy=run.test_accuracy, seconds=seconds)
    if state == "stopped":
        outcome.attrs["stopped"] = True
    on_event(outcome.ended)
    return outcome


def _record(
    storage: SweepStorage,
    opened: Any,
    trial: Any,
    trial_id: int,
    outcome: _Outcome,
    store: RunStore,
    worker: str,
) -> None:
    """Tell the study how ``trial`` ended, its unreported epochs and attributes first.

    A trial another worker has failed meanwhile comes back as a new trial (when it
    completed or was pruned). :class:`SweepError` if the storage cannot be reached: in
    one line naming the trial's saved run.
    """
    import optuna
    from optuna.exceptions import UpdateFinishedTrialError
    from optuna.trial import TrialState as OptunaState

    ended = outcome.ended
    wanted = {"complete": OptunaState.COMPLETE, "pruned": OptunaState.PRUNED}.get(
        ended.state, OptunaState.FAIL
    )
    value = (
        ended.val_accuracy
        if ended.val_accuracy is not None and math.isfinite(ended.val_accuracy)
        else 0.0
    )
    try:
        try:
            if not outcome.finished_elsewhere:
                for epoch, accuracy in sorted(outcome.curve.items()):
                    if epoch not in outcome.reported:
                        trial.report(accuracy, epoch)
                for key, item in outcome.attrs.items():
                    trial.set_user_attr(key, item)
                if wanted == OptunaState.COMPLETE:
                    opened.tell(trial, value)
                else:
                    opened.tell(trial, state=wanted)
                return
        except (UpdateFinishedTrialError, ValueError):
            if storage.optuna.get_trial(trial_id).state == wanted:
                return  # told before a fault hid the answer
        if wanted == OptunaState.FAIL:
            return  # failed here too: nothing to add
        opened.add_trial(
            optuna.trial.create_trial(
                state=wanted,
                value=value if wanted == OptunaState.COMPLETE else None,
                params=trial.params,
                distributions=trial.distributions,
                intermediate_values=outcome.curve,
                user_attrs={**outcome.attrs, "worker": worker, "retold": trial.number},
            )
        )
    except Exception as exc:
        if not is_storage_error(exc):
            raise
        saved = (
            f"its run {ended.run_id} is saved in {store.root}"
            if ended.run_id
            else "it saved no run"
        )
        raise SweepError(
            f"trial {ended.number} ended {ended.state}; {saved}, but the study "
            f"storage {storage.display} could not record it (tried for "
            f"{sweep_storage.RETRY_SECONDS:.0f} s): {storage.reason(exc)}"
        ) from None


@contextlib.contextmanager
def _heartbeat(storage: SweepStorage, trial_id: int) -> Iterator[None]:
    """A thread recording the trial's heartbeat while the block runs (when heartbeats
    are on); a heartbeat that fails is simply late."""
    interval = storage.optuna.get_heartbeat_interval()
    if interval is None:
        yield
        return
    done = threading.Event()

    def beat() -> None:
        while True:
            with contextlib.suppress(Exception):
                storage.optuna.record_heartbeat(trial_id)
            if done.wait(interval):
                return

    thread = threading.Thread(target=beat, name="sweep-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


def _text(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)[:MAX_TEXT]


def _acc(value: float | None) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.4f}"
