"""The training engine: a model trained in the calling thread, reporting typed events."""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from mnist_tui.core.config import TrainConfig
from mnist_tui.core.data.inputs import as_float_images
from mnist_tui.core.engine.control import RATE_KINDS, ControlRequest, TrainingControl, rate_after
from mnist_tui.core.engine.evaluation import NUM_CLASSES, confusion_matrix
from mnist_tui.core.engine.fitting import fit_in_memory
from mnist_tui.core.engine.models import (
    ScaledRate,
    build_loss,
    build_model,
    build_optimizer,
    forward_flops,
)
from mnist_tui.core.events import (
    BatchProgress,
    ControlApplied,
    EpochEnd,
    Outcome,
    StepPoint,
    TrainingEvent,
    TrainingFinished,
    TrainingStarted,
)

EventSink = Callable[[TrainingEvent], None]

PROGRESS_INTERVAL = 0.2
"""Seconds between two :class:`BatchProgress` events, at their fastest: a live bar (4 or
more ticks a second) without taking CPU from training; see docs/performance.md."""
TARGET_EXECUTION_FLOPS = 1.65e9
"""Forward-pass work per compiled execution; sets ``steps_per_execution`` so that one
call lasts tens of milliseconds: progress stays live and a stop acts at once, for the
MLP and the CNN alike (the measurements are in docs/performance.md)."""
MAX_STEP_POINTS = 10_000
"""A run's per-step curve keeps at most this many points (about 0.7 MB of run.json)."""
MAX_CONTROLS = 1000
"""A run records at most this many of the user's changes (more still take effect)."""
DEFAULT_PATIENCE = 3
"""Early stopping's patience when a user turns it on for a run configured without it."""
EVAL_BATCH = 1024
"""Digits per batch of the validation pass (a stop is honoured between two)."""


@dataclass(frozen=True)
class TrainResult:
    """What :func:`train` returns: the trained model and how the run went."""

    model: keras.Model
    finished: TrainingFinished
    param_count: int
    device: str
    trained: bool = True
    """False when the stop came before the first step: the model is as initialised."""


def describe_device() -> str:
    """Where TensorFlow runs: the first GPU's name, or the CPU and its threads."""
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        name = details.get("device_name", gpus[0].name)
        extra = f" (+{len(gpus) - 1} more)" if len(gpus) > 1 else ""
        return f"GPU {name}{extra}"
    return f"CPU ({os.cpu_count() or 1} cores)"


CONV_SLOWNESS = 2
"""When sizing compiled calls, a convnet's forward FLOP counts as this many dense ones.
It takes about 4 times as long on this CPU; counting it as 2 keeps a call near 0.1 s,
short enough for 4 progress ticks a second at little cost in speed (4 cost 5-7% of a
CNN's training time; docs/performance.md)."""


def steps_per_execution(config: TrainConfig) -> int:
    """How many steps the engine runs per compiled call for this model and batch size."""
    cost = forward_flops(config) * (CONV_SLOWNESS if config.architecture == "cnn" else 1)
    return max(1, round(TARGET_EXECUTION_FLOPS / (cost * config.batch_size)))


