"""Live training: status, progress with ETA and throughput, curves, epoch table."""

from __future__ import annotations

import time

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Static

from mnist_tui.core.events import BatchProgress, EpochEnd, StepPoint, TrainingStarted
from mnist_tui.tables import epoch_lines
from mnist_tui.ui.widgets.curves import learning_rate_curve, training_curves
from mnist_tui.ui.widgets.line_chart import LineChart
from mnist_tui.ui.widgets.progress_lines import BAR, Figure, ProgressLines, ProgressRow

EPOCH_ROWS = 6
"""Epochs the live table shows (header, 6 rows and a caption fill its 8 lines: the
view's ``DEFAULT_CSS``)."""
TABLE_LINES = EPOCH_ROWS + 2
ROOMY_HEIGHT = 25
"""Rows from which the view has room for everything: the status with a blank line under it,
both bars, the charts at their least (``#curves`` in the view's ``DEFAULT_CSS``) and the
whole epoch table.
Below it the view is ``-short``: the blank line goes, and the table shows what fits."""
WIDE_WIDTH = 100
"""Columns from which the learning-rate chart shows beside the loss and accuracy charts
(narrower, those two keep the room: ``-narrow`` in the view's ``DEFAULT_CSS``)."""
GIVE_WAY = ("steps", "throughput", "elapsed", "seconds", BAR, "eta", "loss")
"""What leaves a progress line that is too short, first to last (after the bar has shrunk
to its minimum). The running loss and accuracy are what a user watches, and the ETA says
how long to wait: they stay longest, the accuracy for good. The step counts repeat the bar,
and the throughput and elapsed time matter less while a run is under way."""


