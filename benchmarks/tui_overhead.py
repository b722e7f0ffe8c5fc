"""The app's overhead: the same training headless and inside the Textual app.

Trains the default config on the real MNIST through the core engine directly and
through the app (driven headless by ``run_test``, with every event drawn). Each
measurement runs in a fresh process, as a user's first run does; the two sides run back
to back in alternating order, and the script prints both times and their paired ratio
(target: under 5% overhead). Also prints the time from starting ``mnist-tui`` to its
first frame. Run: ``python benchmarks/tui_overhead.py [--repeats N] [--epochs N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from mnist_tui.core.config import TrainConfig
from mnist_tui.core.data.mnist import MnistData, load_mnist
from mnist_tui.core.runs.store import RunStore


def phases(started: float, epochs: list[float]) -> dict[str, float]:
    """Seconds to the first step, and the mean epoch after the first (which traces)."""
    later = epochs[1:] or epochs
    return {"start": started, "epoch": statistics.mean(later) if later else 0.0}


def headless(config: TrainConfig, data: MnistData, runs: Path) -> dict[str, float]:
    """Seconds for train + evaluate + save through the core, and the process's CPU
    seconds (all threads) in that time."""
    from mnist_tui.core.events import EpochEnd, TrainingStarted
    from mnist_tui.core.session import train_evaluate_save

    started: list[float] = []
    epochs: list[float] = []

    def sink(event: object) -> None:
        if isinstance(event, TrainingStarted):
            started.append(time.perf_counter() - began)
        elif isinstance(event, EpochEnd):
            epochs.append(event.seconds)

    began, cpu = time.perf_counter(), time.process_time()
    train_evaluate_save(config, data, RunStore(runs), sink)
    return {
        "seconds": time.perf_counter() - began,
        "cpu": time.process_time() - cpu,
        "ui_cpu": 0.0,
        **phases(started[0], epochs),
    }


def in_app(config: TrainConfig, data: MnistData, runs: Path) -> dict[str, float]:
    """Seconds from pressing Train until the run is saved, the UI thread's CPU seconds and
    the process's CPU seconds (all threads) in that time.

    The end is the core's ``RunSaved`` event reaching the app: the same work as the
    headless measurement (train, evaluate, save), done while the app draws every event.
    The driver sleeps between checks instead of calling ``pilot.pause`` in a tight loop:
    pausing forces the app to process and repaint, and at 100 Hz that alone doubled the
    training time, which no user's idle terminal does.
    """
    from textual import events
    from textual.widgets import TabbedContent

    from mnist_tui.core.events import EpochEnd, RunSaved, TrainingStarted
    from mnist_tui.ui.app import MnistApp
    from mnist_tui.ui.messages import EngineEvent

    app = MnistApp(config=config, runs_dir=runs, data_loader=lambda _say: data)
    saved: list[tuple[float, float, float]] = []
    started: list[float] = []
    epochs: list[float] = []

    def hook(message: object) -> None:  # called on the UI thread as it handles a message
        if not isinstance(message, EngineEvent):
            return
        if isinstance(message.event, RunSaved):
            saved.append((time.perf_counter(), time.process_time(), time.thread_time()))
        elif isinstance(message.event, TrainingStarted):
            started.append(time.perf_counter())
        elif isinstance(message.event, EpochEnd):
            epochs.append(message.event.seconds)

    async def drive() -> dict[str, float]:
        async with app.run_test(size=(120, 40), message_hook=hook) as pilot:
            while app.data is None or not app.device.startswith(("CPU", "GPU")):
                await asyncio.sleep(0.05)
            await pilot.pause()  # the first focus settles (else it can pull Setup back up)
            began, cpu, process_cpu = time.perf_counter(), time.thread_time(), time.process_time()
            # The key arrives as a terminal sends it; ``pilot.press`` would then poll
            # for an idle process for up to two seconds while training runs.
            app.post_message(events.Key("ctrl+t", None))
            while not saved:  # the hook stamps the time; this only waits for it
                await asyncio.sleep(0.05)
            seconds, process_cpu, cpu = (
                end - start for end, start in zip(saved[0], (began, process_cpu, cpu), strict=True)
            )
            shown = app.query_one(TabbedContent).active
            assert shown == "training", f"the app showed {shown}, not the live Training tab"
            while app.training:  # let the app finish drawing before it closes
                await asyncio.sleep(0.05)
            return {
                "seconds": seconds,
                "cpu": process_cpu,
                "ui_cpu": cpu,
                **phases(started[0] - began, epochs),
            }

    return asyncio.run(drive())


SIDES = {"headless": headless, "app": in_app}


def measure(side: str, epochs: int) -> dict[str, float]:
    """One run of ``side`` in a fresh Python process (TensorFlow imported and the data
    loaded before the clock starts, on both sides)."""
    done = subprocess.run(
        [sys.executable, "-I", __file__, "--one", side, "--epochs", str(epochs)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_one(side: str, epochs: int) -> None:
    """The child: print one measurement as JSON."""
    import mnist_tui.core.engine.training  # noqa: F401  TensorFlow, imported before the clock starts

    data = load_mnist()
    with tempfile.TemporaryDirectory() as tmp:
        print(json.dumps(SIDES[side](TrainConfig(epochs=epochs), data, Path(tmp))))


def main() -> None:
    """Alternate headless and in-app training; print the paired ratios and first-frame time."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=20, help="pairs of measurements")
    parser.add_argument("--epochs", type=int, default=5, help="epochs of the default config")
    parser.add_argument("--one", choices=sorted(SIDES), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        run_one(args.one, args.epochs)
        return
    pairs: list[tuple[dict[str, float], dict[str, float]]] = []
    for repeat in range(args.repeats):
        # Each pair runs back to back, in alternating order, so that the machine's
        # slow drifts (other tenants, thermal) fall on both sides of each ratio.
        if repeat % 2:
            app = measure("app", args.epochs)
            base = measure("headless", args.epochs)
        else:
            base = measure("headless", args.epochs)
            app = measure("app", args.epochs)
        pairs.append((base, app))
        print(
            f"  pair {repeat + 1}: headless {base['seconds']:.2f} s, app {app['seconds']:.2f} s "
            f"({100 * (app['seconds'] / base['seconds'] - 1):+.1f}%); CPU {base['cpu']:.2f} vs "
            f"{app['cpu']:.2f} s, of which the UI thread {app['ui_cpu']:.2f} s",
            flush=True,
        )
    ratios = sorted(app["seconds"] / base["seconds"] for base, app in pairs)
    quartiles = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else ratios * 3
    print(
        f"\nheadless {statistics.median(b['seconds'] for b, _ in pairs):.2f} s   "
        f"app {statistics.median(a['seconds'] for _, a in pairs):.2f} s   "
        f"overhead {100 * (statistics.median(ratios) - 1):+.1f}% "
        f"(median of {len(pairs)} paired ratios, middle half {100 * (quartiles[0] - 1):+.1f}% "
        f"to {100 * (quartiles[2] - 1):+.1f}%; target < 5%; default config, "
        f"{args.epochs} epochs, each run in a fresh process)"
    )
    cpu_ratio = statistics.median(a["cpu"] / b["cpu"] for b, a in pairs)
    print(
        f"CPU seconds, all threads: app/headless {100 * (cpu_ratio - 1):+.1f}% (median of the "
        f"pairs); the UI thread's own: {statistics.median(a['ui_cpu'] for _, a in pairs):.2f} s"
    )
    sides = list(zip(*pairs, strict=True))  # (all headless runs, all app runs)
    start = [statistics.median(run["start"] for run in side) for side in sides]
    epoch = [statistics.median(run["epoch"] for run in side) for side in sides]
    print(
        f"where it goes (medians): to the first step headless {1000 * start[0]:.0f} ms, app "
        f"{1000 * start[1]:.0f} ms (until it shows it); an epoch after the first "
        f"{1000 * epoch[0]:.0f} ms vs {1000 * epoch[1]:.0f} ms"
    )
    # Here, not at the top: the children run isolated (-I), without this folder on sys.path.
    from first_frame import HERE, first_frame_seconds

    with tempfile.TemporaryDirectory() as runs:
        frames = [first_frame_seconds(HERE, Path(runs)) for _ in range(3)]
    print(
        f"first frame of `python -m mnist_tui`: {statistics.median(frames):.2f} s "
        f"(median of 3: {', '.join(f'{f:.2f}' for f in frames)})"
    )


if __name__ == "__main__":
    main()
