"""Browsing where two runs disagree: which test digits are in each set, narrowed and in
which order, checked against a plain computation on saved probabilities."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mnist_tui.core.engine.evaluation import Evaluation, SampleOrder, evaluate_probabilities
from mnist_tui.core.runs.comparison import (
    DISAGREEMENT_SETS,
    CompareError,
    DisagreementSet,
    disagreement,
    disagreement_samples,
    run_pairs,
)

COUNT = 600


def saved_probabilities(folder: Path, seed: int, skill: float) -> Path:
    """A run's test probabilities saved as the app saves them: right about ``skill`` of
    the time, with confidences that repeat (so ties must be broken by index)."""
    rng = np.random.default_rng(seed)
    labels = np.random.default_rng(0).integers(0, 10, COUNT)
    guesses = np.where(rng.random(COUNT) < skill, labels, rng.integers(0, 10, COUNT))
    probabilities = rng.random((COUNT, 10)).astype(np.float32) * 0.05
    probabilities[np.arange(COUNT), guesses] = rng.choice([0.5, 0.7, 0.9, 0.95], COUNT)
    path = folder / f"run-{seed}.npy"
    np.save(path, probabilities)
    return path


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[np.ndarray], np.ndarray]:
    """Three runs' saved probabilities (read back from disk) and the true labels."""
    folder = tmp_path_factory.mktemp("probabilities")
    paths = [
        saved_probabilities(folder, seed, skill) for seed, skill in ((1, 0.8), (2, 0.7), (3, 0.75))
    ]
    return [np.load(path) for path in paths], np.random.default_rng(0).integers(0, 10, COUNT)


@pytest.fixture(scope="module")
def evaluations(saved: tuple[list[np.ndarray], np.ndarray]) -> list[Evaluation]:
    probabilities, labels = saved
    return [evaluate_probabilities(p, labels) for p in probabilities]


def expected(
    probabilities: list[np.ndarray],
    labels: np.ndarray,
    a: int,
    b: int,
    which: DisagreementSet,
    true_class: int | None,
    pred_class: int | None,
    order: SampleOrder,
) -> list[int]:
    """The same selection, one digit at a time in plain Python."""
    rows = []
    for index, label in enumerate(labels.tolist()):
        guess_a = int(np.argmax(probabilities[a][index]))
        guess_b = int(np.argmax(probabilities[b][index]))
        right_a, right_b = guess_a == label, guess_b == label
        wrong_runs = {
            "a_only": [b] if right_a and not right_b else [],
            "b_only": [a] if right_b and not right_a else [],
            "both_wrong": [a, b] if not (right_a or right_b) else [],
        }[which]
        if not wrong_runs or true_class not in (None, label):
            continue
        answers = [int(np.argmax(probabilities[run][index])) for run in wrong_runs]
        if pred_class is not None and pred_class not in answers:
            continue
        sureness = max(float(probabilities[run][index].max()) for run in wrong_runs)
        rows.append((index, sureness))
    if order == "confidence":
        rows.sort(key=lambda row: (-row[1], row[0]))
    return [index for index, _ in rows]


@pytest.mark.parametrize("which", DISAGREEMENT_SETS)
@pytest.mark.parametrize(("a", "b"), [(0, 1), (0, 2), (1, 2), (2, 0)])
@pytest.mark.parametrize(
    ("true_class", "pred_class", "order"),
    [
        (None, None, "confidence"),
        (None, None, "index"),
        (3, None, "confidence"),
        (None, 7, "confidence"),
        (4, 9, "index"),
        (5, 5, "confidence"),
    ],
)
def test_each_set_narrowed_and_ordered_as_numpy_says(
    saved: tuple[list[np.ndarray], np.ndarray],
    evaluations: list[Evaluation],
    which: DisagreementSet,
    a: int,
    b: int,
    true_class: int | None,
    pred_class: int | None,
    order: SampleOrder,
) -> None:
    probabilities, labels = saved
    got = disagreement_samples(
        evaluations, a, b, which, true_class=true_class, pred_class=pred_class, order=order
    )
    assert got.tolist() == expected(
        probabilities, labels, a, b, which, true_class, pred_class, order
    )


@pytest.mark.parametrize(("a", "b"), [(0, 1), (0, 2), (1, 2)])
def test_the_sets_match_the_counts_and_cover_every_disagreement(
    saved: tuple[list[np.ndarray], np.ndarray], evaluations: list[Evaluation], a: int, b: int
) -> None:
    probabilities, labels = saved
    counts = disagreement(evaluations, a, b).counts()
    sets = {which: disagreement_samples(evaluations, a, b, which) for which in DISAGREEMENT_SETS}
    assert [len(sets[which]) for which in DISAGREEMENT_SETS] == [
        counts["a_right_b_wrong"],
        counts["b_right_a_wrong"],
        counts["both_wrong"],
    ]
    assert all(len(found) > 10 for found in sets.values())  # every set is worth browsing
    joined = np.concatenate(list(sets.values()))
    assert len(set(joined.tolist())) == len(joined)  # no digit in two sets
    right_a = probabilities[a].argmax(1) == labels
    right_b = probabilities[b].argmax(1) == labels
    assert sorted(joined.tolist()) == np.flatnonzero(~(right_a & right_b)).tolist()


def test_surest_wrong_answer_first(evaluations: list[Evaluation]) -> None:
    shown = disagreement_samples(evaluations, 0, 1, "a_only")
    sureness = evaluations[1].confidence[shown]  # b is the run that is wrong
    assert np.all(np.diff(sureness) <= 0)
    assert not np.all(np.diff(shown) > 0)  # not simply by index
    assert np.all(evaluations[0].predictions[shown] == evaluations[0].labels[shown])


def test_a_class_no_wrong_answer_has_leaves_nothing(evaluations: list[Evaluation]) -> None:
    # In "a right, b wrong" a digit's wrong answer is never its own class.
    for digit in range(10):
        assert (
            len(
                disagreement_samples(
                    evaluations, 0, 1, "a_only", true_class=digit, pred_class=digit
                )
            )
            == 0
        )


def test_runs_on_different_test_sets_are_refused(evaluations: list[Evaluation]) -> None:
    other = evaluate_probabilities(evaluations[1].probabilities[:-1], evaluations[1].labels[:-1])
    with pytest.raises(CompareError):
        disagreement_samples([evaluations[0], other], 0, 1, "both_wrong")


def test_pairs_start_with_the_baseline() -> None:
    assert run_pairs(2) == [(0, 1)]
    assert run_pairs(4) == [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]
