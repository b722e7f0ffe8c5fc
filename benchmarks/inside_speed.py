"""What the inside views cost, on the default MLP trained on the real MNIST.

1. Training dynamics: the default config (MLP, 3 epochs, batch 256) trained through the
   engine's ``train`` with the :class:`DynamicsRecorder` as an observer; the figures are
   the training's seconds and the recorder's own (the sum of its events' ``seconds``), and
   their ratio (the budget is 3%). ``--plain`` also trains once without it, for the wall
   clock's difference (noisy on shared cores: the recorder's own time is the measure).
2. Where it looks: integrated gradients toward the predicted class for ``--digits`` test
   digits: median and worst seconds, and the worst completeness error (the budget is 5%).
3. How the digits sit: the 10,000 test digits' map by PCA and by t-SNE: seconds and
   neighbour agreement (the budget is 0.9 in under 15 s). ``--umap`` also times UMAP
   (umap-learn, if installed: it is not a dependency; its numba code compiles at the
   first call of each process, about 30 s here, and it took 18-20 s after that).

Measured here (2 shared cores, other jobs running; training 2.6-4.5 s): recording 24-46 ms
(0.9-1.5%) once numpy's BLAS runs on one thread while it measures; with its default two
threads beside TensorFlow's, the same products took 45-85 ms an epoch (up to 4%). An MLP
is measured in numpy: TensorFlow's first eager calls in the training's process cost about
150 ms. Integrated gradients: median 5 ms, worst 30-60 ms, worst completeness error 1.7%
(64 steps; 4x more while the 5% check fails: 3.5% of 900 digit-class pairs needed it).
Maps: PCA 0.02-0.12 s, agreement 0.494; t-SNE (perplexity 10, 75 + 100 iterations)
4.2-18.9 s, agreement 0.963 (perplexity 30 and 125 + 250 iterations: 0.965 in 44 s);
UMAP (umap-learn 0.5.12, n_jobs=2) 70 s in a fresh process (numba compiling), then
18-23 s, agreement 0.965: t-SNE was chosen.

Run: ``.venv/bin/python benchmarks/inside_speed.py [--digits N] [--plain] [--umap]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import threading
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np

from mnist_tui.core.config import TrainConfig
from mnist_tui.core.data.mnist import load_mnist
from mnist_tui.core.engine.training import train
from mnist_tui.core.inside.attribution import attribute
from mnist_tui.core.inside.dynamics import DynamicsRecorder
from mnist_tui.core.inside.projection import last_hidden_features, neighbour_agreement, project


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--digits", type=int, default=200)
    parser.add_argument("--plain", action="store_true")
    parser.add_argument("--umap", action="store_true")
    args = parser.parse_args()
    data = load_mnist()
    config = TrainConfig()
    if args.plain:
        plain = train(config, data.x_train, data.y_train, lambda _e: None, threading.Event())
        print(f"training without the recorder: {plain.finished.seconds:.2f} s")
    recorder = DynamicsRecorder(data.x_train, data.y_train, lambda _e: None)
    result = train(
        config, data.x_train, data.y_train, lambda _e: None, threading.Event(), observers=[recorder]
    )
    trained = result.finished.seconds
    recording = sum(epoch.seconds for epoch in recorder.epochs)
    print(
        f"dynamics: training {trained:.2f} s, recording {recording * 1000:.0f} ms "
        f"({recording / trained:.2%} of it; per epoch "
        f"{', '.join(f'{e.seconds * 1000:.0f}' for e in recorder.epochs)} ms)"
    )
    model = result.model
    predicted = np.asarray(model.predict(data.x_test / 255.0, verbose=0)).argmax(axis=1)
    seconds, errors = [], []
    for index in range(args.digits):
        began = time.perf_counter()
        found = attribute(model, data.x_test[index], int(predicted[index]))
        seconds.append(time.perf_counter() - began)
        errors.append(found.completeness.error)
    print(
        f"integrated gradients on {args.digits} digits: median {statistics.median(seconds):.3f}"
        f" s, worst {max(seconds):.3f} s (first {seconds[0]:.3f} s); worst completeness "
        f"error {max(errors):.2%}"
    )
    began = time.perf_counter()
    features = last_hidden_features(model, data.x_test)
    print(f"last hidden layer of 10,000 digits: {time.perf_counter() - began:.2f} s")
    for method in ("pca", "tsne"):
        found_map = project(features, data.y_test, method)  # type: ignore[arg-type]
        print(
            f"{method}: {found_map.seconds:.2f} s, neighbour agreement "
            f"{found_map.neighbour_agreement:.4f}"
        )
    if args.umap:
        import umap  # type: ignore[import-not-found]

        for attempt in (1, 2):
            began = time.perf_counter()
            points = umap.UMAP(n_jobs=2).fit_transform(features)
            print(
                f"umap ({attempt}): {time.perf_counter() - began:.2f} s, neighbour agreement "
                f"{neighbour_agreement(points, data.y_test):.4f}"
            )


if __name__ == "__main__":
    main()
