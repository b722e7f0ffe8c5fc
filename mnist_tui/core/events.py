"""Typed, immutable events the training engine sends to a front end.

They carry plain ints, floats and strings only (never tensors), so a front end can
keep them, compare them or hand them across threads without care.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Outcome = Literal["completed", "stopped", "early_stopped"]
RunStatus = Literal["completed", "stopped", "early_stopped", "pruned"]
"""A saved run's status: how its training ended, or ``pruned`` by a sweep's pruner."""

NO_GAIN = "no validation gain"
"""Why early stopping ended a run, in every front end's words."""
OUTCOME_TEXT: dict[str, str] = {
    "completed": "completed",
    "stopped": "stopped by you",
    "early_stopped": f"stopped early ({NO_GAIN})",
    "pruned": "pruned by its sweep (unpromising)",
}
"""How each outcome reads to a user."""


def plural(count: int, word: str) -> str:
    """``1 epoch``, ``3 epochs``, ``1,200 digits``."""
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def epochs_text(done: int) -> str:
    """Whole epochs trained: ``1 epoch``, ``3 epochs``; ``under 1 epoch`` for a run that
    stopped within its first (its model learned from the steps it took)."""
    return plural(done, "epoch") if done else "under 1 epoch"


@dataclass(frozen=True)
class TrainingStarted:
    """Training is about to run its first batch."""

    epochs: int
    steps_per_epoch: int
    train_samples: int
    val_samples: int
    param_count: int
    device: str

    @property
    def description(self) -> str:
        """``Training 54,000 digits (6,000 held out) on CPU: 101,770 parameters``."""
        return (
            f"Training {self.train_samples:,} digits ({self.val_samples:,} held out) on "
            f"{self.device}: {self.param_count:,} parameters"
        )


@dataclass(frozen=True)
class StepPoint:
    """One progress tick on a run's training curve (``run.json``'s ``steps``)."""

    step: int
    """Steps done since training began."""
    samples: int
    """Training samples seen since training began."""
    epoch: int
    """1-based epoch of this tick."""
    loss: float
    """Mean loss over the steps since the previous tick: the raw, noisy curve."""
    loss_mean: float
    """Running mean loss over this epoch so far."""
    accuracy: float
    """Accuracy over the steps since the previous tick."""
    accuracy_mean: float
    """Running accuracy over this epoch so far."""
    learning_rate: float
    """The optimizer's step size at this step."""


STEP_FIELDS = tuple(StepPoint.__dataclass_fields__)
"""The columns of a per-step history, in order."""


@dataclass(frozen=True)
class BatchProgress:
    """Progress inside an epoch; sent at most a few times a second."""

    epoch: int
    """1-based epoch number."""
    step: int
    """Steps done in this epoch."""
    steps: int
    """Steps in a whole epoch."""
    loss: float
    """Running mean loss over this epoch so far."""
    accuracy: float
    """Running accuracy over this epoch so far."""
    samples_per_second: float
    """Training throughput over this epoch so far."""
    epoch_seconds: float
    """Seconds spent in this epoch so far."""
    point: StepPoint | None = None
    """This tick on the training curve (recorded in the run's per-step history)."""


@dataclass(frozen=True)
class EpochEnd:
    """An epoch finished; also one row of a run's history (``run.json``).

    Validation figures are ``None`` without a validation split (and in rows saved before
    the confusion matrix was recorded, ``val_confusion`` alone).
    """

    epoch: int
    loss: float
    accuracy: float
    val_loss: float | None
    val_accuracy: float | None
    seconds: float
    val_confusion: tuple[tuple[int, ...], ...] | None = None
    """The validation digits' 10x10 confusion matrix at this epoch's end: rows true class,
    columns predicted (each digit's accuracy: ``evaluation.per_digit_accuracy``)."""


