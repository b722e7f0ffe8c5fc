"""How the digits sit in a model's mind: the test digits' last hidden layer projected to
2-D, by PCA (at once) or t-SNE (openTSNE, in seconds), with a figure of how well the map
keeps each digit among its own class; cached in the run's folder, read back as hostile."""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from mnist_tui.core.files import strict_json
from mnist_tui.core.files.atomic import atomic_write_text
from mnist_tui.core.files.bounded_io import MIB, is_plain_file, read_text_bounded
from mnist_tui.core.inside.anatomy import anatomy
from mnist_tui.core.inside.errors import InsideError, Stopped

Method = Literal["pca", "tsne"]
METHODS: tuple[Method, ...] = ("pca", "tsne")
NEIGHBOURS = 5
"""A point's neighbours on the map that :func:`neighbour_agreement` asks about."""
REDUCED = 50
"""t-SNE reads the features' first this many principal components (fast neighbours)."""
PERPLEXITY = 10
EXAGGERATED_ITERATIONS = 75
ITERATIONS = 100
"""t-SNE's settings: on the default MLP's 10,000 test digits they keep the neighbour
agreement above 0.95 in well under 15 s on 2 cores (benchmarks/inside_speed.py)."""
FORMAT = 1
MAX_POINTS = 100_000
MAX_CACHE_BYTES = 8 * MIB
"""A cached map larger than this is refused unread (10,000 points take about 0.3 MB)."""
MAX_COORDINATE = 1e6


@dataclass(frozen=True)
class Projection:
    """Each digit's place on a 2-D map of one model's last hidden layer."""

    method: Method
    points: np.ndarray
    """(N, 2) float32."""
    neighbour_agreement: float
    """Share of digits whose :data:`NEIGHBOURS` nearest on the map mostly share their label."""
    seconds: float
    """How long the projection took to compute (a cached one keeps its first figure)."""
    cached: bool = False


def digits_key(digits: np.ndarray) -> str:
    """A short fingerprint of a set of digits: a cached map is only for the digits it drew."""
    array = np.ascontiguousarray(digits)
    header = f"{array.dtype.str}{array.shape}".encode()
    return hashlib.sha256(header + array.tobytes()).hexdigest()[:32]


def last_hidden_features(model: Any, digits: np.ndarray) -> np.ndarray:
    """The last hidden layer's outputs (N, features) for uint8 digits (N, 28, 28)."""
    return anatomy(model).last_hidden(digits)


def principal_components(features: np.ndarray, count: int = 2) -> np.ndarray:
    """``features`` centred and projected on their first ``count`` principal axes (N, count).

    Each axis's sign is chosen so that its largest loading is positive, which makes the
    result unique (the SVD's own signs are arbitrary).
    """
    centred = np.asarray(features, dtype=np.float64)
    centred = centred - centred.mean(axis=0)
    _values, vectors = np.linalg.eigh(centred.T @ centred)
    axes = vectors[:, ::-1][:, :count]
    largest = np.abs(axes).argmax(axis=0)
    axes = axes * np.sign(axes[largest, np.arange(axes.shape[1])])
    return np.asarray(centred @ axes)


STOP_CHECK_EVERY = 10
"""t-SNE iterations between two looks at the caller's ``stop``."""


def tsne(features: np.ndarray, seed: int = 0, stop: Callable[[], bool] | None = None) -> np.ndarray:
    """A t-SNE map (openTSNE, FFT gradients, on both cores) of ``features`` (N, 2).

    ``stop`` is asked every :data:`STOP_CHECK_EVERY` iterations; when it says yes the
    work ends with :class:`Stopped` (a map nobody waits for frees the cores at once)."""
    from openTSNE import TSNEEmbedding, affinity, initialization
    from openTSNE.tsne import OptimizationInterrupt

    reduced = principal_components(features, min(REDUCED, features.shape[1]))
    similarities = affinity.PerplexityBasedNN(
        reduced,
        perplexity=min(PERPLEXITY, max(1.0, (len(reduced) - 1) / 3)),
        method="annoy",
        n_jobs=2,
        random_state=seed,
        verbose=False,
    )
    start = initialization.pca(reduced, random_state=seed)
    embedding = TSNEEmbedding(
        start, similarities, negative_gradient_method="fft", n_jobs=2, random_state=seed
    )
    watch: dict[str, Any] = {}
    if stop is not None:
        watch = {
            "callbacks": [lambda _iteration, _error, _embedding: stop()],
            "callbacks_every_iters": STOP_CHECK_EVERY,
            "propagate_exception": True,
        }
    try:
        embedding = embedding.optimize(
            EXAGGERATED_ITERATIONS, exaggeration=12, momentum=0.5, **watch
        )
        embedding = embedding.optimize(ITERATIONS, momentum=0.8, **watch)
    except OptimizationInterrupt:
        raise Stopped("the map was no longer wanted") from None
    return np.asarray(embedding, dtype=np.float64)


