"""A training or a sweep the app runs: its settings, its stop event, its steering, and the
thread bodies that run it through the core and report through messages only."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Literal

from textual.message import Message

from mnist_tui.core.config import TrainConfig
from mnist_tui.core.data.mnist import MnistData
from mnist_tui.core.engine.control import TrainingControl
from mnist_tui.core.events import (
    OUTCOME_TEXT,
    BatchProgress,
    ControlApplied,
    TrainingEvent,
    epochs_text,
    plural,
)
from mnist_tui.core.runs.annotations import Annotation
from mnist_tui.core.runs.store import RunStore
from mnist_tui.core.sweeps.insight import quiet_optuna
from mnist_tui.core.sweeps.storage import DEFAULT_HEARTBEAT, SweepError, SweepSettings, SweepStorage
from mnist_tui.core.sweeps.worker import SweepEvent, run_worker
from mnist_tui.ui.messages import EngineEvent, NoRun, RunReady, SweepEnded, SweepProgress
from mnist_tui.ui.tabs.sweep_view import SweepRequest

Post = Callable[[Message], object]
"""How a thread reports: the app's ``post_message`` (thread-safe, never blocks)."""


class Session:
    """One training (a single run) or one sweep, from its start to its end.

    The app holds the one running (``MnistApp.session``); its thread holds it too, and
    reads only :attr:`stop_event` and :attr:`control`, both thread-safe. The thread's last
    word, what the command line prints if the app quit meanwhile, is :attr:`farewell`.
    """

    def __init__(self, kind: Literal["training", "sweep"], config: TrainConfig) -> None:
        self.kind = kind
        self.config = config
        """The run's settings (a sweep's: what its trials do not search)."""
        self.stop_event = threading.Event()
        """Set to stop: the run (or the sweep's trial in training) stops within a step
        and is saved as stopped."""
        self.control = TrainingControl(early_stopping=bool(config.early_stopping_patience))
        """Steers the running training (pause, learning rate, how it ends)."""
        self.learning_rate = config.learning_rate
        """The learning rate of the newest step reported (or of the last change applied)."""
        self._farewell: Future[str | None] = Future()

    @property
    def stopping(self) -> bool:
        """It was told to stop."""
        return self.stop_event.is_set()

    def stop(self) -> bool:
        """Tell it to stop; ``False`` if it was told already."""
        if self.stop_event.is_set():
            return False
        self.stop_event.set()
        return True

    def observe(self, event: TrainingEvent) -> None:
        """Keep up with the training's events (on the app's thread)."""
        match event:
            case BatchProgress(point=point) if point is not None:
                self.learning_rate = point.learning_rate
            case ControlApplied(kind="learning_rate", value=value):
                self.learning_rate = value

    def rate_change_text(self) -> str | None:
        """Where the changes asked so far take the rate (their net change: ``-`` then
        ``+`` is no change), or ``None`` when none is pending."""
        rate = self.learning_rate
        target = self.control.pending_rate(rate)
        if target is None:
            return None
        when = "when training resumes" if self.control.paused else "at the next step"
        change = (
            f"stays {rate:.3g}"
            if math.isclose(target, rate, rel_tol=1e-6)
            else f"{rate:.3g} → {target:.3g}"
        )
        return f"Learning rate {change} {when}…"

    def why_not_steer(self, action: str) -> str | None:
        """Why the steering ``action`` cannot act on this training now; ``None`` when it
        can (the app checks first that a training runs)."""
        if self.stopping:
            return "The training is stopping."
        if action == "toggle_early_stopping" and not self.config.validation_split:
            return "Early stopping needs a validation split: set one in Setup for a new run."
        return None

    def toggle_pause(self) -> str:
        """Pause between steps, or carry on; what the status then says."""
        if self.control.paused:
            self.control.resume()
            return "Resuming…"
        self.control.pause()
        return "Pausing after this step…"

    def scale_rate(self, factor: float) -> str | None:
        """Multiply the learning rate by ``factor`` from the next step on; where the
        changes asked so far take it (:meth:`rate_change_text`)."""
        self.control.scale_learning_rate(factor)
        return self.rate_change_text()

    def set_rate(self, rate: float) -> str | None:
        """Set the learning rate from the next step on; where the changes asked so far
        take it (:meth:`rate_change_text`)."""
        self.control.set_learning_rate(rate)
        return self.rate_change_text()

    def toggle_stop_after_epoch(self) -> None:
        """End the run when this epoch ends (asked again: carry on)."""
        self.control.set_stop_after_epoch(not self.control.stopping_after_epoch)

    def toggle_early_stopping(self) -> None:
        """Turn early stopping on or off for the rest of the run."""
        self.control.set_early_stopping(not self.control.early_stopping)

    def ended(self, farewell: str | None) -> None:
        """Called by the thread as it ends (any thread may call it, once)."""
        if not self._farewell.done():
            self._farewell.set_result(farewell)

    @property
    def farewell(self) -> str | None:
        """What ended, in a line for the command line: ``None`` until the thread ends."""
        return self._farewell.result() if self._farewell.done() else None


