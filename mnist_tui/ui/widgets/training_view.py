"""Live training: status, progress with ETA and throughput, curves, epoch table."""

from __future__ import annotations

import time

from rich.progress_bar import ProgressBar as RichProgressBar
from rich.table import Table
from textual.app import ComposeResult, RenderResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Static
from textual_plotext import PlotextPlot

from mnist_tui.core.events import BatchProgress, EpochEnd, TrainingStarted
from mnist_tui.tables import epoch_table

EPOCH_ROWS = 6
"""Epochs the live table shows (header, 6 rows and a caption fill its 8 lines in app.tcss)."""


def fmt_seconds(seconds: float) -> str:
    """``1:05`` style duration."""
    seconds = max(0, round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


class CurvesPlot(PlotextPlot):
    """Loss or accuracy per epoch, train and validation."""

    def __init__(self, metric: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.metric = metric
        self._history: list[EpochEnd] = []
        self._cache: tuple[tuple[object, ...], RenderResult] | None = None

    def show_history(self, history: list[EpochEnd]) -> None:
        """Replace the curves with ``history``."""
        self._history = list(history)
        self.replot()

    def render(self) -> RenderResult:
        """The plot, rebuilt only when its data, size or theme changed.

        Plotext redraws the whole figure in Python on every call, and Textual calls
        ``render`` on every layout pass; during training that stole CPU from TensorFlow.
        """
        key = (len(self._history), self.size, self.app.theme)
        if self._cache is None or self._cache[0] != key:
            self._cache = (key, super().render())
        return self._cache[1]

    def on_mount(self) -> None:
        self.replot()

    def replot(self) -> None:
        """Draw the current history."""
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(self.metric)
        epochs = [row.epoch for row in self._history]
        train = [getattr(row, self.metric) for row in self._history]
        val = [getattr(row, f"val_{self.metric}") for row in self._history]
        if epochs:
            plt.plot(epochs, train, label="train", marker="braille")
            if all(v is not None for v in val):
                plt.plot(epochs, val, label="val", marker="braille")
            if len(epochs) <= 10:  # whole epochs only; plotext picks ticks for longer runs
                plt.xticks([float(e) for e in epochs])
        plt.xlabel("epoch")
        self.refresh()


def progress_lines(epoch_label: str, epoch_done: float, epoch_text: str,
                   overall_done: float, overall_text: str, width: int = 32) -> Table:
    """Two progress bars (epoch, overall) with their figures, as one renderable."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(width=13, no_wrap=True)
    grid.add_column(width=width)
    grid.add_column(width=4, justify="right")
    grid.add_column(no_wrap=True, overflow="ellipsis", style="dim")
    for label, done, text in ((epoch_label, epoch_done, epoch_text),
                              ("overall", overall_done, overall_text)):
        grid.add_row(label, RichProgressBar(total=1.0, completed=done, width=width),
                     f"{done:.0%}", text)
    return grid


class TrainingView(Vertical):
    """Everything that moves while a model trains."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._started: TrainingStarted | None = None
        self._began = 0.0
        self._history: list[EpochEnd] = []

    def compose(self) -> ComposeResult:
        yield Static("No training yet. Set up a model and press ctrl+t.", id="train-status")
        yield Static(progress_lines("epoch", 0, "", 0, ""), id="progress")
        with Horizontal(id="curves"):
            yield CurvesPlot("loss", id="loss-plot")
            yield CurvesPlot("accuracy", id="accuracy-plot")
        yield Static(epoch_table([], compact=True), id="epoch-table")

    @property
    def history(self) -> list[EpochEnd]:
        """Epochs shown so far."""
        return list(self._history)

    def set_status(self, text: str) -> None:
        """The line above the progress bars (a fixed two-line area: no layout pass)."""
        self.query_one("#train-status", Static).update(text, layout=False)

    def _show_progress(self, epoch_label: str, epoch_done: float, epoch_text: str,
                       overall_done: float, overall_text: str) -> None:
        # One fixed-size Static for both bars: a single repaint, no layout pass, which
        # matters at four updates a second while TensorFlow wants both cores.
        self.query_one("#progress", Static).update(
            progress_lines(epoch_label, epoch_done, epoch_text, overall_done, overall_text),
            layout=False)

    def reset(self) -> None:
        """Clear everything for a new run."""
        self._started = None
        self._history = []
        self._show_table()
        self._show_progress("epoch", 0, "", 0, "")
        self._replot()

    def show_history(self, history: list[EpochEnd], status: str) -> None:
        """Show a finished run's curves and table (a reopened run)."""
        self.reset()
        for row in history:
            self._add_row(row)
        self._replot()
        self._show_progress(f"epoch {len(history)}", 1.0, "", 1.0, "")
        self.set_status(status)

    def show_started(self, event: TrainingStarted) -> None:
        """Training began."""
        self.reset()
        self._started = event
        self._began = time.monotonic()
        self._show_progress(f"epoch 1/{event.epochs}", 0, "", 0, "")

    def show_batch(self, event: BatchProgress) -> None:
        """Progress inside an epoch."""
        if self._started is None:
            return
        steps = self._started.steps_per_epoch
        done = (event.epoch - 1) * steps + event.step
        total = self._started.epochs * steps
        epoch_eta = (steps - event.step) * event.epoch_seconds / max(1, event.step)
        elapsed = time.monotonic() - self._began
        self._show_progress(
            f"epoch {event.epoch}/{self._started.epochs}", event.step / steps,
            f"{event.samples_per_second:,.0f}/s  ETA {fmt_seconds(epoch_eta)}  "
            f"loss {event.loss:.3f} acc {event.accuracy:.3f}",
            done / total,
            f"{fmt_seconds(elapsed)} elapsed  ETA {fmt_seconds(elapsed * (total - done) / done)}"
            if done else "")

    def show_epoch(self, event: EpochEnd) -> None:
        """An epoch finished."""
        self._add_row(event)
        self._replot()
        if self._started is not None:
            elapsed = time.monotonic() - self._began
            self._show_progress(f"epoch {event.epoch}/{self._started.epochs}", 1.0,
                                f"{event.seconds:.1f}s", event.epoch / self._started.epochs,
                                f"{fmt_seconds(elapsed)} elapsed")

    def show_finished(self, seconds: float) -> None:
        """Training ended: the total time replaces the running ETAs."""
        epochs = len(self._history)
        planned = self._started.epochs if self._started else max(1, epochs)
        self._show_progress(f"epoch {epochs}/{planned}", 1.0 if epochs else 0.0, "",
                            epochs / planned, f"done in {fmt_seconds(seconds)}")

    def _add_row(self, row: EpochEnd) -> None:
        self._history.append(row)
        self._show_table()

    def _show_table(self) -> None:
        # A fixed-height Static: a new row repaints the table, with no layout pass.
        table = epoch_table(self._history, last=EPOCH_ROWS, compact=True)
        self.query_one("#epoch-table", Static).update(table, layout=False)

    def _replot(self) -> None:
        for plot in self.query(CurvesPlot):
            plot.show_history(self._history)