def neighbour_agreement(points: np.ndarray, labels: np.ndarray, k: int = NEIGHBOURS) -> float:
    """The share of points most of whose ``k`` nearest other points share their label."""
    from scipy.spatial import cKDTree

    count = len(points)
    if count <= k:
        return 0.0
    _distances, nearest = cKDTree(points).query(points, k=k + 1)
    labels = np.asarray(labels)
    same = (labels[nearest[:, 1:]] == labels[:, None]).sum(axis=1)
    return float((same > k // 2).mean())


def project(
    features: np.ndarray,
    labels: np.ndarray,
    method: Method,
    stop: Callable[[], bool] | None = None,
) -> Projection:
    """Project ``features`` to 2-D by ``method`` and measure its neighbour agreement
    (``stop``: see :func:`tsne`)."""
    began = time.perf_counter()
    points = principal_components(features) if method == "pca" else tsne(features, stop=stop)
    seconds = time.perf_counter() - began
    return Projection(
        method=method,
        points=points.astype(np.float32),
        neighbour_agreement=neighbour_agreement(points, labels),
        seconds=seconds,
    )


def cache_path(run_path: Path, method: Method) -> Path:
    """Where a run keeps its map by ``method``."""
    return run_path / f"map-{method}.json"


def write_cache(run_path: Path, projection: Projection, key: str) -> None:
    """Keep ``projection`` in the run's folder (atomically); ``OSError`` if it cannot."""
    record = {
        "format": FORMAT,
        "method": projection.method,
        "digits": key,
        "neighbour_agreement": projection.neighbour_agreement,
        "seconds": projection.seconds,
        "x": [round(float(value), 4) for value in projection.points[:, 0]],
        "y": [round(float(value), 4) for value in projection.points[:, 1]],
    }
    atomic_write_text(cache_path(run_path, projection.method), strict_json.dumps(record))


def _refuse(value: str) -> Any:
    raise ValueError(f"{value} is not a number JSON allows")


def _number(record: dict[str, Any], name: str, low: float, high: float) -> float:
    value = record.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} is not a number")
    if not (math.isfinite(value) and low <= value <= high):
        raise ValueError(f"{name} is out of range")
    return float(value)


def _coordinates(record: dict[str, Any], name: str, count: int) -> np.ndarray:
    values = record.get(name)
    if not isinstance(values, list) or len(values) != count:
        raise ValueError(f"{name} does not hold {count:,} coordinates")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        raise ValueError(f"{name} holds something other than numbers")
    array = np.asarray(values, dtype=np.float64)
    if not np.isfinite(array).all() or np.abs(array).max(initial=0.0) > MAX_COORDINATE:
        raise ValueError(f"{name} holds a coordinate out of range")
    return array


def read_cache(run_path: Path, method: Method, key: str, count: int) -> Projection:
    """The map a run keeps for ``method`` and these digits (``key``, ``count`` of them).

    The file is hostile input: a link or device, more than :data:`MAX_CACHE_BYTES`, not
    strict JSON, another format, method or set of digits, a count other than ``count``,
    a non-finite or huge coordinate: each is an :class:`InsideError` naming why.
    """
    path = cache_path(run_path, method)
    if not is_plain_file(path):
        raise InsideError(f"{path.name} is not a plain file")
    try:
        record = json.loads(read_text_bounded(path, MAX_CACHE_BYTES), parse_constant=_refuse)
        if not isinstance(record, dict):
            raise ValueError("it is not a JSON object")
        if record.get("format") != FORMAT or record.get("method") != method:
            raise ValueError("another format or method")
        if record.get("digits") != key:
            raise ValueError("it was drawn for other digits")
        if not 0 < count <= MAX_POINTS:
            raise ValueError(f"{count:,} points")
        points = np.stack(
            [_coordinates(record, "x", count), _coordinates(record, "y", count)], axis=1
        )
        agreement = _number(record, "neighbour_agreement", 0.0, 1.0)
        seconds = _number(record, "seconds", 0.0, 1e6)
    except (OSError, ValueError, RecursionError) as exc:
        raise InsideError(f"{path.name} was refused ({exc})") from None
    return Projection(method, points.astype(np.float32), agreement, seconds, cached=True)


@dataclass(frozen=True)
class DigitMap:
    """A map of the test digits, with each one's label and a model's prediction."""

    projection: Projection
    labels: np.ndarray
    predictions: np.ndarray
    note: str = ""
    """Why a cached map was not used, or why the map could not be cached; else ``""``."""

    @property
    def mistakes(self) -> np.ndarray:
        """Whether each digit's prediction is wrong."""
        return np.asarray(self.predictions != self.labels)

    def nearest(self, x: float, y: float, shown: np.ndarray | None = None) -> int | None:
        """The index of the digit nearest ``(x, y)`` on the map, among ``shown`` (a mask)."""
        candidates = np.arange(len(self.labels)) if shown is None else np.flatnonzero(shown)
        if not len(candidates):
            return None
        points = self.projection.points[candidates]
        distance = (points[:, 0] - x) ** 2 + (points[:, 1] - y) ** 2
        return int(candidates[int(distance.argmin())])


def digit_map(
    model: Any,
    run_path: Path,
    digits: np.ndarray,
    labels: np.ndarray,
    predictions: np.ndarray,
    method: Method = "pca",
    *,
    use_cache: bool = True,
    stop: Callable[[], bool] | None = None,
) -> DigitMap:
    """The map of ``digits`` in ``model``'s last hidden layer by ``method``, read from the
    run folder ``run_path`` when a sound one is cached there, else computed and cached.

    ``predictions`` may come from any run's model: the map's layout is ``model``'s, its
    marks (mistakes, predicted classes) another's, to compare two runs on one map.
    ``stop`` ends a t-SNE early with :class:`Stopped` (nothing is cached then).
    """
    key = digits_key(digits)
    note = ""
    if use_cache and cache_path(run_path, method).exists():
        try:
            cached = read_cache(run_path, method, key, len(digits))
            return DigitMap(cached, np.asarray(labels), np.asarray(predictions))
        except InsideError as exc:
            note = f"{exc}; computed again"
    projection = project(last_hidden_features(model, digits), labels, method, stop)
    try:
        write_cache(run_path, projection, key)
    except OSError as exc:
        note = f"{note}; " if note else ""
        note += f"not cached ({exc.strerror or exc})"
    return DigitMap(projection, np.asarray(labels), np.asarray(predictions), note)
