"""Time to accuracy: the seed script against each preset, side by side in one run.

The seed script is the classic Keras MLP recipe run as a whole process: import Keras,
load MNIST, build Flatten, Dense(128, relu), Dropout(0.2), Dense(10, softmax), ``fit``
float arrays at batch 32 with Keras's defaults for 5 epochs, evaluate. Each preset is
the real command a user types, ``mnist-tui train --preset NAME`` (which also saves the
run), in a fresh process. The ways run alternately, ``--repeats`` times, and the table
gives medians (with min-max) of the training seconds and of the whole process, the test
accuracy, and the ratios to the seed script. Each preset is also trained with seeds 1
and 2, for the spread of its accuracy over 3 seeds.

Run: ``.venv/bin/python benchmarks/train_speed.py [--repeats N]`` on a quiet machine
(docs/performance.md has the figures and how they were reached).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

SEED_SCRIPT = """
import json, time
import keras
from mnist_tui.core.data.mnist import load_mnist

data = load_mnist()
x_train, x_test = data.x_train / 255.0, data.x_test / 255.0
keras.utils.set_random_seed(42)
model = keras.Sequential([
    keras.Input(shape=(28, 28)),
    keras.layers.Flatten(),
    keras.layers.Dense(128, activation="relu"),
    keras.layers.Dropout(0.2),
    keras.layers.Dense(10, activation="softmax"),
])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
began = time.perf_counter()
model.fit(x_train, data.y_train, epochs=5, verbose=0)
seconds = time.perf_counter() - began
loss, accuracy = model.evaluate(x_test, data.y_test, verbose=0)
print(json.dumps({"seconds": seconds, "accuracy": float(accuracy)}))
"""

PRESET_GOALS = {
    "seed MLP": "MLP: seed's accuracy, >= 8x less training time",
    "CNN quick": ">= 99.0% in <= 0.5x the seed's training time",
    "CNN": ">= 99.4% in <= 2.5x the seed's training time",
}
"""The presets measured, and what issue 13 asks of each."""
EXTRA_SEEDS = {"seed MLP": (1, 2), "CNN quick": (1, 2), "CNN": (1, 2)}


@dataclass(frozen=True)
class Figures:
    """One fresh process: training seconds, whole-process seconds, test accuracy."""

    train: float
    whole: float
    accuracy: float


def run_seed_script() -> Figures:
    """The seed script as a whole process."""
    began = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-I", "-c", SEED_SCRIPT],
        capture_output=True,
        text=True,
        check=True,
        env=_env(),
    )
    whole = time.perf_counter() - began
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    return Figures(figures["seconds"], whole, figures["accuracy"])


def run_preset(name: str, seed: int | None = None) -> Figures:
    """``mnist-tui train --preset NAME --json`` as a whole process (it saves the run)."""
    with tempfile.TemporaryDirectory() as runs:
        command = [
            sys.executable,
            "-I",
            "-m",
            "mnist_tui",
            "train",
            "--preset",
            name,
            "--runs-dir",
            runs,
            "--json",
        ]
        if seed is not None:
            command += ["--seed", str(seed)]
        began = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=True, env=_env())
        whole = time.perf_counter() - began
    run = json.loads(done.stdout)
    return Figures(run["train_seconds"], whole, run["test"]["accuracy"])


LIVENESS_SCRIPT = """
import json, sys, threading, time
from mnist_tui.core.config import PRESETS
from mnist_tui.core.data.mnist import load_mnist
from mnist_tui.core.events import BatchProgress
from mnist_tui.core.engine.training import train

data, stop, ticks = load_mnist(), threading.Event(), []
def sink(event):
    if isinstance(event, BatchProgress):
        ticks.append(time.perf_counter())
        if len(ticks) == 24:  # a few seconds in, past the first compiled call
            stop.set()
            ticks.append(time.perf_counter())
config = PRESETS[sys.argv[1]].replace(epochs=50)
train(config, data.x_train, data.y_train, sink, stop)
ended = time.perf_counter()
gaps = [b - a for a, b in zip(ticks[1:-2], ticks[2:-1])]  # after the first (traced) call
print(json.dumps({"stop": ended - ticks[-1], "max_gap": max(gaps),
                  "ticks_per_s": len(gaps) / sum(gaps)}))
"""


def run_liveness(name: str) -> dict[str, float]:
    """Progress ticks and a stop, for preset ``name`` in a fresh process."""
    done = subprocess.run(
        [sys.executable, "-I", "-c", LIVENESS_SCRIPT, name],
        capture_output=True,
        text=True,
        check=True,
        env=_env(),
    )
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _env() -> dict[str, str]:
    """This environment, with the project importable from a plain ``python -I``."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return {**os.environ, "PYTHONPATH": root}


def _median(values: list[float]) -> str:
    return (
        f"{statistics.median(values):6.2f} ({min(values):.2f}-{max(values):.2f})"
        if len(values) > 1
        else f"{values[0]:6.2f}"
    )


def main() -> None:
    """Alternate the seed script and the presets; print medians, spreads and ratios."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    results: dict[str, list[Figures]] = {"seed script": [], **{n: [] for n in PRESET_GOALS}}
    for repeat in range(args.repeats):
        for way in results:
            figures = run_seed_script() if way == "seed script" else run_preset(way)
            results[way].append(figures)
            print(
                f"  run {repeat + 1} {way:12} train {figures.train:6.2f} s  whole "
                f"{figures.whole:6.2f} s  test accuracy {figures.accuracy:.4f}",
                flush=True,
            )
    seeds = {
        name: [run_preset(name, seed).accuracy for seed in extra]
        for name, extra in EXTRA_SEEDS.items()
    }
    seed_train = statistics.median(f.train for f in results["seed script"])
    seed_whole = statistics.median(f.whole for f in results["seed script"])
    print(
        f"\n{'':12}{'train s (min-max)':>22}{'whole s (min-max)':>22}{'test acc':>10}"
        f"{'train x':>9}{'whole x':>9}"
    )
    for way, runs in results.items():
        train = statistics.median(f.train for f in runs)
        whole = statistics.median(f.whole for f in runs)
        print(
            f"{way:12}{_median([f.train for f in runs]):>22}"
            f"{_median([f.whole for f in runs]):>22}"
            f"{statistics.median(f.accuracy for f in runs):10.4f}"
            f"{seed_train / train:8.2f}x{seed_whole / whole:8.2f}x"
        )
    print("\nratios: the seed script's median over the way's median (higher is quicker)")
    for name, goal in PRESET_GOALS.items():
        train = statistics.median(f.train for f in results[name])
        print(f"  {name:10} goal: {goal}; here {train / seed_train:.2f}x the seed's time")
    for name, accuracies in seeds.items():
        first = statistics.median(f.accuracy for f in results[name])
        print(
            f"  {name:10} test accuracy over seeds 42, 1, 2: "
            + ", ".join(f"{a:.4f}" for a in (first, *accuracies))
        )
    print("\nliveness (goal: >= 4 progress ticks a second, a stop acting within 1 s)")
    for name in PRESET_GOALS:
        live = run_liveness(name)
        print(
            f"  {name:10} {live['ticks_per_s']:5.1f} ticks/s, longest gap "
            f"{live['max_gap']:.2f} s, stopped {live['stop']:.2f} s after the request"
        )
    mlp_whole = statistics.median(f.whole for f in results["seed MLP"])
    print(
        f"  whole process: seed MLP {seed_whole / mlp_whole:.2f}x quicker than the seed "
        "script (goal >= 4.5x)"
    )


if __name__ == "__main__":
    main()