@dataclass(frozen=True)
class TrainingFinished:
    """Training returned: the whole history and why it ended."""

    outcome: Outcome
    history: tuple[EpochEnd, ...] = field(default_factory=tuple)
    seconds: float = 0.0
    kept_epoch: int | None = None
    """The epoch whose weights the model ends with, when early stopping put back its
    best one (the lowest validation loss) instead of the last; else ``None``."""
    steps: tuple[StepPoint, ...] = ()
    """The per-step curve: every progress tick (thinned evenly past ``MAX_STEP_POINTS``)."""
    controls: tuple[ControlApplied, ...] = ()
    """The user's changes during the run, in order (at most ``MAX_CONTROLS``)."""

    @property
    def epochs_done(self) -> int:
        """Completed epochs."""
        return len(self.history)

    @property
    def summary(self) -> str:
        """``Training completed after 5 epochs in 2.3s`` (and which epoch's weights kept)."""
        done = (
            f"after {plural(self.epochs_done, 'epoch')} in"
            if self.epochs_done
            else "within its first epoch, after"
        )
        return f"Training {OUTCOME_TEXT[self.outcome]} {done} {self.seconds:.1f}s{self.kept_note}"

    @property
    def kept_note(self) -> str:
        """What a front end adds after "N epochs" when the model is not the last epoch's."""
        if self.kept_epoch is None:
            return ""
        return f"; the model keeps epoch {self.kept_epoch}'s weights (lowest val loss)"


ControlKind = Literal["pause", "resume", "learning_rate", "stop_after_epoch", "early_stopping"]
"""What a user changed in a running training (``run.json``'s ``controls``)."""
CONTROL_KINDS: tuple[ControlKind, ...] = (
    "pause",
    "resume",
    "learning_rate",
    "stop_after_epoch",
    "early_stopping",
)


@dataclass(frozen=True)
class ControlApplied:
    """A user's change took effect in the training thread (``run.json``'s ``controls``).

    ``value`` by kind: ``pause`` 0; ``resume`` the seconds paused; ``learning_rate`` the
    new step size; ``stop_after_epoch`` and ``early_stopping`` 1 (on) or 0 (off).
    """

    step: int
    """Steps done since training began when it took effect."""
    kind: ControlKind
    value: float

    @property
    def text(self) -> str:
        """``learning rate 0.0025 from step 120`` and the like."""
        on = "on" if self.value else "off"
        what = {
            "pause": "paused",
            "resume": f"resumed after {self.value:.1f}s",
            "learning_rate": f"learning rate {self.value:.3g}",
            "stop_after_epoch": "stop after this epoch"
            if self.value
            else "stop after this epoch cancelled",
            "early_stopping": f"early stopping {on}",
        }[self.kind]
        return f"{what} at step {self.step:,}"


@dataclass(frozen=True)
class Histogram:
    """Counts of values in equal bins from ``low`` to ``high`` (both ends included)."""

    low: float
    high: float
    counts: tuple[int, ...]

    @property
    def total(self) -> int:
        """How many values were counted."""
        return sum(self.counts)


@dataclass(frozen=True)
class LayerDynamics:
    """One layer's inside at an epoch's end (:class:`EpochDynamics`)."""

    layer: str
    """The Keras layer's name."""
    weights: Histogram
    """Every parameter of the layer (kernel and bias)."""
    activations: Histogram
    """The layer's outputs on the probe digits."""
    dead_share: float | None
    """Share of its ReLU units that output 0 for every probe digit; ``None`` when the
    layer has no ReLU."""
    gradient_norm: float
    """L2 norm of the loss's gradient over the layer's parameters, on the probe digits."""


@dataclass(frozen=True)
class EpochDynamics:
    """How training moved inside the model over one epoch, measured at its end on a fixed
    set of probe training digits (``dynamics.json`` beside ``run.json``)."""

    epoch: int
    layers: tuple[LayerDynamics, ...]
    seconds: float
    """Time the measuring took (it counts in the training's time)."""


@dataclass(frozen=True)
class EvaluationStarted:
    """Training is over; the model is being evaluated on the test digits."""

    samples: int


@dataclass(frozen=True)
class RunSaved:
    """The run was evaluated and saved."""

    run_id: str
    path: str
    outcome: RunStatus
    test_loss: float
    test_accuracy: float
    warning: str = ""
    """What the run was saved without (its name, note and tags, which could not be
    written), and why; ``""`` when nothing was left out."""


TrainingEvent = (
    TrainingStarted
    | BatchProgress
    | EpochEnd
    | TrainingFinished
    | EvaluationStarted
    | RunSaved
    | ControlApplied
    | EpochDynamics
)
"""Any event the engine sends (:func:`mnist_tui.core.session.train_evaluate_save`)."""
