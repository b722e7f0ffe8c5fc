"""Seed's way vs this engine's default, on the real MNIST, side by side in one run.

The seed's way is the classic Keras MLP recipe: the same model, ``model.fit`` on
float arrays at batch 32 with Keras defaults, 5 epochs. The engine's way is
``mnist_tui.core.training.train`` with the default config. Each measurement runs in a
fresh process (both pay TensorFlow's warm-up), alternating, and the medians are
compared. Run: ``.venv/bin/python benchmarks/train_speed.py [--repeats N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def seed_way() -> dict[str, float]:
    """The seed: Flatten, Dense(128, relu), Dropout(0.2), Dense(10, softmax); fit at batch 32."""
    import keras

    from mnist_tui.core.data import load_mnist

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
    return {"seconds": seconds, "accuracy": float(accuracy), "loss": float(loss)}


def engine_way() -> dict[str, float]:
    """This engine's default config through ``train`` (model build and compile included)."""
    from mnist_tui.core.config import TrainConfig
    from mnist_tui.core.data import load_mnist
    from mnist_tui.core.evaluation import evaluate_model
    from mnist_tui.core.training import train

    data = load_mnist()
    began = time.perf_counter()
    result = train(TrainConfig(), data.x_train, data.y_train, lambda _event: None)
    seconds = time.perf_counter() - began
    evaluation = evaluate_model(result.model, data.x_test, data.y_test)
    return {"seconds": seconds, "accuracy": evaluation.accuracy, "loss": evaluation.loss}


WAYS = {"seed": seed_way, "engine": engine_way}


def measure(way: str) -> dict[str, float]:
    """Run one way in a fresh Python process and return its figures."""
    done = subprocess.run([sys.executable, "-I", __file__, "--one", way], capture_output=True,
                          text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    """Measure both ways ``--repeats`` times, alternating, and print medians and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--one", choices=sorted(WAYS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(WAYS[args.one]()))
        return
    from mnist_tui.core.config import TrainConfig

    print(f"engine default: {TrainConfig().summary()} epochs={TrainConfig().epochs}")
    results: dict[str, list[dict[str, float]]] = {"seed": [], "engine": []}
    for repeat in range(args.repeats):
        for way in ("seed", "engine"):
            figures = measure(way)
            results[way].append(figures)
            print(f"  run {repeat + 1} {way:6}: {figures['seconds']:6.2f} s  "
                  f"test accuracy {figures['accuracy']:.4f}", flush=True)
    medians = {way: {key: statistics.median(r[key] for r in runs) for key in runs[0]}
               for way, runs in results.items()}
    print()
    print(f"{'':8}{'train s':>10}{'test acc':>10}{'test loss':>11}")
    for way, label in (("seed", "seed"), ("engine", "engine")):
        m = medians[way]
        print(f"{label:8}{m['seconds']:10.2f}{m['accuracy']:10.4f}{m['loss']:11.4f}")
    ratio = medians["seed"]["seconds"] / medians["engine"]["seconds"]
    gain = medians["engine"]["accuracy"] - medians["seed"]["accuracy"]
    print(f"\nspeed-up {ratio:.1f}x (target >= 5x); accuracy {gain:+.4f} "
          f"(target >= 0) over {args.repeats} repeats (medians)")


if __name__ == "__main__":
    main()
