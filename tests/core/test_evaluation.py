"""Evaluation figures and sample selection, from known probabilities."""

from __future__ import annotations

import numpy as np
import pytest

from mnist_tui.core.engine.evaluation import (
    confusions_text,
    evaluate_probabilities,
    select_samples,
    top_confusions,
)


def one_hot_probs(predictions: list[int], confidence: list[float]) -> np.ndarray:
    probs = np.zeros((len(predictions), 10), dtype=np.float32)
    for row, (pred, conf) in enumerate(zip(predictions, confidence, strict=True)):
        probs[row, :] = (1 - conf) / 9
        probs[row, pred] = conf
    return probs


LABELS = np.array([0, 1, 1, 2, 2, 2])
PROBS = one_hot_probs([0, 1, 2, 2, 0, 1], [0.9, 0.8, 0.7, 0.95, 0.6, 0.99])


def test_confusion_accuracy_and_loss() -> None:
    result = evaluate_probabilities(PROBS, LABELS)
    assert result.accuracy == pytest.approx(3 / 6)
    assert result.confusion[1, 2] == 1 and result.confusion[2, 0] == 1
    assert result.confusion[2, 1] == 1 and np.trace(result.confusion) == 3
    assert result.confusion.sum() == 6
    picked = PROBS[np.arange(6), LABELS]
    assert result.loss == pytest.approx(float(-np.log(picked).mean()), rel=1e-5)


def test_per_class_precision_recall_f1() -> None:
    per_class = evaluate_probabilities(PROBS, LABELS).per_class
    two = per_class[2]
    assert (two.precision, two.recall, two.support) == (
        pytest.approx(1 / 2),
        pytest.approx(1 / 3),
        3,
    )
    assert two.f1 == pytest.approx(2 * (1 / 2) * (1 / 3) / (1 / 2 + 1 / 3))
    assert per_class[5].support == 0 and per_class[5].f1 == 0.0


def test_misclassified_most_confident_first() -> None:
    result = evaluate_probabilities(PROBS, LABELS)
    assert result.misclassified.tolist() == [5, 2, 4]


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, [0, 1, 2, 3, 4, 5]),
        ({"true_class": 2}, [3, 4, 5]),
        ({"pred_class": 2}, [2, 3]),
        ({"mistakes_only": True, "true_class": 2}, [4, 5]),
        ({"mistakes_only": True, "true_class": 2, "order": "confidence"}, [5, 4]),
        ({"true_class": 1, "pred_class": 2}, [2]),
        ({"mistakes_only": True, "pred_class": 9}, []),
    ],
)
def test_select_samples(kwargs: dict[str, object], expected: list[int]) -> None:
    result = evaluate_probabilities(PROBS, LABELS)
    assert select_samples(result, **kwargs).tolist() == expected  # type: ignore[arg-type]


def test_shape_mismatch_is_an_error() -> None:
    with pytest.raises(ValueError, match="do not fit"):
        evaluate_probabilities(PROBS[:, :9], LABELS)


def test_top_confusions_most_frequent_first_ties_by_class() -> None:
    confusion = np.diag(np.full(10, 50))
    confusion[4, 9] = 7
    confusion[7, 2] = 3
    confusion[3, 5] = 3
    confusion[9, 4] = 1
    assert top_confusions(confusion, 3) == [(4, 9, 7), (3, 5, 3), (7, 2, 3)]
    assert top_confusions(confusion, 10) == [(4, 9, 7), (3, 5, 3), (7, 2, 3), (9, 4, 1)]
    assert confusions_text(confusion, 2) == "4→9 ×7 · 3→5 ×3"
    assert confusions_text(np.diag(np.full(10, 5))) == "no mistakes"
