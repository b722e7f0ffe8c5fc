"""Two to six runs side by side: what differs, which is best, where they disagree.

Pure numpy on saved records and test probabilities (no TensorFlow), so a comparison
opens at once in the app and headless.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import combinations
from typing import Any, Literal

import numpy as np

from mnist_tui.core.config import FIELDS, applies, format_field, steered_rate_text
from mnist_tui.core.engine.evaluation import (
    NUM_CLASSES,
    Evaluation,
    SampleOrder,
    error_count,
    per_class_metrics,
)
from mnist_tui.core.errors import MnistTuiError
from mnist_tui.core.runs.record import RunInfo

MIN_RUNS, MAX_RUNS = 2, 6

DisagreementSet = Literal["a_only", "b_only", "both_wrong"]
"""One of a :class:`Disagreement`'s three sets, by its field name."""
DISAGREEMENT_SETS: tuple[DisagreementSet, ...] = ("a_only", "b_only", "both_wrong")


class CompareError(MnistTuiError, ValueError):
    """Runs that cannot be compared (too few, too many, different test sets)."""


@dataclass(frozen=True)
class SettingRow:
    """One setting whose value is not the same in every run."""

    name: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class MetricRow:
    """One figure of every run, and which run is best at it (``None``: a tie, or no order)."""

    name: str
    values: tuple[float, ...]
    best: int | None
    fmt: str


@dataclass(frozen=True)
class Disagreement:
    """How two runs' predictions on the same test digits differ."""

    a: int
    """Index of the first run (the baseline) among the compared runs."""
    b: int
    a_only: np.ndarray
    """Test indices run a gets right and run b wrong."""
    b_only: np.ndarray
    """Test indices run b gets right and run a wrong."""
    both_wrong: np.ndarray
    """Test indices both get wrong."""

    def counts(self) -> dict[str, int]:
        """The three counts."""
        return {
            "a_right_b_wrong": len(self.a_only),
            "b_right_a_wrong": len(self.b_only),
            "both_wrong": len(self.both_wrong),
        }

    def indices(self, which: DisagreementSet) -> np.ndarray:
        """The test indices of one set, ascending."""
        return {"a_only": self.a_only, "b_only": self.b_only, "both_wrong": self.both_wrong}[which]


def check_count(count: int) -> None:
    """Refuse fewer than two or more than six runs."""
    if not MIN_RUNS <= count <= MAX_RUNS:
        raise CompareError(f"compare takes {MIN_RUNS} to {MAX_RUNS} runs, got {count}")


def setting_text(run: RunInfo, name: str) -> str:
    """A run's value of setting ``name`` as a comparison shows it: ``-`` where the setting
    does not apply (conv filters of an MLP), ``0.01→0.005`` for a steered rate."""
    value = getattr(run.config, name)
    if not applies(name, run.config):
        return "-"
    if name == "learning_rate" and run.steered_rate is not None:
        return steered_rate_text(value, run.steered_rate)
    return format_field(name, value)


def differing_settings(runs: list[RunInfo]) -> list[SettingRow]:
    """The settings whose values are not all equal, in form order; a setting that applies
    to none of the runs (conv settings of MLPs, momentum with Adam) is left out."""
    rows = []
    for name in FIELDS:
        values = tuple(setting_text(run, name) for run in runs)
        if len(set(values)) > 1:
            rows.append(SettingRow(name, values))
    return rows


def _best(values: tuple[float, ...], higher_is_better: bool) -> int | None:
    finite = [(value, index) for index, value in enumerate(values) if math.isfinite(value)]
    if not finite:
        return None
    target = (max if higher_is_better else min)(value for value, _ in finite)
    winners = [index for value, index in finite if value == target]
    return winners[0] if len(winners) == 1 else None


def metric_rows(runs: list[RunInfo]) -> list[MetricRow]:
    """Test accuracy and loss, errors, parameters, training time, epochs; best marked.

    Fewer parameters and seconds count as better; epochs have no better.
    """

    def row(name: str, values: list[float], higher: bool | None, fmt: str) -> MetricRow:
        as_tuple = tuple(values)
        return MetricRow(name, as_tuple, None if higher is None else _best(as_tuple, higher), fmt)

    return [
        row("test accuracy", [run.test_accuracy for run in runs], True, "{:.2%}"),
        row("test loss", [run.test_loss for run in runs], False, "{:.4f}"),
        row("errors", [float(error_count(run.confusion)) for run in runs], False, "{:,.0f}"),
        row("parameters", [float(run.param_count) for run in runs], False, "{:,.0f}"),
        row("train seconds", [run.train_seconds for run in runs], False, "{:.1f}"),
        row("epochs", [float(run.epochs_done) for run in runs], None, "{:.0f}"),
    ]


