"""What writing a run's TensorBoard events costs, against the training it records.

Trains one typical run, the default config (MLP, 3 epochs, batch 256) on the real MNIST,
through the engine's own ``train_evaluate_save``, so the per-step curve has its real
size. The events' writing inside that save is timed on its own: the first one in a
process, which also pays TensorBoard's imports and the first writers. The same record is
then written ``--repeats`` more times into fresh folders (the cost of every later save
in a process, as in a sweep), and once more with the curve stretched to the most points
a run keeps (10,000). The figures: training seconds, writing seconds (first and median
later), their ratio (the budget is 2%), the curve's size and the events' bytes.

What was tried (2 shared cores, training 2.1-2.8 s): ``tf.summary.scalar`` per value and
the HParams plugin's ``hp.hparams`` cost 38-57 ms first in a process (25 ms of it
importing TensorBoard's Python summary modules; up to 2.06% of training) and 7-9 ms
later, with 3 KB of events. The same summaries built as protocol buffers and written
one event per step (``tf.summary.experimental.write_raw_pb``) cost 14-20 ms first
(0.6-0.9%) and 3-4 ms later, with 1.9 KB.

Run: ``.venv/bin/python benchmarks/tensorboard_cost.py [--repeats N] [--validation-split F]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from mnist_tui.core.config import TrainConfig
from mnist_tui.core.data.mnist import load_mnist
from mnist_tui.core.engine.training import MAX_STEP_POINTS, PROGRESS_INTERVAL
from mnist_tui.core.runs.store import RUN_FILE, RunStore, tensorboard_events
from mnist_tui.core.session import train_evaluate_save

BUDGET = 0.02
"""Writing the events may cost at most this share of the training time."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--validation-split", type=float, default=0.0)
    args = parser.parse_args()
    config = TrainConfig(validation_split=args.validation_split)
    data = load_mnist()
    in_save: list[float] = []
    write = tensorboard_events.write_run_events

    def timed(folder: Path, record: Mapping[str, Any]) -> None:
        start = time.perf_counter()
        write(folder, record)
        in_save.append(time.perf_counter() - start)

    tensorboard_events.write_run_events = timed  # RunStore.save imports it when it saves
    with tempfile.TemporaryDirectory() as tmp:
        session = train_evaluate_save(
            config, data, RunStore(Path(tmp) / "runs"), lambda _event: None
        )
        tensorboard_events.write_run_events = write
        record = json.loads((session.run.path / RUN_FILE).read_text())
        events = session.run.path / tensorboard_events.TENSORBOARD_DIR
        size = _size(events)
        later = []
        for repeat in range(args.repeats):
            start = time.perf_counter()
            write(Path(tmp) / f"again-{repeat}", record)
            later.append(time.perf_counter() - start)
        longest = _stretched(record, MAX_STEP_POINTS)
        start = time.perf_counter()
        write(Path(tmp) / "longest", longest)
        longest_seconds = time.perf_counter() - start
        longest_size = _size(Path(tmp) / "longest" / tensorboard_events.TENSORBOARD_DIR)
    train_seconds = session.result.finished.seconds
    first = in_save[0]
    print(
        f"run: default config (MLP {config.hidden_units}, {config.epochs} epochs, batch "
        f"{config.batch_size}, validation split {config.validation_split:g}) on "
        f"{len(data.y_train):,} MNIST digits"
    )
    print(
        f"per-step curve: {len(record['steps']['step'])} points; "
        f"history: {len(record['history'])} epochs; event files: {size:,} bytes"
    )
    print(f"training:                    {train_seconds:8.3f} s")
    print(f"events, first in process:    {first:8.3f} s  ({first / train_seconds:.2%} of training)")
    print(
        f"events, later (median of {args.repeats}): {statistics.median(later):8.3f} s  "
        f"({statistics.median(later) / train_seconds:.2%} of training)"
    )
    print(
        f"events, {MAX_STEP_POINTS:,}-point curve:  {longest_seconds:8.3f} s  "
        f"({longest_size:,} bytes; such a run trains for at least "
        f"{MAX_STEP_POINTS * PROGRESS_INTERVAL:,.0f} s)"
    )
    verdict = "within" if first <= BUDGET * train_seconds else "OVER"
    print(f"budget: {BUDGET:.0%} of training -> {verdict}")


def _size(folder: Path) -> int:
    """Bytes of the files under ``folder``."""
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def _stretched(record: dict[str, Any], points: int) -> dict[str, Any]:
    """``record`` with its per-step curve repeated to ``points`` points (steps 1, 2, ...)."""
    steps = record["steps"]
    count = len(steps["step"])
    stretched = {name: [column[i % count] for i in range(points)] for name, column in steps.items()}
    stretched["step"] = list(range(1, points + 1))
    return {**record, "steps": stretched}


if __name__ == "__main__":
    main()
