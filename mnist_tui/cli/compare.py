"""``mnist-tui compare A B [C…]``: runs side by side, headless."""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.markup import escape

from mnist_tui.cli.console import console, load_data, print_json
from mnist_tui.cli.exit_codes import ExitCode
from mnist_tui.cli.options import CliError
from mnist_tui.core.runs.comparison import CompareError, check_count, comparison_dict
from mnist_tui.core.runs.store import RunStore
from mnist_tui.tables import compare_tables, disagreement_lines, run_letter


def cmd_compare(args: argparse.Namespace) -> int:
    """Compare 2 to 6 runs: settings, results, recall per digit, disagreements."""
    try:
        check_count(len(args.runs))
    except CompareError as exc:
        raise CliError(str(exc)) from None
    store = RunStore(args.runs_dir)
    runs = [store.load(ref) for ref in args.runs]
    if len({run.path.resolve() for run in runs}) != len(runs):
        raise CliError("the same run is named twice")
    data = load_data(args, quiet=args.json)
    evaluations = [store.evaluation(run, data.x_test, data.y_test) for run in runs]
    if args.json:
        print_json(comparison_dict(runs, evaluations))
        return ExitCode.OK
    out: Console = console()
    for index, run in enumerate(runs):
        out.print(f"[bold]{run_letter(index)}[/] {escape(run.label)}  {escape(run.summary)}")
    for table in compare_tables(runs):
        out.print(table)
    for line in disagreement_lines(evaluations):
        out.print(line, markup=False)
    return ExitCode.OK