def fmt_seconds(seconds: float) -> str:
    """``1:05`` style duration."""
    seconds = max(0, round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


def epoch_table_content(history: list[EpochEnd], lines: int = TABLE_LINES) -> Content:
    """The newest epochs that fit in ``lines`` lines, as aligned lines under a bold header.

    When some are left out, a caption says so and takes a line.
    """
    last = len(history) if len(history) <= lines - 1 else max(1, lines - 2)
    header, *body = epoch_lines(history, last=last)
    return Content.assemble((header, "bold"), *(f"\n{line}" for line in body))


def metrics(loss: float, accuracy: float) -> tuple[Figure, ...]:
    """The running (or final) loss and accuracy of an epoch."""
    return Figure("loss", f"loss {loss:.3f}"), Figure("accuracy", f"acc {accuracy:.3f}")


def progress_rows(
    epoch_label: str,
    epoch_done: float,
    epoch_figures: tuple[Figure, ...],
    overall_done: float,
    overall_figures: tuple[Figure, ...],
) -> list[ProgressRow]:
    """The epoch bar and the overall bar."""
    return [
        ProgressRow(epoch_label, epoch_done, epoch_figures),
        ProgressRow("overall", overall_done, overall_figures),
    ]


class TrainingView(Vertical, can_focus=True):
    """Everything that moves while a model trains.

    It takes the focus when its tab is shown, so that nothing on a hidden tab keeps it
    (closing a dialog would hand the focus back there, and pull that tab up).

    In a narrow terminal the progress lines give way in a designed order
    (:data:`GIVE_WAY`): the bars shrink to their minimum, then the epoch's step counts
    leave, then the throughput and the elapsed times, then the bars themselves (the
    percentages stay), then the ETAs and the loss; the running accuracy stays. No figure
    is ever cut in two. In a short one (under :data:`ROOMY_HEIGHT` rows) the charts keep
    their height (at least 8 plotted rows, its ``DEFAULT_CSS``) and the epoch table shows the newest
    epochs that fit below them.
    """

    DEFAULT_CSS = """
    TrainingView {
        height: 1fr;
    }

    #train-status {
        height: 3;
        padding: 0 0 1 0;
        text-style: bold;
    }

    TrainingView.-short #train-status {  /* under 25 rows: the blank line goes to the charts */
        height: 2;
        padding: 0;
    }

    #progress {
        height: 2;
    }

    #curves {
        height: 1fr;
        min-height: 11;  /* 8 plotted rows, the title above, the axis and ticks below */
        margin-top: 1;
    }

    #curves LineChart {
        width: 3fr;
        margin-right: 3;
    }

    #curves #rate-plot {
        width: 2fr;
        margin-right: 0;
    }

    TrainingView.-narrow #rate-plot {
        display: none;
    }

    TrainingView.-narrow #accuracy-plot {
        margin-right: 0;
    }

    #epoch-table {
        height: 8;
    }
    """

    BINDINGS = [
        Binding(
            "p",
            "app.pause",
            "Pause/resume",
            id="training.pause",
            tooltip="Pause the training between steps, or carry on",
        ),
        Binding(
            "minus",
            "app.scale_rate(0.5)",
            "LR ×0.5",
            id="training.rate_half",
            tooltip="Halve the learning rate from the next step",
        ),
        Binding(
            "plus,equals_sign",
            "app.scale_rate(2.0)",
            "LR ×2",
            id="training.rate_double",
            tooltip="Double the learning rate from the next step",
        ),
        Binding(
            "r",
            "app.set_rate",
            "Set LR",
            id="training.rate_set",
            tooltip="Type a new learning rate for the rest of the run",
        ),
        Binding(
            "f",
            "app.stop_after_epoch",
            "Finish epoch",
            id="training.finish_epoch",
            tooltip="Stop when this epoch ends, and save the run (again: carry on)",
        ),
        Binding(
            "e",
            "app.toggle_early_stopping",
            "Early stop",
            id="training.early_stopping",
            tooltip="Turn early stopping on or off (needs a validation split)",
        ),
    ]
    """Steering a running training; the app decides when each is available."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._started: TrainingStarted | None = None
        self._began = 0.0
        self._paused_seconds = 0.0
        """Time the training spent paused: no elapsed time or ETA counts it."""
        self._paused = False
        self._rows: tuple[str, float, tuple[Figure, ...], float, tuple[Figure, ...]] = (
            "epoch",
            0.0,
            (),
            0.0,
            (),
        )
        self._history: list[EpochEnd] = []
        self._steps: list[StepPoint] = []
        self._train_samples = 1
        self._table_shown: tuple[tuple[EpochEnd, ...], int] = ((), TABLE_LINES)
        self._last_batch: BatchProgress | None = None
        """The newest progress inside an epoch (where a stop mid-epoch left the run)."""

    def compose(self) -> ComposeResult:
        yield Static(
            "No training yet. Set up a model and press ctrl+t.", id="train-status", markup=False
        )
        yield ProgressLines(progress_rows("epoch", 0, (), 0, ()), give_way=GIVE_WAY, id="progress")
        with Horizontal(id="curves"):
            yield LineChart("loss", bounds=(0.0, None), log_scale_key=True, id="loss-plot")
            yield LineChart("accuracy", bounds=(0.0, 1.0), id="accuracy-plot")
            yield LineChart("learning rate", bounds=(0.0, None), id="rate-plot")
        yield Static(epoch_table_content([]), id="epoch-table")

    @property
    def history(self) -> list[EpochEnd]:
        """Epochs shown so far."""
        return list(self._history)

    def set_status(self, text: str) -> None:
        """The line above the progress bars (a fixed two-line area: no layout pass).

        ``text`` is plain: paths and reasons in it are shown as written.
        """
        self.query_one("#train-status", Static).update(text, layout=False)

    def _show_progress(
        self,
        epoch_label: str,
        epoch_done: float,
        epoch_figures: tuple[Figure, ...],
        overall_done: float,
        overall_figures: tuple[Figure, ...],
    ) -> None:
        self._rows = (epoch_label, epoch_done, epoch_figures, overall_done, overall_figures)
        if self._paused:
            epoch_figures = (Figure("paused", "paused"), *epoch_figures)
        self.query_one(ProgressLines).set_rows(
            progress_rows(epoch_label, epoch_done, epoch_figures, overall_done, overall_figures)
        )

    @property
    def paused(self) -> bool:
        """The progress lines say the training is paused."""
        return self._paused

    def set_paused(self, paused: bool, seconds: float = 0.0) -> None:
        """The training paused, or resumed after ``seconds`` paused (which the elapsed
        time and the ETAs leave out from now on)."""
        self._paused = paused
        self._paused_seconds += seconds
        self._show_progress(*self._rows)

    def _last_metrics(self) -> tuple[Figure, ...]:
        """The newest epoch's loss and accuracy (none before the first epoch ends)."""
        return metrics(self._history[-1].loss, self._history[-1].accuracy) if self._history else ()

    def focus_main(self) -> None:
        """Take the focus (the view scrolls with the keys)."""
        self.focus()

    def set_loss_floor(self, floor: float) -> None:
        """The lowest loss the run can train to (label smoothing raises it above 0), named
        over the loss chart so a smoothed 0.6 does not read as a fault."""
        self.query_one("#loss-plot", LineChart).set_title(
            f"loss (smoothed: ≥{floor:.2f})" if floor else "loss"
        )

    def reset(self) -> None:
        """Clear everything for a new run."""
        self._started = None
        self._last_batch = None
        self._history = []
        self._steps = []
        self._paused, self._paused_seconds = False, 0.0
        self._show_table()
        self._show_progress("epoch", 0, (), 0, ())
        self._replot()

    def show_history(
        self,
        history: list[EpochEnd],
        status: str,
        planned: int | None = None,
        steps: tuple[StepPoint, ...] = (),
        train_samples: int = 1,
    ) -> None:
        """Show a finished run's curves and table (a reopened run).

        ``planned`` is the epochs it was set to train; a stopped run shows how far it got.
        ``steps`` is its per-step curve, ``train_samples`` the digits of each epoch.
        """
        self.reset()
        self._steps, self._train_samples = list(steps), max(1, train_samples)
        for row in history:
            self._add_row(row)
        self._replot()
        planned = max(planned or len(history), len(history), 1)
        last = steps[-1] if steps else None
        if last is not None and last.epoch > len(history):  # stopped within an epoch
            done = last.samples / self._train_samples - (last.epoch - 1)
            done = min(1.0, max(0.0, done))
            self._show_progress(
                f"epoch {last.epoch}/{planned}",
                done,
                metrics(last.loss_mean, last.accuracy_mean),
                (len(history) + done) / planned,
                (),
            )
        else:
            self._show_progress(
                f"epoch {len(history)}/{planned}",
                1.0 if history else 0.0,
                self._last_metrics(),
                len(history) / planned,
                (),
            )
        self.set_status(status)

    def show_started(self, event: TrainingStarted) -> None:
        """Training began."""
        self.reset()
        self._started = event
        self._train_samples = max(1, event.train_samples)
        self._began = time.monotonic()
        self._show_progress(f"epoch 1/{event.epochs}", 0, (), 0, ())

    def show_batch(self, event: BatchProgress) -> None:
        """Progress inside an epoch: step counts, throughput, ETA, running loss and accuracy."""
        if self._started is None:
            return
        self._last_batch = event
        if event.point is not None:  # the curves move within the epoch
            self._steps.append(event.point)
            self._replot()
        steps = self._started.steps_per_epoch
        done = (event.epoch - 1) * steps + event.step
        total = self._started.epochs * steps
        epoch_eta = (steps - event.step) * event.epoch_seconds / max(1, event.step)
        elapsed = self._elapsed()
        overall = (
            (
                Figure("elapsed", f"{fmt_seconds(elapsed)} elapsed"),
                Figure("eta", f"ETA {fmt_seconds(elapsed * (total - done) / done)}"),
            )
            if done
            else ()
        )
        self._show_progress(
            f"epoch {event.epoch}/{self._started.epochs}",
            event.step / steps,
            (
                Figure("steps", f"{event.step}/{steps}"),
                Figure("throughput", f"{event.samples_per_second:,.0f}/s"),
                Figure("eta", f"ETA {fmt_seconds(epoch_eta)}"),
                *metrics(event.loss, event.accuracy),
            ),
            done / total,
            overall,
        )

    def show_epoch(self, event: EpochEnd) -> None:
        """An epoch finished: its time, loss and accuracy stay until the next one moves."""
        self._add_row(event)
        self._replot()
        if self._started is not None:
            elapsed = self._elapsed()
            self._show_progress(
                f"epoch {event.epoch}/{self._started.epochs}",
                1.0,
                (Figure("seconds", f"{event.seconds:.1f}s"), *metrics(event.loss, event.accuracy)),
                event.epoch / self._started.epochs,
                (Figure("elapsed", f"{fmt_seconds(elapsed)} elapsed"),),
            )

    def _elapsed(self) -> float:
        """Seconds trained since the run began, pauses left out."""
        return time.monotonic() - self._began - self._paused_seconds

    def show_finished(self, seconds: float) -> None:
        """Training ended: the total time replaces the running ETAs; the last epoch's loss
        and accuracy stay."""
        self._paused = False
        epochs = len(self._history)
        planned = self._started.epochs if self._started else max(1, epochs)
        total = (Figure("total", f"done in {fmt_seconds(seconds)}"),)
        last = self._last_batch
        if last is not None and last.epoch > epochs:  # stopped within this epoch
            done = last.step / max(1, last.steps)
            self._show_progress(
                f"epoch {last.epoch}/{planned}",
                done,
                metrics(last.loss, last.accuracy),
                (epochs + done) / planned,
                total,
            )
            return
        self._show_progress(
            f"epoch {epochs}/{planned}",
            1.0 if epochs else 0.0,
            self._last_metrics(),
            epochs / planned,
            total,
        )

    def _add_row(self, row: EpochEnd) -> None:
        self._history.append(row)
        self._show_table()

    def on_resize(self) -> None:
        """A short terminal may cut the table off: show the newest epochs that fit."""
        self.set_class(self.size.height < ROOMY_HEIGHT, "-short")
        self.set_class(self.size.width < WIDE_WIDTH, "-narrow")
        self.call_after_refresh(self._show_table)

    def _table_lines(self) -> int:
        """Lines of the table on screen: the view's bottom may cut it short."""
        table = self.query_one("#epoch-table", Static)
        if not table.region:  # not laid out yet
            return TABLE_LINES
        return max(2, min(table.size.height, self.region.bottom - table.region.y))

    def _show_table(self) -> None:
        # A fixed-height Static: a new row repaints the table, with no layout pass.
        shown = (tuple(self._history), self._table_lines())
        if shown == self._table_shown:
            return
        self._table_shown = shown
        self.query_one("#epoch-table", Static).update(
            epoch_table_content(self._history, shown[1]), layout=False
        )

    def _replot(self) -> None:
        self.query_one("#loss-plot", LineChart).set_data(
            training_curves(self._history, self._steps, "loss", self._train_samples)
        )
        self.query_one("#accuracy-plot", LineChart).set_data(
            training_curves(self._history, self._steps, "accuracy", self._train_samples)
        )
        self.query_one("#rate-plot", LineChart).set_data(
            learning_rate_curve(self._steps, self._train_samples)
        )
