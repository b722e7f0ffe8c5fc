"""Training progress for the headless CLI: a live rich view, or quiet log lines."""

from __future__ import annotations

import dataclasses
import re
import time
from typing import IO

from rich.console import Console, Group
from rich.live import Live
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from mnist_tui.core.events import (
    BatchProgress,
    EpochEnd,
    EvaluationStarted,
    RunSaved,
    TrainingEvent,
    TrainingFinished,
    TrainingStarted,
    plural,
)
from mnist_tui.core.files import strict_json
from mnist_tui.tables import epoch_table, fmt

WIDE_COLUMNS = 110
"""Terminal width from which the progress lines also show counts and running metrics."""


class LiveTrainingView:
    """Rich progress bars (epoch and overall) above a live epoch table, for a terminal."""

    def __init__(self, console: Console) -> None:
        self._console = console
        wide = console.width >= WIDE_COLUMNS
        # In a narrow terminal the counts and running metrics give way, so the bar,
        # throughput and times are never cut off mid-figure (the table has the metrics).
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(bar_width=40 if wide else 20),
            *([MofNCompleteColumn()] if wide else []),
            TextColumn("{task.fields[rate]}"),
            *([TextColumn("{task.fields[metrics]}")] if wide else []),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,
        )
        self._rows: list[EpochEnd] = []
        self._live = Live(self._render(), console=console, refresh_per_second=8, transient=False)
        self._epoch_task: TaskID | None = None
        self._overall: TaskID | None = None
        self._started: TrainingStarted | None = None

    def _render(self) -> Group:
        return Group(epoch_table(self._rows, title="Epochs"), self._progress)

    def __enter__(self) -> LiveTrainingView:
        self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._live.__exit__(None, None, None)

    def __call__(self, event: TrainingEvent) -> None:
        match event:
            case TrainingStarted():
                self._started = event
                self._console.print(escape(event.description))
                self._overall = self._progress.add_task(
                    "overall", total=event.epochs * event.steps_per_epoch, rate="", metrics=""
                )
                self._epoch_task = self._progress.add_task(
                    "epoch 1", total=event.steps_per_epoch, rate="", metrics=""
                )
            case BatchProgress() if self._started and self._epoch_task is not None:
                self._progress.update(
                    self._epoch_task,
                    completed=event.step,
                    description=f"epoch {event.epoch}",
                    rate=f"{event.samples_per_second:,.0f} samples/s",
                    metrics=f"loss {event.loss:.4f} acc {event.accuracy:.4f}",
                )
                self._progress.update(
                    self._overall_id(),
                    completed=(event.epoch - 1) * self._started.steps_per_epoch + event.step,
                )
            case EpochEnd() if self._started and self._epoch_task is not None:
                self._rows.append(event)
                steps = self._started.steps_per_epoch
                self._progress.update(self._overall_id(), completed=event.epoch * steps)
                if event.epoch < self._started.epochs:
                    # The next epoch starts with no figures of its own, not the last
                    # one's (a fast epoch may end before its first progress report).
                    self._progress.reset(
                        self._epoch_task,
                        total=steps,
                        description=f"epoch {event.epoch + 1}",
                        rate="",
                        metrics="",
                    )
                else:
                    self._progress.update(self._epoch_task, completed=steps)
                self._live.update(self._render())
            case EvaluationStarted():
                self._progress.stop()
                self._console.print(f"Evaluating on {event.samples:,} test digits...")
            case _:
                pass

    def _overall_id(self) -> TaskID:
        assert self._overall is not None
        return self._overall


class LogLinesView:
    """One line per epoch and phase: for logs, CI and pipes (no bars, no flooding)."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self._began = time.perf_counter()
        self._epochs = 0

    def _say(self, text: str) -> None:
        self._stream.write(f"[{time.perf_counter() - self._began:7.1f}s] {text}\n")
        self._stream.flush()

    def __enter__(self) -> LogLinesView:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def __call__(self, event: TrainingEvent) -> None:
        match event:
            case TrainingStarted():
                self._epochs = event.epochs
                self._say(
                    f"{event.description}, {plural(event.epochs, 'epoch')} x "
                    f"{plural(event.steps_per_epoch, 'step')}"
                )
            case EpochEnd():
                val = (
                    f" val_loss {fmt(event.val_loss)} val_accuracy {fmt(event.val_accuracy)}"
                    if event.val_loss is not None
                    else ""
                )
                self._say(
                    f"epoch {event.epoch}/{self._epochs} loss {fmt(event.loss)} "
                    f"accuracy {fmt(event.accuracy)}{val} ({event.seconds:.1f}s)"
                )
            case TrainingFinished():
                self._say(event.summary)
            case EvaluationStarted():
                self._say(f"evaluating on {event.samples} test digits")
            case RunSaved():
                self._say(f"saved {event.run_id} to {event.path}")
            case _:
                pass


def event_record(event: TrainingEvent) -> dict[str, object]:
    """An engine event as a JSON-ready object: ``{"event": "epoch_end", ...its fields}``."""
    kind = re.sub(r"(?<!^)(?=[A-Z])", "_", type(event).__name__).lower()
    return {"event": kind, **dataclasses.asdict(event)}


class JsonLinesView:
    """Every engine event as one strict JSON object per line (``train --jsonl``), each
    flushed at once, so a script or notebook can follow a run as it trains."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream

    def __enter__(self) -> JsonLinesView:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def __call__(self, event: TrainingEvent) -> None:
        self._stream.write(strict_json.dumps(event_record(event)) + "\n")
        self._stream.flush()


class TeeView:
    """Sends each event to several views (``--jsonl`` beside the progress on stderr)."""

    def __init__(self, *views: LiveTrainingView | LogLinesView | JsonLinesView) -> None:
        self._views = views

    def __enter__(self) -> TeeView:
        for view in self._views:
            view.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        for view in reversed(self._views):
            view.__exit__(*exc)

    def __call__(self, event: TrainingEvent) -> None:
        for view in self._views:
            view(event)
