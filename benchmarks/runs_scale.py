"""A runs folder at scale: 3,000 runs listed, and 6 of them compared.

Trains one small real run (an MLP of 32 units, 3 epochs with a validation split, on the
real MNIST, through ``train_evaluate_save``), then makes ``--runs`` run folders from it
in a temporary folder: its ``run.json`` with each copy's own id, time, losses,
accuracies and settings (as a sweep's trials differ; every tenth run named in an
``annotation.json``), and its model and test probabilities as hard links (6 runs get
probabilities of their own, so their comparison has disagreements). Then it times, each
figure printed with its command:

- ``mnist-tui runs`` and ``mnist-tui runs --json`` as real processes: the first read
  (no index: every ``run.json`` read and checked) and the second (the index reused);
- the core listing in this process: ``RunStore.summaries()`` first and again (a new store,
  as a new process), and ``RunStore.list()`` (every run in full, what the app's Runs tab
  reads) first and again on the same store (the app's refresh);
- the app's Runs tab in a fresh process (``--app-probe DIR``: ``MnistApp.run_test`` at
  120x40, MNIST held back so nothing else runs): from the app on screen, key ``5``
  until the table holds every run, with no index and with it; then, MNIST loaded, 6
  runs marked with space and, from key ``c``, their Compare on screen;
- the Compare of 6 runs: ``RunStore.load`` of each by id, its saved evaluation and
  ``comparison_dict`` (the core of the app's Compare screen), and ``mnist-tui compare A B
  C D E F --json`` as a process (which also loads and verifies MNIST).

The files are in the page cache (just written), as on a machine in use. Each figure is
wall-clock seconds, and the CPU seconds spent (this process and its children), which
the load of a shared machine does not inflate.

Run: ``.venv/bin/python benchmarks/runs_scale.py [--runs 3000] [--keep DIR]``
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np

from mnist_tui.core.config import TrainConfig
from mnist_tui.core.data.mnist import MnistData, load_mnist
from mnist_tui.core.runs.comparison import comparison_dict
from mnist_tui.core.runs.index import INDEX_FILE
from mnist_tui.core.runs.store import MODEL_FILE, PROBABILITIES_FILE, RUN_FILE, RunStore

MNIST_TUI = [sys.executable, "-m", "mnist_tui"]


def train_one(data: MnistData, folder: Path) -> Path:
    """One small real run: the files every copy is made from."""
    from mnist_tui.core.session import train_evaluate_save

    config = TrainConfig(hidden_units=(32,), epochs=3, validation_split=0.1)
    return train_evaluate_save(config, data, RunStore(folder), lambda _e: None).run.path


def make_runs(source: Path, root: Path, count: int, rng: np.random.Generator) -> list[str]:
    """``count`` valid runs made from ``source``; their ids, newest last."""
    record = json.loads((source / RUN_FILE).read_text())
    start = datetime(2026, 1, 1, tzinfo=UTC)
    ids = []
    for number in range(count):
        run_id = f"2026{number // 1000:04d}-{number % 1000:06d}-mlp-{number:04x}"
        folder = root / run_id
        folder.mkdir()
        copy = dict(record)
        created = start + timedelta(minutes=number)
        copy["run_id"] = run_id
        copy["config"] = {  # as a sweep's trials differ
            **record["config"],
            "learning_rate": float(10 ** rng.uniform(-4, -2)),
            "batch_size": int(rng.choice([64, 128, 256, 512])),
            "dropout": round(float(rng.uniform(0, 0.5)), 3),
        }
        copy["created"] = copy["started"] = created.isoformat(timespec="seconds")
        shift = float(rng.uniform(-0.02, 0.02))
        copy["test"] = {
            **record["test"],
            "accuracy": min(1.0, max(0.0, record["test"]["accuracy"] + shift)),
            "loss": record["test"]["loss"] * (1 - shift),
        }
        copy["history"] = [
            {**row, "loss": row["loss"] * (1 + shift), "accuracy": min(1.0, row["accuracy"])}
            for row in record["history"]
        ]
        copy["train_seconds"] = record["train_seconds"] * float(rng.uniform(0.8, 1.2))
        (folder / RUN_FILE).write_text(json.dumps(copy, indent=2))
        for name in (MODEL_FILE, PROBABILITIES_FILE):
            try:
                os.link(source / name, folder / name)
            except OSError:
                shutil.copyfile(source / name, folder / name)
        if number % 10 == 0:
            (folder / "annotation.json").write_text(
                json.dumps({"name": f"run {number}", "note": "", "tags": ["scale"]})
            )
        ids.append(run_id)
    return ids


def own_probabilities(folder: Path, rng: np.random.Generator) -> None:
    """Give a run probabilities of its own: 3% of its rows with two classes swapped."""
    path = folder / PROBABILITIES_FILE
    probabilities = np.load(path)
    rows = rng.choice(len(probabilities), size=len(probabilities) * 3 // 100, replace=False)
    columns = rng.integers(0, 10, size=(len(rows), 2))
    for row, (a, b) in zip(rows, columns, strict=True):
        probabilities[row, [a, b]] = probabilities[row, [b, a]]
    path.unlink()
    np.save(path, probabilities)


CPU = [0.0]
"""The CPU seconds of the last timed call (this process's and its children's): the figure
that a shared machine's load does not inflate."""


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed(call: Callable[[], Any]) -> tuple[float, Any]:
    began, cpu = time.perf_counter(), _cpu()
    result = call()
    CPU[0] = _cpu() - cpu
    return time.perf_counter() - began, result


