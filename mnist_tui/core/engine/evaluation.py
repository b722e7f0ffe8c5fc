"""Test-set evaluation and sample selection (pure numpy once probabilities exist)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from mnist_tui.core.data.inputs import as_float_images

NUM_CLASSES = 10
ROW_SUM_TOLERANCE = 1e-3
"""How far from 1 a row of class probabilities may sum (float32 softmax: about 1e-7)."""
SampleOrder = Literal["index", "confidence"]


@dataclass(frozen=True)
class ClassMetrics:
    """Precision, recall and F1 of one digit class."""

    digit: int
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class Evaluation:
    """A model's results on the test set."""

    loss: float
    accuracy: float
    probabilities: np.ndarray
    """(N, 10) float32 class probabilities."""
    labels: np.ndarray
    """(N,) true labels."""
    confusion: np.ndarray
    """(10, 10) counts, rows true class, columns predicted class."""
    per_class: tuple[ClassMetrics, ...]

    @property
    def errors(self) -> int:
        """Test digits the model got wrong."""
        return error_count(self.confusion)

    @property
    def predictions(self) -> np.ndarray:
        """Predicted class of each sample."""
        return np.asarray(self.probabilities.argmax(axis=1))

    @property
    def confidence(self) -> np.ndarray:
        """Probability the model gave its own prediction."""
        return np.asarray(self.probabilities.max(axis=1))

    @property
    def misclassified(self) -> np.ndarray:
        """Indices of mistakes, most confident mistakes first."""
        return select_samples(self, mistakes_only=True, order="confidence")

    def metrics_dict(self) -> dict[str, Any]:
        """JSON-ready summary (no per-sample arrays)."""
        return {
            "loss": self.loss,
            "accuracy": self.accuracy,
            "errors": self.errors,
            "confusion_matrix": self.confusion.tolist(),
            "per_class": [vars(c) for c in self.per_class],
        }


def error_count(confusion: np.ndarray) -> int:
    """The off-diagonal total of a confusion matrix: the mistakes."""
    return int(confusion.sum() - np.trace(confusion))


def check_probabilities(probabilities: np.ndarray) -> None:
    """``ValueError`` unless every value is a finite number in [0, 1] and each row sums
    to 1 within :data:`ROW_SUM_TOLERANCE`: what every reader of probabilities trusts."""
    probs = np.asarray(probabilities, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[1:] != (NUM_CLASSES,):
        raise ValueError(f"probabilities of shape {probs.shape} are not rows of {NUM_CLASSES}")
    if not np.isfinite(probs).all():
        raise ValueError("the probabilities hold NaN or infinite values")
    if probs.size and (probs.min() < 0.0 or probs.max() > 1.0):
        raise ValueError("the probabilities hold values outside [0, 1]")
    if probs.size and float(np.abs(probs.sum(axis=1) - 1.0).max()) > ROW_SUM_TOLERANCE:
        raise ValueError("the probabilities hold rows that do not sum to 1")


def evaluate_probabilities(probabilities: np.ndarray, labels: np.ndarray) -> Evaluation:
    """Every figure from class probabilities and true labels."""
    probs = np.asarray(probabilities, dtype=np.float32)
    labels = np.asarray(labels).astype(np.int64)
    if probs.ndim != 2 or probs.shape != (len(labels), NUM_CLASSES):
        raise ValueError(f"probabilities of shape {probs.shape} do not fit {len(labels)} labels")
    predictions = probs.argmax(axis=1)
    picked = np.clip(probs[np.arange(len(labels)), labels], 1e-7, 1.0)
    confusion = confusion_matrix(labels, predictions)
    return Evaluation(
        loss=float(-np.log(picked).mean()) if len(labels) else 0.0,
        accuracy=float((predictions == labels).mean()) if len(labels) else 0.0,
        probabilities=probs,
        labels=labels,
        confusion=confusion,
        per_class=per_class_metrics(confusion),
    )


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray) -> np.ndarray:
    """(10, 10) counts: how often each true class (row) got each prediction (column)."""
    confusion = np.zeros((NUM_CLASSES, NUM_CLASSES), dtype=np.int64)
    np.add.at(
        confusion, (np.asarray(labels, dtype=np.int64), np.asarray(predictions, dtype=np.int64)), 1
    )
    return confusion


def per_digit_accuracy(confusion: np.ndarray | Sequence[Sequence[int]]) -> tuple[float, ...]:
    """Each digit's accuracy: the share of its digits predicted right (the diagonal over
    its row's sum: its recall in :func:`per_class_metrics`); NaN for a digit with none."""
    return tuple(
        row.recall if row.support else math.nan for row in per_class_metrics(np.asarray(confusion))
    )


def per_class_metrics(confusion: np.ndarray) -> tuple[ClassMetrics, ...]:
    """Precision, recall, F1 and support per class from a confusion matrix."""
    rows: list[ClassMetrics] = []
    for digit in range(confusion.shape[0]):
        hit = float(confusion[digit, digit])
        predicted = float(confusion[:, digit].sum())
        actual = float(confusion[digit, :].sum())
        precision = hit / predicted if predicted else 0.0
        recall = hit / actual if actual else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        rows.append(ClassMetrics(digit, precision, recall, f1, int(actual)))
    return tuple(rows)


def top_confusions(confusion: np.ndarray, count: int = 5) -> list[tuple[int, int, int]]:
    """The ``count`` most frequent mistakes as (true, predicted, times), most first.

    Ties go to the lower true class, then the lower predicted class; pairs that never
    happened are left out.
    """
    off = np.asarray(confusion).copy()
    np.fill_diagonal(off, 0)
    order = np.argsort(-off, axis=None, kind="stable")[:count]
    pairs = [(*divmod(int(flat), off.shape[1]), int(off.flat[flat])) for flat in order]
    return [(true, pred, times) for true, pred, times in pairs if times > 0]


def confusions_text(confusion: np.ndarray, count: int = 5) -> str:
    """``4→9 ×19 · 7→2 ×11`` for the most frequent mistakes, or ``no mistakes``."""
    pairs = top_confusions(confusion, count)
    return " · ".join(f"{t}→{p} ×{n}" for t, p, n in pairs) if pairs else "no mistakes"


def predict_probabilities(model: Any, x_test: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    """Class probabilities for uint8 digits, in one batched pass."""

    return np.asarray(model.predict(as_float_images(x_test), batch_size=batch_size, verbose=0))


def evaluate_model(model: Any, x_test: np.ndarray, y_test: np.ndarray) -> Evaluation:
    """Evaluate a Keras model on uint8 test digits."""
    return evaluate_probabilities(predict_probabilities(model, x_test), y_test)


def select_samples(
    evaluation: Evaluation,
    *,
    mistakes_only: bool = False,
    true_class: int | None = None,
    pred_class: int | None = None,
    order: SampleOrder = "index",
) -> np.ndarray:
    """Indices of test samples matching the filters.

    ``order="confidence"`` puts the samples the model was surest about first, which
    for mistakes means the most confident wrong answers.
    """
    predictions = evaluation.predictions
    keep = np.ones(len(evaluation.labels), dtype=bool)
    if mistakes_only:
        keep &= predictions != evaluation.labels
    if true_class is not None:
        keep &= evaluation.labels == true_class
    if pred_class is not None:
        keep &= predictions == pred_class
    indices = np.flatnonzero(keep)
    if order == "confidence":
        confidence = evaluation.confidence[indices]
        indices = indices[np.argsort(-confidence, kind="stable")]
    return indices
