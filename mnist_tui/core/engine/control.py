"""Steering a running training from another thread: pause, learning rate, how it ends.

A front end holds a :class:`TrainingControl` and calls its methods from any thread; the
engine (:func:`mnist_tui.core.engine.training.train`) reads it between compiled calls, applies
each request there and reports it as a :class:`~mnist_tui.core.events.ControlApplied`.
This module imports neither TensorFlow nor a front end.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

RequestKind = Literal["learning_rate", "learning_rate_factor", "stop_after_epoch", "early_stopping"]
"""What a request asks: set the rate, multiply it, end after this epoch (1) or not (0),
early stopping on (1) or off (0)."""
PAUSE_POLL = 0.1
"""Seconds between two looks at the stop flag while paused (quit and stop act this fast)."""
MAX_LEARNING_RATE = 10.0
"""The highest rate a change may reach (the form's limit)."""


@dataclass(frozen=True)
class ControlRequest:
    """One change asked for, waiting for the engine's next compiled call."""

    kind: RequestKind
    value: float


RATE_KINDS = frozenset({"learning_rate", "learning_rate_factor"})


def rate_after(current: float, requests: Iterable[ControlRequest]) -> float:
    """The learning rate that the rate requests among ``requests`` lead to from
    ``current``, applied in order (each result capped at :data:`MAX_LEARNING_RATE`)."""
    rate = current
    for request in requests:
        if request.kind in RATE_KINDS:
            rate = min(
                request.value if request.kind == "learning_rate" else rate * request.value,
                MAX_LEARNING_RATE,
            )
    return rate


class TrainingControl:
    """Thread-safe steering of one run: the front end asks, the engine applies.

    Pause takes effect after the current compiled call; the other requests are queued and
    applied, in order, at the end of the next one (or at the epoch's end if that comes
    first). ``early_stopping`` is the initial state of early stopping (the config's).
    """

    def __init__(self, *, early_stopping: bool = False) -> None:
        self._lock = threading.Lock()
        self._running = threading.Event()
        self._running.set()
        self._pending: list[ControlRequest] = []
        self._stop_after_epoch = False
        self._early_stopping = early_stopping

    # --- asked by a front end (any thread) ---------------------------------------------------

    @property
    def paused(self) -> bool:
        """A pause is asked for (the engine waits once its current call ends)."""
        return not self._running.is_set()

    @property
    def stopping_after_epoch(self) -> bool:
        """The run is asked to end when the current epoch ends."""
        return self._stop_after_epoch

    @property
    def early_stopping(self) -> bool:
        """Early stopping is (or is asked to be) on."""
        return self._early_stopping

    def pause(self) -> None:
        """Wait between compiled calls until :meth:`resume` (or the stop flag)."""
        self._running.clear()

    def resume(self) -> None:
        """Carry on after :meth:`pause`."""
        self._running.set()

    def set_learning_rate(self, rate: float) -> None:
        """Make the step size ``rate`` from the next call on (a schedule keeps its shape,
        scaled); ``rate`` must be in (0, :data:`MAX_LEARNING_RATE`]."""
        if not (math.isfinite(rate) and 0 < rate <= MAX_LEARNING_RATE):
            raise ValueError(f"a learning rate must be in (0, {MAX_LEARNING_RATE:g}]")
        self._ask(ControlRequest("learning_rate", rate))

    def scale_learning_rate(self, factor: float) -> None:
        """Multiply the step size by ``factor`` (> 0) from the next call on; the result is
        capped at :data:`MAX_LEARNING_RATE`."""
        if not (math.isfinite(factor) and factor > 0):
            raise ValueError("a learning-rate factor must be a positive number")
        self._ask(ControlRequest("learning_rate_factor", factor))

    def set_stop_after_epoch(self, stop: bool) -> None:
        """End the run (outcome ``stopped``) when the current epoch ends, or no longer."""
        with self._lock:
            self._stop_after_epoch = stop
            self._pending.append(ControlRequest("stop_after_epoch", float(stop)))

    def set_early_stopping(self, on: bool) -> None:
        """Turn early stopping on or off (it acts only with a validation split)."""
        with self._lock:
            self._early_stopping = on
            self._pending.append(ControlRequest("early_stopping", float(on)))

    def pending_rate(self, current: float) -> float | None:
        """The learning rate the requests not yet applied will set, from ``current`` (the
        net change of several), or ``None`` when none changes the rate."""
        with self._lock:
            pending = list(self._pending)
        if not any(request.kind in RATE_KINDS for request in pending):
            return None
        return rate_after(current, pending)

    def _ask(self, request: ControlRequest) -> None:
        with self._lock:
            self._pending.append(request)

    # --- read by the engine (the training thread) --------------------------------------------

    def take(self) -> list[ControlRequest]:
        """The requests not yet applied, oldest first; they are handed over once."""
        with self._lock:
            taken, self._pending = self._pending, []
        return taken

    def wait_while_paused(self, stop: threading.Event) -> float:
        """Block while paused, looking at ``stop`` every :data:`PAUSE_POLL` seconds;
        the seconds spent waiting."""
        began = time.perf_counter()
        while not self._running.wait(PAUSE_POLL):
            if stop.is_set():
                break
        return time.perf_counter() - began