def command(*args: str) -> Callable[[], int]:
    def run() -> int:
        done = subprocess.run([*MNIST_TUI, *args], capture_output=True, check=False)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(args)} failed: {done.stderr.decode()[-500:]}")
        return len(done.stdout)

    return run


def app_probe(root: Path, count: int) -> None:
    """Print the seconds from the app on screen, key ``5``, to the Runs table holding
    ``count`` rows, and that span's CPU seconds; then, MNIST loaded, the seconds to mark
    6 runs (space, 6 times) and from key ``c`` to their comparison on screen (run in a
    process of its own by :func:`app_runs_tab`)."""
    import asyncio
    import threading

    from textual.widgets import DataTable

    from mnist_tui.ui.app import MnistApp
    from mnist_tui.ui.screens.compare import CompareScreen

    done = threading.Event()

    def held(_say: Callable[[str], None]) -> MnistData:
        done.wait()  # MNIST and TensorFlow would compete for the CPU: held back
        return load_mnist()

    async def probe() -> tuple[float, ...]:
        app = MnistApp(runs_dir=root, data_loader=held)
        async with app.run_test(size=(120, 40)) as pilot:
            began, cpu = time.perf_counter(), time.process_time()
            await pilot.press("5")
            table = app.query_one("#runs-table", DataTable)
            while table.row_count < count:
                await asyncio.sleep(0.005)
            seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
            done.set()
            main = app.screen
            while getattr(main, "mnist", None) is None or main.mnist.data is None:
                await asyncio.sleep(0.02)
            await pilot.pause()
            table.move_cursor(row=0)
            began = time.perf_counter()
            await pilot.press(*["space"] * 6)
            await pilot.pause()
            marks = time.perf_counter() - began
            began = time.perf_counter()
            await pilot.press("c")
            while not isinstance(app.screen, CompareScreen):
                await asyncio.sleep(0.005)
            await pilot.pause()
            compare = time.perf_counter() - began
            await pilot.press("ctrl+q")
        return seconds, cpu, marks, compare

    print(*(f"{figure:.4f}" for figure in asyncio.run(probe())))