def split_train_val(
    config: TrainConfig, x: np.ndarray, y: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Hold out the last ``validation_split`` of the training digits, as Keras does."""
    val_count = round(len(x) * config.validation_split)
    cut = len(x) - val_count
    return x[:cut], y[:cut], x[cut:], y[cut:]


@dataclass(frozen=True)
class Validation:
    """One epoch's figures on the validation digits, all from one pass of predictions."""

    loss: float
    """The model's own compiled loss (and any regularization), as ``model.evaluate``
    reports it."""
    accuracy: float
    confusion: tuple[tuple[int, ...], ...]
    """10x10 counts, rows true class, columns predicted."""


def validation_probabilities(
    model: Any, x_val: np.ndarray, stop: threading.Event
) -> np.ndarray | None:
    """The model's class probabilities for the uint8 digits ``x_val`` (as float inputs in
    [0, 1], like training's), :data:`EVAL_BATCH` at a time; ``None`` when ``stop`` is set
    before the pass is done (it is checked before every batch)."""
    parts: list[np.ndarray] = []
    for start in range(0, len(x_val), EVAL_BATCH):
        if stop.is_set():
            return None
        batch = as_float_images(x_val[start : start + EVAL_BATCH])
        parts.append(np.asarray(model.predict_on_batch(batch), dtype=np.float32))
    return np.concatenate(parts) if parts else np.zeros((0, NUM_CLASSES), np.float32)


def measure_validation(
    model: Any, x_val: np.ndarray, y_val: np.ndarray, stop: threading.Event
) -> Validation | None:
    """The loss, accuracy and confusion matrix of ``model`` on the validation digits,
    from a single pass of predictions; ``None`` when ``stop`` cut the pass short."""
    probabilities = validation_probabilities(model, x_val, stop)
    if probabilities is None:
        return None
    labels = np.asarray(y_val, dtype=np.int64)
    loss = model.compute_loss(y=labels, y_pred=probabilities, training=False)
    confusion = confusion_matrix(labels, probabilities.argmax(axis=1))
    hits = int(np.trace(confusion))
    return Validation(
        loss=float(loss),
        accuracy=hits / len(labels) if len(labels) else 0.0,
        confusion=tuple(tuple(int(n) for n in row) for row in confusion),
    )


class _SteerableEarlyStopping(keras.callbacks.EarlyStopping):  # type: ignore[misc]
    """Keras's early stopping on ``val_loss``, best weights restored, that a user may turn
    off (it still tracks the best epoch, but never stops and keeps the last weights) and
    on again (its patience then counts from that epoch). An epoch without a ``val_loss``
    (one a stop cut short) is not judged."""

    def __init__(self, patience: int, enabled: bool) -> None:
        super().__init__(monitor="val_loss", patience=patience, restore_best_weights=True)
        self.enabled = enabled
        self._patience = patience

    def set_enabled(self, enabled: bool) -> None:
        """Turn it on or off from the next epoch's end."""
        if enabled and not self.enabled:
            self.wait = 0
        self.enabled = enabled

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if logs is None or logs.get(self.monitor) is None:
            return
        self.patience = self._patience if self.enabled else math.inf
        super().on_epoch_end(epoch, logs)

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        if not self.enabled:  # off: the model keeps the last epoch's weights
            self.best_weights = None
        super().on_train_end(logs)


class _EventCallback(keras.callbacks.Callback):  # type: ignore[misc]
    """Turns Keras callbacks into engine events; honours the stop flag and applies the
    user's requests (:class:`TrainingControl`) between compiled calls.

    With ``validation`` digits it measures them at each epoch's end
    (:func:`measure_validation`) and writes ``val_loss`` and ``val_accuracy`` into the
    epoch's logs: it must come first among the callbacks, since the training loop hands the
    same logs to each in turn (early stopping reads them after it).
    """

    def __init__(
        self,
        sink: EventSink,
        stop: threading.Event,
        started: TrainingStarted,
        batch_size: int,
        train_samples: int,
        control: TrainingControl | None = None,
        early: _SteerableEarlyStopping | None = None,
        validation: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> None:
        super().__init__()
        self._sink = sink
        self._stop = stop
        self._control = control
        self._early = early
        self._validation = validation
        self.controls: list[ControlApplied] = []
        """The user's changes applied so far (at most :data:`MAX_CONTROLS`)."""
        self.paused_seconds = 0.0
        """Time spent paused: no measured duration counts it."""
        self._stop_after_epoch = False
        self.ended_after_epoch = False
        """The run ended at an epoch's end because the user asked for it."""
        self._started = started
        self._batch_size = batch_size
        self._train_samples = train_samples
        self._epoch = 0
        self._epoch_start = 0.0
        self._last_epoch_end: float | None = None
        self._last_report = 0.0
        self._steps_done = 0
        self.history: list[EpochEnd] = []
        self.steps: list[StepPoint] = []
        """The per-step curve so far (every ``_stride``-th tick once it grew long)."""
        self._stride = 1
        self._ticks = 0
        self._global_steps = 0
        self._tick_step = 0
        self._tick_sums = (0.0, 0.0)

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._last_report = time.perf_counter()
        self._sink(self._started)

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._epoch = epoch + 1
        # An epoch's time runs from the last one's end: what happens between two epochs
        # (the observers' measures, Keras's own work) is counted in the next one, so the
        # epochs' times add up to the training's.
        now = time.perf_counter()
        self._epoch_start = now if self._last_epoch_end is None else self._last_epoch_end
        self._global_steps += self._steps_done
        self._steps_done = 0
        self._tick_step = 0
        self._tick_sums = (0.0, 0.0)

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self._steps_done = batch + 1
        if self._control is not None:
            self._steer(self._control, logs)
        if self._stop.is_set():
            self.model.stop_training = True
            return
        now = time.perf_counter()
        if now - self._last_report < PROGRESS_INTERVAL or not logs:
            return
        self._report(logs, now)

    def _report(self, logs: dict[str, Any], now: float) -> None:
        """Send where training stands at this step."""
        self._last_report = now
        elapsed = now - self._epoch_start
        seen = min(self._steps_done * self._batch_size, self._train_samples)
        self._sink(
            BatchProgress(
                epoch=self._epoch,
                step=self._steps_done,
                steps=self._started.steps_per_epoch,
                loss=float(logs.get("loss", math.nan)),
                accuracy=float(logs.get("accuracy", math.nan)),
                samples_per_second=seen / elapsed if elapsed > 0 else 0.0,
                epoch_seconds=elapsed,
                point=self._point(logs),
            )
        )

    def _point(self, logs: dict[str, Any]) -> StepPoint:
        """This tick on the curve. Keras's logs hold running means over the epoch, so
        the mean over the steps since the last tick is their weighted difference."""
        loss_mean = float(logs.get("loss", math.nan))
        accuracy_mean = float(logs.get("accuracy", math.nan))
        steps, (loss_sum, accuracy_sum) = self._steps_done, self._tick_sums
        window = max(1, steps - self._tick_step)
        point = StepPoint(
            step=self._global_steps + steps,
            samples=(self._epoch - 1) * self._train_samples
            + min(steps * self._batch_size, self._train_samples),
            epoch=self._epoch,
            loss=max(0.0, (loss_mean * steps - loss_sum) / window),
            loss_mean=loss_mean,
            accuracy=min(1.0, max(0.0, (accuracy_mean * steps - accuracy_sum) / window)),
            accuracy_mean=accuracy_mean,
            learning_rate=self._learning_rate(),
        )
        self._tick_step, self._tick_sums = steps, (loss_mean * steps, accuracy_mean * steps)
        self._ticks += 1
        if self._ticks % self._stride == 0:
            self.steps.append(point)
            if len(self.steps) >= MAX_STEP_POINTS:  # thin evenly: every other point
                self.steps = self.steps[1::2]
                self._stride *= 2
        return point

    @property
    def _step(self) -> int:
        return self._global_steps + self._steps_done

    def _steer(self, control: TrainingControl, logs: dict[str, Any] | None) -> None:
        """Apply the queued requests, then wait here while paused (not counted as time);
        a pause first reports this very step, so the paused view shows where it stands."""
        self._apply(control.take())
        if not control.paused or self._stop.is_set():
            return
        if logs:
            self._report(logs, time.perf_counter())
        self._record(ControlApplied(self._step, "pause", 0.0))
        waited = control.wait_while_paused(self._stop)
        self.paused_seconds += waited
        self._epoch_start += waited
        self._last_report += waited
        self._record(ControlApplied(self._step, "resume", round(waited, 3)))
        self._apply(control.take())  # what was asked while paused acts on resuming

    def _apply(self, requests: list[ControlRequest]) -> None:
        """Apply the requests taken at one step; the rate changes among them act as one
        (their net change, recorded once: none if they cancel out)."""
        rate = self._change_rate(requests)
        if rate is not None:
            self._record(ControlApplied(self._step, "learning_rate", rate))
        for request in requests:
            match request.kind:
                case "stop_after_epoch":
                    self._stop_after_epoch = bool(request.value)
                    self._record(ControlApplied(self._step, "stop_after_epoch", request.value))
                case "early_stopping":
                    if self._early is not None:
                        self._early.set_enabled(bool(request.value))
                        self._record(ControlApplied(self._step, "early_stopping", request.value))

    def _change_rate(self, requests: list[ControlRequest]) -> float | None:
        """Rescale the optimizer's :class:`ScaledRate` so its rate at this step becomes
        what the rate requests among ``requests`` ask (:func:`rate_after`); the new rate,
        or ``None`` when there is no change or the rate cannot be scaled (it is 0 at this
        step, or not a :class:`ScaledRate`)."""
        if not any(request.kind in RATE_KINDS for request in requests):
            return None
        schedule = getattr(self.model.optimizer, "_learning_rate", None)
        current = self._learning_rate()
        if not isinstance(schedule, ScaledRate) or not current > 0:
            return None
        target = rate_after(current, requests)
        if math.isclose(target, current, rel_tol=1e-6):
            return None
        schedule.set_scale(schedule.scale_value * target / current)
        return self._learning_rate()

    def _record(self, applied: ControlApplied) -> None:
        if len(self.controls) < MAX_CONTROLS:
            self.controls.append(applied)
        self._sink(applied)

    def _learning_rate(self) -> float:
        try:
            rate = self.model.optimizer.learning_rate
            return float(rate.numpy() if hasattr(rate, "numpy") else rate)
        except (AttributeError, TypeError, ValueError):
            return math.nan

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        logs = {} if logs is None else logs  # the very dict the later callbacks get
        if self._control is not None:  # asked during the epoch's last call
            self._apply(self._control.take())
        if self._steps_done < self._started.steps_per_epoch:
            return  # stopped mid-epoch: not a whole epoch of history
        validation = None
        if self._validation is not None:
            validation = measure_validation(self.model, *self._validation, self._stop)
            if validation is None:  # a stop came during the pass: not a whole epoch either
                self.model.stop_training = True
                return
            logs["val_loss"], logs["val_accuracy"] = validation.loss, validation.accuracy
        event = EpochEnd(
            epoch=epoch + 1,
            loss=float(logs["loss"]),
            accuracy=float(logs["accuracy"]),
            val_loss=None if validation is None else validation.loss,
            val_accuracy=None if validation is None else validation.accuracy,
            seconds=time.perf_counter() - self._epoch_start,
            val_confusion=None if validation is None else validation.confusion,
        )
        self.history.append(event)
        self._sink(event)
        self._last_epoch_end = time.perf_counter()
        if self._stop.is_set():
            self.model.stop_training = True
        elif self._stop_after_epoch and epoch + 1 < self._started.epochs:
            self.model.stop_training = True
            self.ended_after_epoch = True


def train(
    config: TrainConfig,
    x_train: np.ndarray,
    y_train: np.ndarray,
    on_event: EventSink,
    stop: threading.Event | None = None,
    *,
    control: TrainingControl | None = None,
    observers: Sequence[keras.callbacks.Callback] = (),
) -> TrainResult:
    """Build and fit the model for ``config`` in this thread, sending events as it goes.

    ``x_train`` holds uint8 digits (N, 28, 28). Setting ``stop`` ends training within
    one compiled execution (a few tens of milliseconds); the weights learned so far are
    kept and the result's outcome is ``stopped``.

    With a validation split, each epoch ends with one pass of predictions over the
    held-out digits, from which its :class:`EpochEnd` gets ``val_loss``, ``val_accuracy``
    and ``val_confusion`` (and early stopping its ``val_loss``). A stop during that pass
    ends the run between two batches of it, and that epoch is left out of the history,
    as an epoch a stop cut short is.

    ``control`` lets another thread steer the run. The engine runs
    ``steps_per_execution`` steps per compiled call (:func:`.fitting.fit_in_memory`) and
    calls back once per call, so a request acts at the next call: a pause waits between
    calls (waking every ``PAUSE_POLL`` seconds to honour ``stop``; paused time counts in
    no duration), a rate change rescales the optimizer's :class:`ScaledRate`, "stop after
    this epoch" ends the run at the epoch's end (outcome ``stopped``), and early stopping
    (with a validation split only) can be turned on or off. Each applied change is sent
    as a :class:`ControlApplied` and kept in the result's ``controls``.

    ``observers`` are more Keras callbacks, run after the engine's own at every hook (so
    an epoch's :class:`EpochEnd` is sent before theirs): they watch, never steer.
    """
    stop = stop or threading.Event()
    keras.utils.set_random_seed(config.seed)
    x_fit, y_fit, x_val, y_val = split_train_val(config, x_train, y_train)
    if len(x_fit) == 0:
        raise ValueError("no training samples left after the validation split")
    steps = math.ceil(len(x_fit) / config.batch_size)
    model = build_model(config)
    model.compile(
        optimizer=build_optimizer(config, steps * config.epochs),
        loss=build_loss(config),
        metrics=["accuracy"],
    )
    device = describe_device()
    started = TrainingStarted(
        epochs=config.epochs,
        steps_per_epoch=steps,
        train_samples=len(x_fit),
        val_samples=len(x_val),
        param_count=int(model.count_params()),
        device=device,
    )
    early: _SteerableEarlyStopping | None = None
    if len(x_val) and (config.early_stopping_patience or control is not None):
        early = _SteerableEarlyStopping(
            config.early_stopping_patience or DEFAULT_PATIENCE,
            enabled=bool(config.early_stopping_patience),
        )
    reporter = _EventCallback(
        on_event,
        stop,
        started,
        config.batch_size,
        len(x_fit),
        control,
        early,
        (x_val, y_val) if len(x_val) else None,
    )
    callbacks: list[keras.callbacks.Callback] = [reporter]  # first: it writes val_* logs
    if early is not None:
        callbacks.append(early)
    callbacks.extend(observers)

    began = time.perf_counter()
    trained = not stop.is_set()
    if trained:
        fit_in_memory(
            model,
            x_fit,
            y_fit,
            batch_size=config.batch_size,
            epochs=config.epochs,
            seed=config.seed,
            steps_per_call=min(steps, steps_per_execution(config)),
            callbacks=callbacks,
        )
    else:  # stopped before the first batch: nothing to fit
        on_event(started)
    outcome: Outcome = "completed"
    if stop.is_set() or reporter.ended_after_epoch:
        outcome = "stopped"
    elif early is not None and early.stopped_epoch > 0:
        outcome = "early_stopped"
    kept: int | None = None
    if early is not None and early.best_weights is not None:  # Keras put them back
        kept = early.best_epoch + 1
    finished = TrainingFinished(
        outcome=outcome,
        history=tuple(reporter.history),
        seconds=time.perf_counter() - began - reporter.paused_seconds,
        steps=tuple(reporter.steps),
        controls=tuple(reporter.controls),
        kept_epoch=kept if kept != len(reporter.history) else None,
    )
    on_event(finished)
    return TrainResult(
        model=model,
        finished=finished,
        param_count=started.param_count,
        device=device,
        trained=trained,
    )
