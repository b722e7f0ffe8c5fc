"""The headless commands: train, runs, annotate, evaluate, show, data, delete (compare,
export, predict, sweep and serve have modules of their own)."""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
from rich.cells import cell_len, set_cell_size
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from mnist_tui.cli.compare import cmd_compare
from mnist_tui.cli.console import console, load_data, print_json
from mnist_tui.cli.exit_codes import ExitCode
from mnist_tui.cli.export import cmd_export
from mnist_tui.cli.options import CliError, config_from_args
from mnist_tui.cli.outputs import StopSignals
from mnist_tui.cli.progress import JsonLinesView, LiveTrainingView, LogLinesView, TeeView
from mnist_tui.core.config import TrainConfig
from mnist_tui.core.data.mnist import ARRAY_NAMES, MnistData
from mnist_tui.core.digits.textart import render_ascii, render_halfblocks
from mnist_tui.core.engine.evaluation import (
    Evaluation,
    SampleOrder,
    confusions_text,
    select_samples,
)
from mnist_tui.core.events import NO_GAIN, epochs_text, plural
from mnist_tui.core.paths import default_cache_dir
from mnist_tui.core.runs.annotations import Annotation, AnnotationError
from mnist_tui.core.runs.index import config_dict
from mnist_tui.core.runs.query import filter_runs, sort_runs
from mnist_tui.core.runs.store import RunStore, RunSummary
from mnist_tui.tables import epoch_table, fmt


def cmd_train(args: argparse.Namespace) -> int:
    """Train, evaluate and save one run."""
    config = config_from_args(args)
    annotation = _annotation_from_args(args)
    # TensorFlow loads while the digits are read and verified (both take a while).
    loading = threading.Thread(
        target=importlib.import_module,
        args=("mnist_tui.core.session",),
        name="import-tensorflow",
        daemon=True,
    )
    loading.start()
    data = load_data(args)
    loading.join()
    from mnist_tui.core.session import NothingTrained, train_evaluate_save  # TensorFlow

    out, err = console(), console(stderr=True)
    err.print(
        f"[bold]Config[/] {escape(config.summary())} ({plural(config.epochs, 'epoch')}, "
        f"seed {config.seed})"
    )
    signals = StopSignals(threading.Event())
    machine = args.json or args.jsonl
    progress = (
        LiveTrainingView(err) if err.is_terminal and not machine else LogLinesView(sys.stderr)
    )
    view = TeeView(progress, JsonLinesView(sys.stdout)) if args.jsonl else progress
    try:
        with signals.installed(), view:
            session = train_evaluate_save(
                config, data, RunStore(args.runs_dir), view, signals.stop, annotation
            )
    except NothingTrained as exc:
        err.print(escape(str(exc)))
        return signals.exit_code or 130  # interrupted, as a Ctrl-C before any work is
    run = session.run
    if session.warning:
        err.print(
            f"[yellow]warning[/] {escape(run.run_id)} was {escape(session.warning)}", soft_wrap=True
        )
    if args.json:
        print_json(run.data)
    if machine:
        return signals.exit_code
    status = {
        "completed": "[green]completed[/]",
        "stopped": "[yellow]stopped by you[/]",
        "early_stopped": f"[cyan]stopped early ({NO_GAIN})[/]",
    }[run.status]
    if run.status == "stopped" and signals.received not in (None, signal.SIGINT):
        status = f"[yellow]stopped by {signal.Signals(signals.received).name}[/]"
    out.print(f"Training {status}: {epochs_text(run.epochs_done)} in {run.train_seconds:.1f}s")
    out.print(f"Test accuracy [bold]{run.test_accuracy:.2%}[/]  loss {run.test_loss:.4f}")
    _explain_loss(out, config)
    out.print(f"Saved run [bold]{escape(run.label)}[/] to {escape(str(run.path))}")
    return signals.exit_code


def _explain_loss(out: Console, config: TrainConfig) -> None:
    """A smoothed training loss of 0.6 beside 99% would look like a fault: say why."""
    note = config.loss_note
    if note:
        out.print(
            f"[dim]{note[0].upper()}{note[1:]}; the test loss is plain cross-entropy.[/]",
            soft_wrap=True,
        )


def _annotation_from_args(args: argparse.Namespace) -> Annotation | None:
    try:
        annotation = Annotation.of(args.name or "", args.note or "", args.tag or [])
    except AnnotationError as exc:
        raise CliError(str(exc)) from None
    return None if annotation.empty else annotation


