"""A 20-trial MLP sweep on the real MNIST: with and without pruning, on 1 and 2 workers.

Each sweep is ``mnist-tui sweep run`` in a fresh process on the default MLP search space
(learning rate, batch size, dropout and layer sizes; 10 epochs a trial), in a runs folder
of its own, with the same sampler seed, so the sweeps draw alike until their results
differ. It prints, side by side, the wall time of each sweep, how its trials ended, the
validation accuracy of the best trial and that trial's test accuracy (the test set is only
reported: the best is chosen on validation), and the best test accuracy any trial reached.
Run: ``.venv/bin/python benchmarks/sweep_speed.py [--trials N] [--only median-1,none-1]``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

SWEEPS = {"median-1": ("median", 1), "none-1": ("none", 1), "median-2": ("median", 2)}
"""Name: (pruner, workers)."""


def run_sweep(pruner: str, workers: int, trials: int, seed: int) -> dict[str, object]:
    """One sweep in a fresh process and a fresh runs folder; its figures."""
    from mnist_tui.core.sweeps.storage import SweepStorage, default_storage_url

    with tempfile.TemporaryDirectory(prefix="sweep-bench-") as folder:
        runs = Path(folder)
        command = [
            sys.executable,
            "-I",
            "-m",
            "mnist_tui",
            "sweep",
            "run",
            "--study",
            "bench",
            "--trials",
            str(trials),
            "--workers",
            str(workers),
            "--pruner",
            pruner,
            "--sampler-seed",
            str(seed),
            "--runs-dir",
            str(runs),
        ]
        began = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True)
        seconds = time.perf_counter() - began
        if done.returncode != 0:
            raise SystemExit(f"sweep failed ({done.returncode}): {done.stderr[-2000:]}")
        with SweepStorage(default_storage_url(runs), create=False) as storage:
            study = storage.study("bench")
    best = study.best
    tests = [t.test_accuracy for t in study.trials if t.test_accuracy is not None]
    return {
        "seconds": seconds,
        "complete": study.count("complete"),
        "pruned": study.count("pruned"),
        "failed": study.count("failed"),
        "best_val": best.val_accuracy if best else None,
        "best_test": best.test_accuracy if best else None,
        "max_test": max(tests, default=None),
        "best_params": " ".join(f"{k}={v}" for k, v in best.params) if best else "",
    }


def main() -> None:
    """Run the sweeps and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--only",
        default=",".join(SWEEPS),
        help=f"comma-separated sweeps to run, of {', '.join(SWEEPS)}",
    )
    args = parser.parse_args()
    results = {}
    for name in args.only.split(","):
        pruner, workers = SWEEPS[name]
        print(
            f"running {name}: {args.trials} trials, pruner {pruner}, {workers} worker(s)...",
            file=sys.stderr,
            flush=True,
        )
        results[name] = run_sweep(pruner, workers, args.trials, args.seed)
        print(f"  {results[name]}", file=sys.stderr, flush=True)
    print(
        f"\n{args.trials}-trial MLP sweeps on {os.cpu_count()} cores (sampler seed {args.seed})\n"
    )
    print(
        "| sweep | workers | wall time | complete / pruned / failed | best val acc | "
        "its test acc | best test acc of any trial |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, r in results.items():
        pruner, workers = SWEEPS[name]
        print(
            f"| {'pruning ' + pruner if pruner != 'none' else 'no pruning'} | {workers} | "
            f"{r['seconds'] / 60:.1f} min | {r['complete']} / {r['pruned']} / {r['failed']} | "
            f"{_acc(r['best_val'])} | {_acc(r['best_test'])} | {_acc(r['max_test'])} |"
        )
    print()
    for name, r in results.items():
        print(f"{name} best trial: {r['best_params']}")


def _acc(value: object) -> str:
    return f"{value:.4f}" if isinstance(value, float) else "-"


if __name__ == "__main__":
    main()
