"""One whole run: train, evaluate on the test digits, save. Both front ends call this."""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass
from datetime import datetime

from mnist_tui.core.config import TrainConfig
from mnist_tui.core.data.mnist import MnistData
from mnist_tui.core.engine.control import TrainingControl
from mnist_tui.core.engine.evaluation import Evaluation, evaluate_model
from mnist_tui.core.engine.heap import frozen_heap
from mnist_tui.core.engine.training import EventSink, TrainResult, train
from mnist_tui.core.errors import MnistTuiError
from mnist_tui.core.events import EvaluationStarted, RunSaved, RunStatus
from mnist_tui.core.inside.dynamics import DynamicsRecorder, write_dynamics
from mnist_tui.core.runs.annotations import Annotation
from mnist_tui.core.runs.record import SweepTrial
from mnist_tui.core.runs.store import RunError, RunInfo, RunStore


class NothingTrained(MnistTuiError):
    """The stop came before the first training step: there is no run to evaluate or save."""


@dataclass(frozen=True)
class SessionResult:
    """A finished, evaluated and saved run."""

    run: RunInfo
    result: TrainResult
    evaluation: Evaluation
    warning: str = ""
    """What the run was saved without, and why (as :class:`RunSaved` says), or ``""``."""


def train_evaluate_save(
    config: TrainConfig,
    data: MnistData,
    store: RunStore,
    on_event: EventSink,
    stop: threading.Event | None = None,
    annotation: Annotation | None = None,
    *,
    sweep: SweepTrial | None = None,
    pruned: threading.Event | None = None,
    control: TrainingControl | None = None,
) -> SessionResult:
    """Train ``config`` on ``data``, evaluate on its test set and save the run.

    A stopped run is evaluated and saved too (its status says ``stopped``), so what
    was learned is never lost; stopped before its first step, it raises
    :class:`NothingTrained` instead. ``annotation`` (a name, note, tags) is saved with
    the run; if the save fails with it, the run is saved without it and ``warning`` (in
    the result and in :class:`RunSaved`) says so: words never cost a trained model. A
    sweep passes ``sweep`` (saved in ``run.json``) and ``pruned``: set with
    ``stop`` by its pruner, it saves the stopped run as ``pruned``. ``control`` steers the
    training (see :func:`~mnist_tui.core.engine.training.train`); the changes it made are saved
    in ``run.json``'s ``controls``. How the model moved inside at each epoch's end is sent as
    :class:`~mnist_tui.core.events.EpochDynamics` and saved as ``dynamics.json``. Events go to
    ``on_event`` from the calling thread. The objects that exist before the run are kept
    out of cycle collection until it ends.
    """
    store.ensure_writable()  # before the training, not after it
    with frozen_heap():
        started = datetime.now().astimezone()
        recorder = DynamicsRecorder(data.x_train, data.y_train, on_event)
        result = train(
            config,
            data.x_train,
            data.y_train,
            on_event,
            stop,
            control=control,
            observers=(recorder,),
        )
        if not result.trained:  # an untrained model is no run worth keeping
            raise NothingTrained(
                "Stopped before the first training step: nothing was trained, and no run was saved."
            )
        on_event(EvaluationStarted(samples=len(data.y_test)))
        evaluation = evaluate_model(result.model, data.x_test, data.y_test)
        status: RunStatus = result.finished.outcome
        if status == "stopped" and pruned is not None and pruned.is_set():
            status = "pruned"
        save = functools.partial(
            store.save,
            model=result.model,
            config=config,
            status=status,
            history=result.finished.history,
            evaluation=evaluation,
            train_seconds=result.finished.seconds,
            param_count=result.param_count,
            device=result.device,
            dataset={
                "source": data.source,
                "location": data.location,
                "verified": data.verified,
                "sha256": data.digests,
            },
            started=started,
            steps=result.finished.steps,
            sweep=sweep,
            controls=result.finished.controls,
        )
        warning = ""
        try:
            run = save(annotation=annotation)
        except (RunError, ValueError) as exc:
            if annotation is None:
                raise
            run = save()  # if this fails too, that is the error to report
            warning = f"saved without its name, note and tags ({exc})"
        try:
            write_dynamics(run.path, recorder.epochs)
        except OSError as exc:  # the run stands without them
            lost = f"saved without its training dynamics ({exc.strerror or exc})"
            warning = f"{warning}; {lost}" if warning else lost
        on_event(
            RunSaved(
                run_id=run.run_id,
                path=str(run.path),
                outcome=status,
                test_loss=evaluation.loss,
                test_accuracy=evaluation.accuracy,
                warning=warning,
            )
        )
    return SessionResult(run=run, result=result, evaluation=evaluation, warning=warning)
