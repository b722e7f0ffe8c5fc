"""Messages that worker threads and screens post to the app (plain data only)."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from mnist_tui.core.data.mnist import MnistData
from mnist_tui.core.engine.evaluation import Evaluation
from mnist_tui.core.events import BatchProgress, TrainingEvent
from mnist_tui.core.runs.store import RunInfo
from mnist_tui.core.sweeps.worker import SweepEvent, TrialProgress, WorkerResult


@dataclass
class DataStatus(Message):
    """Progress while MNIST loads (a line for the status bar)."""

    text: str

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, DataStatus)


@dataclass
class DataLoaded(Message):
    """MNIST is loaded and verified."""

    data: MnistData


@dataclass
class DataFailed(Message):
    """MNIST could not be loaded: ``explanation`` says what was tried and how to fix it."""

    explanation: str


@dataclass
class EngineReady(Message):
    """TensorFlow is imported; ``device`` is where it will train."""

    device: str


@dataclass
class EngineEvent(Message):
    """A training event from the core engine."""

    event: TrainingEvent

    def can_replace(self, message: Message) -> bool:
        # A burst of batch progress collapses to the newest one.
        return (
            isinstance(self.event, BatchProgress)
            and isinstance(message, EngineEvent)
            and isinstance(message.event, BatchProgress)
        )


@dataclass
class RunReady(Message):
    """A run (fresh or reopened) with its test evaluation, ready to show."""

    run: RunInfo
    evaluation: Evaluation
    fresh: bool


@dataclass
class NoRun(Message):
    """Training ended without a run to show (stopped before its first step)."""

    reason: str


@dataclass
class CompareReady(Message):
    """The marked runs and their test evaluations, ready to compare."""

    runs: list[RunInfo]
    evaluations: list[Evaluation]


@dataclass
class BrowseDisagreements(Message):
    """Browse, in the Samples tab, the digits where compared runs disagree (A and B first).

    ``evaluations`` are the runs' test results, in the order of ``runs`` (no recomputing).
    """

    runs: list[RunInfo]
    evaluations: list[Evaluation]


@dataclass
class SweepProgress(Message):
    """An event of the sweep worker (posted from its thread)."""

    event: SweepEvent

    def can_replace(self, message: Message) -> bool:
        # A burst of batch progress collapses to the newest one.
        return (
            isinstance(message, SweepProgress)
            and _is_batch(self.event)
            and _is_batch(message.event)
        )


@dataclass
class SweepEnded(Message):
    """The sweep worker ended: its result, or why it could not go on."""

    result: WorkerResult | None
    problem: str


def _is_batch(event: SweepEvent) -> bool:
    return isinstance(event, TrialProgress) and isinstance(event.event, BatchProgress)
