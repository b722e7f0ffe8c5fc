"""A sweep worker: Optuna trials, each a whole run trained, evaluated and saved.

Trials are chosen on validation accuracy (the test set is only reported); after each
epoch the validation accuracy is reported to Optuna's pruner, and a trial it prunes
stops at once and is saved as a run marked ``pruned``. Any number of workers, in
this process, in others or on other machines, can run on one study at a time: each
asks the storage for its next trial. Events go to the caller as they happen, from
the calling thread.
"""

from __future__ import annotations

import math
import os
import socket
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mnist_tui.core.config import ConfigError, TrainConfig
from mnist_tui.core.data import MnistData
from mnist_tui.core.events import EpochEnd, TrainingEvent
from mnist_tui.core.run_record import SweepTrial
from mnist_tui.core.runs import RunStore
from mnist_tui.core.sweep_storage import (
    MAX_TEXT,
    SweepError,
    SweepSettings,
    SweepStorage,
    TrialState,
    storage_reason,
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


class _Stopped(Exception):
    """The user stopped the worker during this trial."""


class _Refused(Exception):
    """The trial's drawn config is not possible (its reason is in the trial)."""


def worker_name() -> str:
    """``host:pid``, how trials name the worker that ran them."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}"


def split_trials(total: int, workers: int) -> list[int]:
    """``total`` trials shared by ``workers`` as evenly as possible: 5 over 2 is [3, 2]."""
    return [total // workers + (index < total % workers) for index in range(workers)]


def threads_per_worker(workers: int, cores: int | None = None) -> int:
    """TensorFlow threads for each of ``workers`` local workers sharing the cores."""
    return max(1, (cores or os.cpu_count() or 1) // max(1, workers))


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
            min_resource=1, max_resource=epochs if isinstance(epochs, int) else "auto",
            reduction_factor=3)
    if settings.pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=PRUNER_STARTUP_TRIALS,
                                           n_warmup_steps=PRUNER_WARMUP_EPOCHS)
    return optuna.pruners.NopPruner()


def _diverged(event: EpochEnd) -> bool:
    val = event.val_accuracy
    loss = event.val_loss
    return (val is None or not math.isfinite(val) or val <= CHANCE_ACCURACY
            or loss is None or not math.isfinite(loss))


@dataclass(frozen=True)
class WorkerResult:
    """What one worker did."""

    trials: tuple[TrialEnded, ...]
    stopped: bool
    """The worker was stopped (its current trial saved as ``stopped``)."""


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

    Every trial's run is saved in ``store`` with its study and number. Raises
    :class:`SweepError` if the storage fails.
    """
    import keras
    import optuna
    import tensorflow as tf
    from optuna.exceptions import ExperimentalWarning

    from mnist_tui.core.session import NothingTrained, train_evaluate_save

    stop = stop or threading.Event()
    tf.get_logger().setLevel("ERROR")  # a model per trial retraces by design
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # trial outcomes are our events
    settings = storage.settings(study)
    worker = worker_name()
    ended: list[TrialEnded] = []

    def objective(trial: optuna.Trial) -> float:
        began = time.perf_counter()
        trial.set_user_attr("worker", worker)
        try:
            config = settings.space.suggest(trial)
        except ConfigError as exc:
            reason = str(exc)[:MAX_TEXT]
            trial.set_user_attr("error", reason)
            ended.append(TrialEnded(trial.number, "failed", None, None, None, 0,
                                    time.perf_counter() - began, reason))
            on_event(ended[-1])
            raise _Refused(reason) from None
        params = tuple((name, _text(value)) for name, value in trial.params.items())
        on_event(TrialStarted(study, trial.number, config, params, worker))
        keras.backend.clear_session()  # the last trial's graph and weights go
        pruned, trial_stop = threading.Event(), threading.Event()
        why_pruned = ""

        def sink(event: TrainingEvent) -> None:
            nonlocal why_pruned
            if stop.is_set():
                trial_stop.set()
            if isinstance(event, EpochEnd) and not trial_stop.is_set():
                if event.val_accuracy is not None and math.isfinite(event.val_accuracy):
                    trial.report(event.val_accuracy, event.epoch)
                if settings.pruner != "none" and event.epoch < config.epochs:
                    if _diverged(event):
                        why_pruned = f"diverged (val accuracy {_acc(event.val_accuracy)})"
                    elif trial.should_prune():
                        why_pruned = (f"{settings.pruner} pruner, val accuracy "
                                      f"{_acc(event.val_accuracy)}")
                    if why_pruned:
                        pruned.set()
                        trial_stop.set()
            on_event(TrialProgress(trial.number, event))

        if stop.is_set():
            trial_stop.set()
        try:
            session = train_evaluate_save(config, data, store, sink, trial_stop,
                                          sweep=SweepTrial(study, trial.number), pruned=pruned)
        except NothingTrained:
            trial.set_user_attr("stopped", True)
            ended.append(TrialEnded(trial.number, "stopped", None, None, None, 0,
                                    time.perf_counter() - began, "stopped before training"))
            on_event(ended[-1])
            raise _Stopped from None
        run = session.run
        kept = session.result.finished.kept_epoch or run.epochs_done
        value = run.history[kept - 1].val_accuracy if run.history else None
        seconds = time.perf_counter() - began
        trial.set_user_attr("run_id", run.run_id)
        trial.set_user_attr("test_accuracy", run.test_accuracy)
        trial.set_user_attr("seconds", seconds)
        state: TrialState = ("pruned" if run.status == "pruned" else
                             "stopped" if run.status == "stopped" else "complete")
        ended.append(TrialEnded(trial.number, state, value, run.test_accuracy, run.run_id,
                                run.epochs_done, seconds, why_pruned))
        on_event(ended[-1])
        if state == "pruned":
            raise optuna.TrialPruned(why_pruned)
        if state == "stopped":
            trial.set_user_attr("stopped", True)
            raise _Stopped
        return value if value is not None and math.isfinite(value) else 0.0

    def after_trial(opened: optuna.Study, _trial: optuna.trial.FrozenTrial) -> None:
        if stop.is_set():
            opened.stop()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentalWarning)
        sampler = optuna.samplers.TPESampler(
            seed=sampler_seed, n_startup_trials=SAMPLER_STARTUP_TRIALS, constant_liar=True,
            multivariate=True)
        try:
            opened = optuna.load_study(study_name=study, storage=storage.optuna,
                                       sampler=sampler, pruner=_pruner(settings))
            if not stop.is_set() and trials != 0:
                opened.optimize(objective, n_trials=trials, timeout=timeout,
                                catch=(_Stopped, _Refused), callbacks=[after_trial],
                                gc_after_trial=False)
        except (KeyboardInterrupt, SweepError):
            raise
        except Exception as exc:
            if not _from_storage(exc):
                raise
            raise SweepError(f"lost the study storage {storage.display}: "
                             f"{storage_reason(exc)}") from None
    return WorkerResult(trials=tuple(ended), stopped=stop.is_set())


def _from_storage(exc: BaseException) -> bool:
    module = type(exc).__module__
    return module.startswith(("sqlalchemy", "psycopg", "sqlite3", "optuna.storages"))


def _text(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)[:MAX_TEXT]


def _acc(value: float | None) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.4f}"
