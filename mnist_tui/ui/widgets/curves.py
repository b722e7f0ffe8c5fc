"""The lines the charts draw, built from a run's history and per-step points.

A per-step point sits at its fraction of the epochs (``samples / train_samples``), so it
lines up with the epoch-end figures at whole numbers; the same points can sit at the
samples seen instead, which puts runs of different validation splits on one scale.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from mnist_tui.core.engine.evaluation import NUM_CLASSES, per_digit_accuracy
from mnist_tui.core.events import EpochEnd, StepPoint
from mnist_tui.core.runs.record import RunInfo
from mnist_tui.ui.widgets.line_chart import Series

Metric = Literal["loss", "accuracy"]
XAxis = Literal["epoch", "samples"]

MARKERS = "ABCDEF"
"""Each compared run's marker: its letter, as in the compare tables."""


def _train_points(
    history: Sequence[EpochEnd], steps: Sequence[StepPoint], metric: Metric, train_samples: int
) -> tuple[list[float], list[float]]:
    """The running mean at each tick, and each epoch's final figure at its end, in order
    of x (``samples`` x values; ``train_samples`` digits an epoch)."""
    points = [(float(p.samples), getattr(p, f"{metric}_mean")) for p in steps]
    points += [(float(row.epoch * train_samples), getattr(row, metric)) for row in history]
    points.sort(key=lambda point: point[0])
    return [x for x, _ in points], [v for _, v in points]


def training_curves(
    history: Sequence[EpochEnd], steps: Sequence[StepPoint], metric: Metric, train_samples: int
) -> list[Series]:
    """One run's ``metric`` over epochs: the raw per-tick values (faint), the running
    mean through each epoch's final figure, and the validation figure at each epoch's end
    (dashed, when measured). Without per-step points, the epoch figures alone."""
    per_epoch = max(1, train_samples)
    xs, values = _train_points(history, steps, metric, per_epoch)
    series = []
    if steps:
        series.append(
            Series(
                "raw",
                tuple(p.samples / per_epoch for p in steps),
                tuple(getattr(p, metric) for p in steps),
                faint=True,
            )
        )
    series.append(Series("train", tuple(x / per_epoch for x in xs), tuple(values)))
    val = [getattr(row, f"val_{metric}") for row in history]
    if history and all(v is not None for v in val):
        series.append(
            Series(
                "val", tuple(float(row.epoch) for row in history), tuple(val), colour=1, dashed=True
            )
        )
    return series


def digit_accuracy_curves(history: Sequence[EpochEnd]) -> list[Series]:
    """Each digit's validation accuracy at each epoch's end: ten lines, each marked with
    its digit (six colours go round, the digits tell the lines apart); none when no epoch
    has a validation confusion matrix."""
    rows = [row for row in history if row.val_confusion is not None]
    if not rows:
        return []
    xs = tuple(float(row.epoch) for row in rows)
    accuracies = [
        per_digit_accuracy(row.val_confusion) for row in rows if row.val_confusion is not None
    ]
    return [
        Series(
            f"digit {digit}",
            xs,
            tuple(accuracy[digit] for accuracy in accuracies),
            colour=digit,
            marker=str(digit),
            legend="",
        )
        for digit in range(NUM_CLASSES)
    ]


def learning_rate_curve(steps: Sequence[StepPoint], train_samples: int) -> list[Series]:
    """The optimizer's step size at each tick, over epochs."""
    per_epoch = max(1, train_samples)
    return [
        Series(
            "rate",
            tuple(p.samples / per_epoch for p in steps),
            tuple(p.learning_rate for p in steps),
            colour=2,
        )
    ]


def compare_curves(
    runs: Sequence[RunInfo], train_samples: Sequence[int], metric: Metric, x_axis: XAxis
) -> list[Series]:
    """Each run's ``metric``: train solid and validation dashed, in the run's colour,
    marked with its letter (upper case on the train line, lower case on validation). By ``epoch``,
    the epoch-end figures; by ``samples``, the per-step running means too, against the
    digits seen."""
    series = []
    for index, (run, per_epoch) in enumerate(zip(runs, train_samples, strict=True)):
        letter = MARKERS[index % len(MARKERS)]
        per_epoch = max(1, per_epoch)
        if x_axis == "samples":
            xs, values = _train_points(run.history, run.steps, metric, per_epoch)
        else:
            xs = [float(row.epoch) for row in run.history]
            values = [getattr(row, metric) for row in run.history]
        series.append(
            Series(
                f"{letter} train",
                tuple(xs),
                tuple(values),
                colour=index,
                marker=letter,
                legend=letter,
            )
        )
        val = [getattr(row, f"val_{metric}") for row in run.history]
        if run.history and all(v is not None for v in val):
            scale = per_epoch if x_axis == "samples" else 1
            series.append(
                Series(
                    f"{letter} val",
                    tuple(float(row.epoch * scale) for row in run.history),
                    tuple(val),
                    colour=index,
                    dashed=True,
                    marker=letter.lower(),
                    legend="",
                )
            )
    return series