def cmd_runs(args: argparse.Namespace) -> int:
    """List saved runs, sorted and filtered."""
    store = RunStore(args.runs_dir)
    every, bad = store.summaries()
    runs = sort_runs(filter_runs(every, args.filter, args.study), args.sort, args.reverse)
    if args.json:
        print_json(
            {
                "runs_dir": str(store.root),
                "runs": [_run_row(run) for run in runs],
                "problems": [{"path": str(b.path), "reason": b.reason} for b in bad],
                "notes": [
                    {"path": str(run.path), "reason": run.annotation_problem}
                    for run in every
                    if run.annotation_problem
                ],
            },
            depth=2,
        )
        return ExitCode.OK
    out, err = console(), console(stderr=True)
    if not every:
        out.print(f"No saved runs in {escape(str(store.root))}. Train one with: mnist-tui train")
    elif not runs:
        asked = ([f"study {args.study!r}"] if args.study else []) + (
            [repr(args.filter)] if args.filter else []
        )
        out.print(
            f"None of the {plural(len(every), 'run')} in {escape(str(store.root))} "
            f"matches {escape(' and '.join(asked))}."
        )
    else:
        shown = "" if len(runs) == len(every) else f" ({len(runs)} of {len(every)} match)"
        title = f"Runs in {store.root}{shown}"
        rows: list[tuple[str, ...]] = [
            (
                run.run_id,
                run.name,
                run.summary,
                run.progress_text,
                run.status,
                f"{run.test_accuracy:.2%}",
                run.created[:16].replace("T", " "),
            )
            for run in runs
        ]
        if len(rows) > RICH_TABLE_ROWS:
            _print_columns(out, title, rows)
        else:
            table = Table(title=escape(title), title_justify="left", header_style="bold")
            table.add_column("id", no_wrap=True)
            table.add_column("name")
            table.add_column("settings")
            for header in RUNS_HEADERS[3:]:
                table.add_column(header, justify="right" if header != "status" else "left")
            for row in rows:
                table.add_row(*(escape(cell) for cell in row))
            out.print(table)
    for item in bad:
        err.print(f"[yellow]skipped[/] {escape(item.reason)}")
    for run in every:
        if run.annotation_problem:
            err.print(f"[yellow]note[/] {escape(run.annotation_note)}", soft_wrap=True)
    return ExitCode.OK


RUNS_HEADERS = ("id", "name", "settings", "epochs", "status", "test acc", "date")
RICH_TABLE_ROWS = 200
"""Up to this many runs, ``runs`` draws a Rich table; more are printed as aligned columns
(a Rich table lays out 3,000 rows in several seconds, aligned columns in milliseconds)."""


def _print_columns(out: Console, title: str, rows: list[tuple[str, ...]]) -> None:
    """``rows`` under :data:`RUNS_HEADERS` as aligned plain columns: the figures right
    aligned, and the name and settings cut short (``…``) when the lines would not fit."""
    widths = [
        max([cell_len(header)] + [cell_len(row[i]) for row in rows])
        for i, header in enumerate(RUNS_HEADERS)
    ]
    excess = sum(widths) + 2 * (len(widths) - 1) - out.width
    for column, least in ((2, 16), (1, 8)):  # settings, then name
        if excess > 0:
            cut = min(excess, max(0, widths[column] - least))
            widths[column] -= cut
            excess -= cut
    right = {3, 5, 6}

    def line(cells: tuple[str, ...]) -> str:
        parts = []
        for index, (cell, width) in enumerate(zip(cells, widths, strict=True)):
            if cell_len(cell) > width:
                cell = set_cell_size(cell, width - 1) + "…"
            pad = " " * (width - cell_len(cell))
            parts.append(pad + cell if index in right else cell + pad)
        return "  ".join(parts).rstrip()

    out.print(title, markup=False, soft_wrap=True)
    out.print(line(RUNS_HEADERS), style="bold", markup=False, soft_wrap=True)
    out.print("\n".join(line(row) for row in rows), markup=False, soft_wrap=True)


def cmd_annotate(args: argparse.Namespace) -> int:
    """Set a run's name, note or tags; nothing else of the run changes."""
    store = RunStore(args.runs_dir)
    run = store.load(args.run)
    if args.name is None and args.note is None and args.tag is None:
        raise CliError("give --name, --note or --tag (an empty value clears it)")
    run = store.annotate(
        run, name=args.name, note=args.note, tags=None if args.tag is None else args.tag
    )
    note = run.annotation
    console().print(
        f"{run.run_id}: name {note.name or '-'!r}, tags "
        f"{', '.join(note.tags) or '-'}, note {note.note or '-'!r}",
        markup=False,
    )
    return ExitCode.OK


