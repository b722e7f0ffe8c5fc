"""The Training tab's chart cost per progress tick at a long run's 10,000 recorded steps.

Prints, side by side: the braille dots of a 10,000-point line drawn whole and thinned to
four points per dot column (the same dots), a whole chart's draw, and building the three
charts' series from the steps. At 4 progress ticks a second, what a tick costs the UI
thread is what matters. Run: ``.venv/bin/python benchmarks/chart_draw.py``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from mnist_tui.core.events import EpochEnd, StepPoint
from mnist_tui.ui.widgets.curves import learning_rate_curve, training_curves
from mnist_tui.ui.widgets.line_chart import braille_cells, thinned

POINTS = 10_000
ROWS, COLS = 13, 50


def per_call(work: Callable[[], object], repeats: int = 20) -> float:
    """Median milliseconds of ``work()``."""
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        work()
        times.append(time.perf_counter() - began)
    return float(np.median(times)) * 1000


def main() -> None:
    rng = np.random.default_rng(0)
    dots = np.column_stack(
        [np.linspace(0, COLS * 2 - 1, POINTS), np.clip(rng.normal(20, 8, POINTS), 0, ROWS * 4 - 1)]
    )
    whole = per_call(lambda: braille_cells(dots, ROWS, COLS), repeats=3)
    thin = per_call(lambda: braille_cells(thinned(dots, COLS * 2), ROWS, COLS))
    same = np.array_equal(
        braille_cells(dots, ROWS, COLS), braille_cells(thinned(dots, COLS * 2), ROWS, COLS)
    )
    steps = [
        StepPoint(
            step=i,
            samples=i * 100,
            epoch=i // 500 + 1,
            loss=1.0,
            loss_mean=1.0,
            accuracy=0.5,
            accuracy_mean=0.5,
            learning_rate=0.001,
        )
        for i in range(1, POINTS + 1)
    ]
    history = [
        EpochEnd(epoch=e, loss=1.0, accuracy=0.5, val_loss=1.0, val_accuracy=0.5, seconds=1.0)
        for e in range(1, 21)
    ]

    def series() -> None:
        for metric in ("loss", "accuracy"):
            training_curves(history, steps, metric, 50_000)  # type: ignore[arg-type]
        learning_rate_curve(steps, 50_000)

    print(f"{POINTS:,} points on a {COLS}x{ROWS} plot")
    print(f"  braille dots, whole line      {whole:8.1f} ms")
    print(f"  braille dots, thinned         {thin:8.1f} ms   (same dots: {same})")
    print(f"  three charts' series per tick {per_call(series):8.1f} ms")


if __name__ == "__main__":
    main()