def control_news(event: ControlApplied) -> tuple[str, str | None]:
    """What a change that took effect means to the user: the Training tab's status, and
    a notification (``None`` for a pause or a resume, which the progress line shows)."""
    match event.kind:
        case "pause":
            return "Paused: p resumes; ctrl+s stops and saves the run.", None
        case "resume":
            return f"Resumed after {event.value:.1f}s paused.", None
        case "learning_rate":
            text = f"Learning rate now {event.value:.3g} (from step {event.step:,})"
        case "stop_after_epoch":
            text = (
                "The run stops when this epoch ends"
                if event.value
                else "The run carries on past this epoch"
            )
        case "early_stopping":
            text = f"Early stopping {'on' if event.value else 'off'}"
    return f"{text}.", text


def train(
    session: Session,
    data: MnistData,
    store: RunStore,
    annotation: Annotation | None,
    post: Post,
) -> None:
    """Train, evaluate and save through the core (in a thread worker)."""
    from mnist_tui.core.session import NothingTrained, train_evaluate_save

    def report(event: TrainingEvent) -> None:
        post(EngineEvent(event))

    try:
        result = train_evaluate_save(
            session.config,
            data,
            store,
            report,
            session.stop_event,
            annotation,
            control=session.control,
        )
    except NothingTrained as exc:
        session.ended(f"Training stopped: {exc}")
        post(NoRun(str(exc)))
        return
    except BaseException:
        session.ended(None)
        raise
    run = result.run
    session.ended(
        f"Training {OUTCOME_TEXT[run.status]}: saved run {run.label}, "
        f"{epochs_text(run.epochs_done)}, test accuracy "
        f"{run.test_accuracy:.2%}, in {run.path}"
    )
    post(RunReady(run, result.evaluation, fresh=True))


def sweep(
    session: Session,
    request: SweepRequest,
    storage_url: str,
    data: MnistData,
    store: RunStore,
    post: Post,
) -> None:
    """Create (or reopen) the study and run trials until done or stopped (in a thread
    worker)."""

    def sink(event: SweepEvent) -> None:
        post(SweepProgress(event))

    quiet_optuna()
    try:
        with SweepStorage(storage_url, heartbeat=DEFAULT_HEARTBEAT) as storage:
            if storage.study_id(request.study) is None:
                storage.create(request.study, SweepSettings(request.space, request.pruner))
            result = run_worker(
                storage,
                request.study,
                data,
                store,
                sink,
                trials=request.trials,
                timeout=request.minutes * 60 if request.minutes else None,
                stop=session.stop_event,
            )
    except SweepError as exc:
        session.ended(None)
        post(SweepEnded(None, str(exc)))
        return
    except BaseException:
        session.ended(None)
        raise
    session.ended(
        f"Sweep {'stopped' if result.stopped else 'finished'}: "
        f"{plural(len(result.trials), 'trial')} run, each saved in {store.root}"
    )
    post(SweepEnded(result, ""))