def _run_row(run: RunSummary) -> dict[str, Any]:
    return {
        "run_id": run.run_id,
        "path": str(run.path),
        "status": run.status,
        **run.annotation.to_dict(),
        "train_seconds": run.train_seconds,
        "param_count": run.param_count,
        "created": run.created,
        "architecture": run.config.architecture,
        "epochs": run.epochs_done,
        "test_accuracy": run.test_accuracy,
        "test_loss": run.test_loss,
        "config": config_dict(run.config),
        "sweep": run.sweep.to_dict() if run.sweep is not None else None,
    }


def cmd_evaluate(args: argparse.Namespace) -> int:
    """Re-evaluate a saved model on the test set."""
    store = RunStore(args.runs_dir)
    run = store.load(args.run)
    data = load_data(args, quiet=args.json)
    evaluation = store.evaluation(run, data.x_test, data.y_test, fresh=True)
    if args.json:
        print_json({"run_id": run.run_id, **evaluation.metrics_dict()})
        return ExitCode.OK
    out = console()
    out.print(
        f"[bold]{escape(run.label)}[/]  {escape(run.summary)}  ({run.status}, "
        f"{epochs_text(run.epochs_done)})"
    )
    out.print(
        f"Test accuracy [bold]{evaluation.accuracy:.2%}[/]  loss {evaluation.loss:.4f}  "
        f"errors {evaluation.errors:,} of {len(evaluation.labels):,}"
    )
    out.print(f"Most confused (true→predicted): {confusions_text(evaluation.confusion)}")
    if run.history:
        out.print(epoch_table(run.history, title="History"))
        _explain_loss(out, run.config)
    out.print(confusion_table(evaluation.confusion))
    out.print(per_class_table(evaluation))
    return ExitCode.OK


def confusion_table(confusion: np.ndarray) -> Table:
    """Counts with rows true and columns predicted; mistakes shaded by size."""
    table = Table(
        title="Confusion matrix (rows: true, columns: predicted)",
        title_justify="left",
        header_style="bold",
    )
    table.add_column("true", justify="right", style="bold")
    for digit in range(confusion.shape[1]):
        table.add_column(str(digit), justify="right")
    worst = max(1, int((confusion - np.diag(np.diag(confusion))).max()))
    for digit, row in enumerate(confusion):
        cells = []
        for col, count in enumerate(row):
            if col == digit:
                cells.append(f"[green]{count}[/]")
            elif count:
                level = "bold red" if count > worst / 2 else "red" if count > worst / 5 else "dim"
                cells.append(f"[{level}]{count}[/]")
            else:
                cells.append("[dim].[/]")
        table.add_row(str(digit), *cells)
    return table


def per_class_table(evaluation: Evaluation) -> Table:
    """Precision, recall, F1 and support per digit."""
    table = Table(title="Per class", title_justify="left", header_style="bold")
    for header in ("digit", "precision", "recall", "f1", "support"):
        table.add_column(header, justify="right")
    for row in evaluation.per_class:
        table.add_row(
            str(row.digit), fmt(row.precision), fmt(row.recall), fmt(row.f1), str(row.support)
        )
    return table


def cmd_show(args: argparse.Namespace) -> int:
    """Print test digits as text art with label, prediction and confidence."""
    store = RunStore(args.runs_dir)
    run = store.load(args.run)
    data = load_data(args)
    evaluation = store.evaluation(run, data.x_test, data.y_test)
    order: SampleOrder = args.order or ("confidence" if args.misclassified else "index")
    indices = select_samples(
        evaluation,
        mistakes_only=args.misclassified,
        true_class=args.true,
        pred_class=args.pred,
        order=order,
    )
    out = console()
    what = "misclassified digits" if args.misclassified else "test digits"
    out.print(
        f"[bold]{escape(run.label)}[/]: {len(indices):,} {what} match; showing "
        f"{min(args.limit, len(indices))} (order: {order})"
    )
    use_ascii = args.ascii or not (out.encoding or "").lower().startswith("utf")
    blocks = [_digit_block(int(i), data, evaluation, use_ascii) for i in indices[: args.limit]]
    _print_side_by_side(out, blocks)
    return ExitCode.OK


