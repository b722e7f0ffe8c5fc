"""The ``mnist-tui sweep`` parser: ``run``, ``list`` and ``show``."""

from __future__ import annotations

import argparse
from typing import Any

from mnist_tui.cli.options import add_data_option, add_runs_option, positive
from mnist_tui.core.config import FIELDS, PRESETS
from mnist_tui.core.paths import STORAGE_ENV
from mnist_tui.core.sweeps.space import DEFAULT_SPACES, DEFAULT_VALIDATION_SPLIT
from mnist_tui.core.sweeps.storage import (
    DEFAULT_HEARTBEAT,
    LATEST,
    MAX_HEARTBEAT,
    PRUNERS,
    STORAGE_FILE,
)

MAX_SEED = 2**31 - 1
"""The largest ``--sampler-seed`` (each worker adds its index; numpy takes below 2**32)."""


def _storage_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--storage",
        metavar="URL",
        help=f"Optuna storage URL, e.g. postgresql://user:pass@host/db (default: "
        f"${STORAGE_ENV}, else the sqlite file {STORAGE_FILE} in the runs "
        "folder); a password here shows in ps: prefer the environment "
        "variable, PGPASSWORD or ~/.pgpass",
    )


def _bounded(low: int, high: int) -> Any:
    """An argparse type: a whole number from ``low`` to ``high``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be a whole number from {low} to {high}")
        return value

    return parse


AUTO = "auto"
"""``--workers auto``: one worker per GPU, else one per core (``auto_workers``)."""


def _workers(text: str) -> int | str:
    """Local workers: ``auto``, or at least one, at most what the cores and memory hold."""
    from mnist_tui.core.sweeps.worker import worker_limit

    if text.strip().lower() == AUTO:
        return AUTO
    value = int(positive(text))
    limit = worker_limit()
    if value > limit.workers:
        raise argparse.ArgumentTypeError(f"at most {limit.workers} here ({limit.reason})")
    return value


def _threads(text: str) -> int:
    """TensorFlow threads per worker: at least one, at most the cores."""
    from mnist_tui.core.sweeps.worker import available_cores

    value = int(positive(text))
    cores = available_cores()
    if value > cores:
        raise argparse.ArgumentTypeError(f"at most {cores} here ({cores} cores)")
    return value


def _heartbeat(text: str) -> int:
    value = int(positive(text))
    if value > MAX_HEARTBEAT:
        raise argparse.ArgumentTypeError(f"at most {MAX_HEARTBEAT} seconds")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < value < 10**8:
        raise argparse.ArgumentTypeError("must be a number of seconds above 0")
    return value


def _default_for(name: str) -> str:
    parts = [f"{arch}: {space[name]}" for arch, space in DEFAULT_SPACES.items() if name in space]
    if name == "validation_split":
        parts.append(f"{DEFAULT_VALIDATION_SPLIT} unless the base has one")
    return f"; searched by default ({'; '.join(parts)})" if parts else ""


def add_sweep_parser(commands: Any) -> None:
    """``mnist-tui sweep run|list|show`` on the top-level subparsers ``commands``."""
    sweep = commands.add_parser(
        "sweep",
        help="hyperparameter sweeps on Optuna: run, list and show studies",
        description="Search hyperparameters with Optuna: every trial is a saved run, chosen "
        "on validation accuracy, pruned when unpromising.",
    )
    actions = sweep.add_subparsers(dest="sweep_command", metavar="ACTION", parser_class=type(sweep))
    actions.required = True

    run = actions.add_parser(
        "run",
        help="run trials of a study (a new one, or --study NAME to resume or join one)",
        description="Each setting below takes a fixed value (0.3), a range (0.1..0.5, or "
        "1e-4..1e-2:log on a log scale) or choices (64|128|256); settings not "
        "given are fixed at the base config's value (--preset, --config, or the "
        "seed MLP), except the architecture's default search space.",
    )
    run.add_argument(
        "--study",
        metavar="NAME",
        help="the study to create, resume or join (default: a new one named "
        "after the architecture and the time)",
    )
    _storage_option(run)
    run.add_argument(
        "--trials",
        type=positive,
        metavar="N",
        help="trials this command runs, shared by its workers (default 20, or "
        "no limit with --timeout)",
    )
    run.add_argument(
        "--timeout",
        type=_seconds,
        metavar="SECONDS",
        help="start no trial after this long (a running one finishes)",
    )
    run.add_argument(
        "--workers",
        type=_workers,
        default=1,
        metavar="K",
        help="local worker processes on the study (default 1; at most one per "
        "core, as many as the free memory holds); auto: one per GPU, each seeing only "
        "its own (CUDA_VISIBLE_DEVICES), else one per core",
    )
    run.add_argument(
        "--threads",
        type=_threads,
        metavar="T",
        help="TensorFlow threads per worker (default: the cores shared by the "
        "workers; all of them for one worker)",
    )
    run.add_argument(
        "--pruner",
        choices=PRUNERS,
        help="stop unpromising trials after an epoch (default median; a new study only)",
    )
    run.add_argument(
        "--heartbeat",
        type=_heartbeat,
        default=DEFAULT_HEARTBEAT,
        metavar="SECONDS",
        help=f"a worker's heartbeat for its trial; a trial silent for 3 "
        f"heartbeats is marked failed (default {DEFAULT_HEARTBEAT}, at "
        f"most {MAX_HEARTBEAT})",
    )
    run.add_argument(
        "--sampler-seed",
        type=_bounded(0, MAX_SEED),
        metavar="N",
        help="seed Optuna's sampler (each worker adds its index)",
    )
    run.add_argument("--worker-index", type=_bounded(0, 10**6), default=0, help=argparse.SUPPRESS)
    run.add_argument("--parent-pid", type=_bounded(1, 2**31 - 1), help=argparse.SUPPRESS)
    space = run.add_argument_group("search space (a value, LOW..HIGH[:log] or A|B|C)")
    space.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default=argparse.SUPPRESS,
        help="fix the settings not searched at a preset's",
    )
    space.add_argument(
        "--config",
        metavar="FILE",
        default=argparse.SUPPRESS,
        help="fix the settings not searched at a JSON config's (or a run's)",
    )
    for name, spec in FIELDS.items():
        space.add_argument(
            f"--{name.replace('_', '-')}",
            dest=f"cfg_{name}",
            metavar="SPEC",
            default=argparse.SUPPRESS,
            help=f"{spec.hint}{_default_for(name)}",
        )
    add_data_option(run, sub=True)
    add_runs_option(run, sub=True)

    listing = actions.add_parser("list", help="the studies in a storage and their trials")
    _storage_option(listing)
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    add_runs_option(listing, sub=True)

    show = actions.add_parser("show", help="a study's trials (the best one starred)")
    show.add_argument(
        "study",
        metavar="STUDY",
        nargs="?",
        default=LATEST,
        help=f"the study's name, or {LATEST!r} (the default): the one whose "
        "newest trial started last",
    )
    _storage_option(show)
    show.add_argument("--json", action="store_true", help="machine-readable output")
    add_runs_option(show, sub=True)