def app_runs_tab(root: Path, count: int) -> tuple[float, float, float]:
    """The app's Runs tab timed in a fresh process (:func:`app_probe`): its seconds (and
    the CPU seconds of that span in :data:`CPU`), the seconds to mark 6 runs, and those
    to compare them."""
    argv = [sys.executable, __file__, "--app-probe", str(root), "--runs", str(count)]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the app probe failed: {done.stderr[-800:]}")
    seconds, CPU[0], marks, compare = (float(word) for word in done.stdout.split()[-4:])
    return seconds, marks, compare


def report(what: str, seconds: float, how: str) -> None:
    print(f"{what:<40} {seconds:6.3f} s (cpu {CPU[0]:6.3f} s)  {how}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3000)
    parser.add_argument("--keep", type=Path, help="make the runs folder here and keep it")
    parser.add_argument("--app-probe", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.app_probe is not None:  # in a process of its own, for app_runs_tab
        app_probe(args.app_probe, args.runs)
        return
    rng = np.random.default_rng(0)
    data = load_mnist()
    work = Path(tempfile.mkdtemp(prefix="runs-scale-"))
    try:
        source = train_one(data, work / "source")
        root = args.keep or work / "runs"
        root.mkdir(parents=True, exist_ok=True)
        began = time.perf_counter()
        ids = make_runs(source, root, args.runs, rng)
        compared = ids[-6:]
        for run_id in compared:
            own_probabilities(root / run_id, rng)
        print(
            f"{len(ids)} runs in {root} ({time.perf_counter() - began:.1f} s to make); "
            f"run.json {(root / ids[0] / RUN_FILE).stat().st_size:,} bytes each",
            flush=True,
        )
        time.sleep(2.5)  # older than the index's racy window, as runs are in use
        where = ("--runs-dir", str(root))
        for label, argv in (("runs", ("runs",)), ("runs --json", ("runs", "--json"))):
            (root / INDEX_FILE).unlink(missing_ok=True)
            how = f"mnist-tui {' '.join(argv)} --runs-dir DIR"
            report(f"{label}: first read (no index)", timed(command(*argv, *where))[0], how)
            report(f"{label}: second read", timed(command(*argv, *where))[0], how)
        (root / INDEX_FILE).unlink(missing_ok=True)
        seconds, (runs, bad) = timed(lambda: RunStore(root).summaries())
        assert len(runs) == len(ids) and not bad, bad[:3]
        report("core summaries(): first read", seconds, "RunStore(DIR).summaries()")
        report(
            "core summaries(): again (a new store)",
            timed(lambda: RunStore(root).summaries())[0],
            "RunStore(DIR).summaries()",
        )
        store = RunStore(root)
        seconds, (full, _bad) = timed(store.list)
        assert len(full) == len(ids)
        report("core list(): first read (the app's)", seconds, "store.list()")
        report("core list(): again, same store", timed(store.list)[0], "store.list()")
        how = "benchmarks/runs_scale.py --app-probe DIR (Pilot, 120x40)"
        (root / INDEX_FILE).unlink(missing_ok=True)
        for label in ("first read (no index)", "second read"):
            seconds, marks, compared_seconds = app_runs_tab(root, len(ids))
            report(f"app Runs tab, 5 to filled: {label}", seconds, how)
        CPU[0] = 0.0
        report("app: 6 runs marked (space x6)", marks, how)
        report("app: c to the Compare of 6 on screen", compared_seconds, how)

        def compare() -> dict[str, Any]:
            picked = [store.load(run_id) for run_id in compared]
            evaluations = [store.evaluation(run, data.x_test, data.y_test) for run in picked]
            return comparison_dict(picked, evaluations)

        seconds, result = timed(compare)
        assert len(result["runs"]) == 6
        report(
            "Compare of 6 runs (core)",
            seconds,
            "store.load + store.evaluation of 6 ids, comparison_dict",
        )
        report(
            "mnist-tui compare of 6 runs",
            timed(command("compare", *compared, "--json", *where))[0],
            "mnist-tui compare ID1 … ID6 --json --runs-dir DIR",
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