def _digit_block(index: int, data: MnistData, evaluation: Evaluation, use_ascii: bool) -> list[str]:
    image = data.x_test[index]
    art = render_ascii(image) if use_ascii else render_halfblocks(image)
    true, pred = int(evaluation.labels[index]), int(evaluation.predictions[index])
    mark = "ok" if true == pred else "WRONG"
    header = [
        f"#{index} true {true} pred {pred}",
        f"conf {evaluation.confidence[index]:.1%} {mark}",
    ]
    width = max(len(line) for line in art)
    return [line.ljust(width) for line in header + art]


def _print_side_by_side(out: Console, blocks: list[list[str]]) -> None:
    if not blocks:
        return
    width = max(len(line) for block in blocks for line in block) + 3
    per_row = max(1, out.width // width)
    for start in range(0, len(blocks), per_row):
        row = blocks[start : start + per_row]
        height = max(len(block) for block in row)
        for line in range(height):
            out.print(
                "".join(
                    (block[line] if line < len(block) else "").ljust(width) for block in row
                ).rstrip(),
                markup=False,
                highlight=False,
            )
        out.print()


def cmd_data(args: argparse.Namespace) -> int:
    """Load and verify MNIST, and say where it came from."""
    data = load_data(args, quiet=args.json)
    report = {
        "source": data.source,
        "location": data.location,
        "verified": data.verified,
        "cache": str(default_cache_dir() / "mnist.npz"),
        "arrays": {
            name: {
                "shape": list(getattr(data, name).shape),
                "dtype": str(getattr(data, name).dtype),
                "sha256": data.digests.get(name, ""),
            }
            for name in ARRAY_NAMES
        },
    }
    if args.json:
        print_json(report)
        return ExitCode.OK
    out = console()
    out.print(f"MNIST from [bold]{escape(data.source)}[/]: {escape(data.location)}")
    out.print(
        "[green]verified[/]: every array matches its SHA-256 digest"
        if data.verified
        else "[red]not verified[/]"
    )
    out.print(f"cache: {escape(str(report['cache']))}")
    for name in ARRAY_NAMES:
        array = getattr(data, name)
        out.print(
            f"  {name:8} {array.dtype} {'x'.join(map(str, array.shape)):>10}  "
            f"sha256 {data.digests.get(name, '')[:16]}..."
        )
    return ExitCode.OK


def cmd_delete(args: argparse.Namespace) -> int:
    """Delete a saved run, after confirmation."""
    store = RunStore(args.runs_dir)
    run = store.load(args.run)
    if not args.yes:
        if not sys.stdin.isatty():
            raise CliError(f"refusing to delete {run.run_id} without --yes (no terminal to ask)")
        # The question goes through the console: ``input``'s own prompt is written to
        # stderr, which carries TensorFlow's native log to a file while the CLI runs.
        console().print(
            f"Delete run {run.label} ({run.summary}, test accuracy "
            f"{run.test_accuracy:.2%})? [y/N] ",
            end="",
            markup=False,
        )
        try:
            answer = input()
        except EOFError:  # ctrl+d: no answer is no
            answer = ""
            console().print()
        if answer.strip().lower() not in ("y", "yes"):
            console().print("Kept.")
            return ExitCode.DECLINED
    store.delete(run)
    console().print(f"Deleted {run.label}", markup=False)
    return ExitCode.OK


def cmd_sweep(args: argparse.Namespace) -> int:
    """``sweep run|list|show`` (in :mod:`mnist_tui.cli.sweep`)."""
    from mnist_tui.cli.sweep import cmd_sweep as sweep

    return sweep(args)


def cmd_serve(args: argparse.Namespace) -> int:
    """``serve`` (in :mod:`mnist_tui.cli.serve`)."""
    from mnist_tui.cli.serve import cmd_serve as serve

    return serve(args)


def cmd_inspect(args: argparse.Namespace) -> int:
    """``inspect`` (in :mod:`mnist_tui.cli.inspect`)."""
    from mnist_tui.cli.inspect import cmd_inspect as inspect

    return inspect(args)


def cmd_predict(args: argparse.Namespace) -> int:
    """``predict`` (in :mod:`mnist_tui.cli.predict`)."""
    from mnist_tui.cli.predict import cmd_predict as predict

    return predict(args)


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "train": cmd_train,
    "runs": cmd_runs,
    "annotate": cmd_annotate,
    "compare": cmd_compare,
    "export": cmd_export,
    "evaluate": cmd_evaluate,
    "show": cmd_show,
    "data": cmd_data,
    "delete": cmd_delete,
    "sweep": cmd_sweep,
    "serve": cmd_serve,
    "predict": cmd_predict,
    "inspect": cmd_inspect,
}
