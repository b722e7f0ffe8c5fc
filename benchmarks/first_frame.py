"""Time from starting ``mnist-tui`` to its first frame, for this tree and another.

Each start is a fresh ``python -I`` in a pseudo-terminal of 120x40, as a user's
``mnist-tui`` is; the clock stops when the tab bar of the first frame is written. With
``--against DIR`` (a checkout of another commit, e.g. made by ``git worktree add``), the
two trees start alternately, so that the machine's drifts fall on both, and the medians
print side by side. Run: ``python benchmarks/first_frame.py [--repeats N] [--against DIR]``.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import pty
import select
import statistics
import struct
import sys
import tempfile
import termios
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
START = (
    "import sys, runpy; sys.path.insert(0, sys.argv.pop(1)); "
    "runpy.run_module('mnist_tui', run_name='__main__')"
)
"""The app of the tree named on the command line (``-I`` keeps the working directory and
the environment out of ``sys.path``, so the tree must be put there)."""


def first_frame_seconds(tree: Path, runs: Path) -> float:
    """Seconds from starting the app of ``tree`` to its tab bar on screen."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: the app, as a user starts it, with its own runs folder
        os.chdir(runs)
        os.execv(sys.executable, [sys.executable, "-I", "-c", START, str(tree)])
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    began = time.perf_counter()
    seen = b""
    try:
        while time.perf_counter() - began < 30:
            ready, _, _ = select.select([fd], [], [], 0.02)
            if ready:
                seen += os.read(fd, 65536)
                if b"Setup" in seen:  # the tab bar of the first frame is on screen
                    return time.perf_counter() - began
        raise RuntimeError(f"no first frame within 30 s from {tree}")
    finally:
        os.kill(pid, 9)
        os.waitpid(pid, 0)


def main() -> None:
    """Print the median first frame of each tree, with its spread."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=9, help="starts of each tree")
    parser.add_argument("--against", type=Path, help="another checkout to compare with")
    args = parser.parse_args()
    trees = {"this tree": HERE}
    if args.against is not None:
        trees[f"{args.against}"] = args.against.resolve()
    times: dict[str, list[float]] = {name: [] for name in trees}
    with tempfile.TemporaryDirectory() as runs:
        for repeat in range(args.repeats):
            order = list(trees.items())
            for name, tree in order if repeat % 2 == 0 else reversed(order):
                times[name].append(first_frame_seconds(tree, Path(runs)))
    for name, seconds in times.items():
        print(
            f"{name}: first frame {statistics.median(seconds):.2f} s (median of "
            f"{len(seconds)}, {min(seconds):.2f} to {max(seconds):.2f})"
        )


if __name__ == "__main__":
    main()