def recall_by_digit(runs: list[RunInfo]) -> np.ndarray:
    """(10, runs) recall of each digit in each run."""
    return np.array(
        [[metrics.recall for metrics in per_class_metrics(run.confusion)] for run in runs]
    ).T.reshape(NUM_CLASSES, len(runs))


def disagreement(evaluations: list[Evaluation], a: int, b: int) -> Disagreement:
    """Where runs ``a`` and ``b`` differ on the same test digits."""
    first, second = evaluations[a], evaluations[b]
    if len(first.labels) != len(second.labels) or not np.array_equal(first.labels, second.labels):
        raise CompareError("the runs were evaluated on different test sets")
    right_a = first.predictions == first.labels
    right_b = second.predictions == second.labels
    return Disagreement(
        a=a,
        b=b,
        a_only=np.flatnonzero(right_a & ~right_b),
        b_only=np.flatnonzero(right_b & ~right_a),
        both_wrong=np.flatnonzero(~right_a & ~right_b),
    )


def disagreements(evaluations: list[Evaluation]) -> list[Disagreement]:
    """The first run (the baseline) against each other run."""
    return [disagreement(evaluations, 0, other) for other in range(1, len(evaluations))]


def run_pairs(count: int) -> list[tuple[int, int]]:
    """Every pair of ``count`` compared runs, the baseline's first: (0, 1), (0, 2)… (1, 2)…"""
    return list(combinations(range(count), 2))


def disagreement_samples(
    evaluations: list[Evaluation],
    a: int,
    b: int,
    which: DisagreementSet,
    *,
    true_class: int | None = None,
    pred_class: int | None = None,
    order: SampleOrder = "confidence",
) -> np.ndarray:
    """The test indices of one set of :func:`disagreement` (``a`` against ``b``),
    narrowed and ordered for browsing.

    ``true_class`` keeps the digits of that class; ``pred_class`` keeps the digits whose
    wrong answer was that class: the wrong run's prediction (b's in ``a_only``, a's in
    ``b_only``, either run's in ``both_wrong``). ``order="confidence"`` puts the surest
    wrong answer first: the wrong run's probability for its prediction (in
    ``both_wrong`` the larger of the two), ties by index; ``"index"``: ascending.
    Unfiltered, a set has exactly as many indices as :meth:`Disagreement.counts` says.
    """
    indices = disagreement(evaluations, a, b).indices(which)
    first, second = evaluations[a], evaluations[b]
    wrong = {"a_only": (second,), "b_only": (first,), "both_wrong": (first, second)}[which]
    if true_class is not None:
        indices = indices[first.labels[indices] == true_class]
    if pred_class is not None:
        answered = np.zeros(len(indices), dtype=bool)
        for evaluation in wrong:
            answered |= evaluation.predictions[indices] == pred_class
        indices = indices[answered]
    if order == "confidence":
        sureness = np.max([evaluation.confidence[indices] for evaluation in wrong], axis=0)
        indices = indices[np.argsort(-sureness, kind="stable")]
    return indices


def comparison_dict(runs: list[RunInfo], evaluations: list[Evaluation]) -> dict[str, Any]:
    """Everything :mod:`comparison` finds, JSON-ready (``compare --json``)."""
    recalls = recall_by_digit(runs)
    return {
        "runs": [{"run_id": run.run_id, "name": run.name} for run in runs],
        "settings": {row.name: list(row.values) for row in differing_settings(runs)},
        "metrics": {
            row.name: {
                "values": list(row.values),
                "best": None if row.best is None else runs[row.best].run_id,
            }
            for row in metric_rows(runs)
        },
        "recall": {str(digit): [float(v) for v in recalls[digit]] for digit in range(NUM_CLASSES)},
        "disagreements": [
            {"a": runs[d.a].run_id, "b": runs[d.b].run_id, **d.counts()}
            for d in disagreements(evaluations)
        ],
    }
