"""The ``mnist-tui`` parser: every command and its options."""

from __future__ import annotations

import argparse
from pathlib import Path

from mnist_tui.cli.inspect import add_inspect_parser
from mnist_tui.cli.options import (
    RUN_HELP,
    Parser,
    add_annotation_options,
    add_config_options,
    add_data_option,
    add_runs_option,
    digit,
    port_number,
    positive,
)
from mnist_tui.cli.sweep_parser import add_sweep_parser
from mnist_tui.core.engine.exports import FORMATS as EXPORT_FORMATS
from mnist_tui.core.runs.query import SORT_KEYS


def build_parser() -> argparse.ArgumentParser:
    """The ``mnist-tui`` parser and its subcommands."""
    parser = Parser(
        prog="mnist-tui",
        description="Train and inspect neural networks on MNIST. With no command, opens "
        "the full-screen app (the options below prefill its form).",
    )
    from mnist_tui import __version__

    parser.add_argument("--version", action="version", version=f"mnist-tui {__version__}")
    add_data_option(parser)
    add_runs_option(parser)
    add_config_options(parser)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)

    train = commands.add_parser("train", help="train a model headless, evaluate and save it")
    add_config_options(train, sub=True)
    add_data_option(train, sub=True)
    add_runs_option(train, sub=True)
    output = train.add_mutually_exclusive_group()
    output.add_argument(
        "--json", action="store_true", help="print the saved run as JSON (progress goes to stderr)"
    )
    output.add_argument(
        "--jsonl",
        action="store_true",
        help="stream every engine event (started, progress, epoch, finished, "
        "saved) as one JSON object per line on stdout",
    )
    add_annotation_options(train)

    runs = commands.add_parser("runs", help="list saved runs")
    add_runs_option(runs, sub=True)
    runs.add_argument("--json", action="store_true", help="machine-readable output")
    runs.add_argument(
        "--sort",
        choices=sorted(SORT_KEYS),
        default="date",
        help="order: date and acc newest/best first, loss, duration and params "
        "lowest first (default date)",
    )
    runs.add_argument("--reverse", action="store_true", help="the other way round")
    runs.add_argument(
        "--filter",
        metavar="TEXT",
        default="",
        help="only runs whose id, name, note, tags, settings or sweep study hold every word",
    )
    runs.add_argument(
        "--study", metavar="NAME", help="only the trials of the sweep study of exactly this name"
    )

    annotate = commands.add_parser("annotate", help="name a run, note on it, tag it")
    annotate.add_argument("run", help=RUN_HELP)
    add_annotation_options(annotate, replacing=True)
    add_runs_option(annotate, sub=True)

    compare = commands.add_parser("compare", help="compare 2 to 6 runs side by side")
    compare.add_argument(
        "runs",
        nargs="+",
        metavar="RUN",
        help="run names or ids, unique prefixes of either, 'latest', or "
        "folders (the first is the baseline for disagreements)",
    )
    add_data_option(compare, sub=True)
    add_runs_option(compare, sub=True)
    compare.add_argument("--json", action="store_true", help="machine-readable output")

    export = commands.add_parser(
        "export",
        help="a run's model (SavedModel, ONNX, LiteRT) or its history (CSV, JSONL)",
        description="Export a run's model for another runtime, verified: the exported "
        "model, run by its own runtime, must agree with the Keras model on the "
        "10,000 test digits (argmax on 9,999 or more, probabilities within 1e-4). "
        "Or export its training history as CSV or JSON Lines.",
    )
    export.add_argument("run", help=RUN_HELP)
    export.add_argument(
        "--format",
        choices=("csv", "jsonl", *EXPORT_FORMATS),
        default="csv",
        help="savedmodel, onnx or tflite (LiteRT): the model, into a new "
        "folder with contract.json and README.md; csv (a header row, "
        "one row per epoch or step) or jsonl: the history (default csv)",
    )
    export.add_argument(
        "--per-step",
        action="store_true",
        help="history: one row per progress tick (step, samples seen, loss, "
        "accuracy, learning rate) instead of per epoch",
    )
    export.add_argument(
        "--out",
        type=Path,
        metavar="PATH",
        help="history: write to the file PATH (atomically, in a folder that "
        "exists; a link, FIFO or device such as /dev/stdout is written "
        "through) instead of stdout; "
        "model: the new folder to create (default ./RUN-ID-FORMAT; an "
        "existing one is never replaced)",
    )
    export.add_argument(
        "--json", action="store_true", help="model: print the export's contract and figures as JSON"
    )
    add_data_option(export, sub=True)
    add_runs_option(export, sub=True)

    evaluate = commands.add_parser("evaluate", help="evaluate a saved run on the test set")
    evaluate.add_argument("run", help=RUN_HELP)
    add_data_option(evaluate, sub=True)
    add_runs_option(evaluate, sub=True)
    evaluate.add_argument("--json", action="store_true", help="machine-readable output")

    show = commands.add_parser("show", help="print test digits as text art with predictions")
    show.add_argument("run", help=RUN_HELP)
    show.add_argument("--misclassified", action="store_true", help="only the mistakes")
    show.add_argument("--true", type=digit, metavar="D", help="only digits whose label is D")
    show.add_argument("--pred", type=digit, metavar="D", help="only digits predicted as D")
    show.add_argument(
        "--order",
        choices=("index", "confidence"),
        help="sort by index or by the model's confidence (default: confidence "
        "with --misclassified, else index)",
    )
    show.add_argument(
        "--limit", type=positive, default=12, metavar="N", help="how many digits (default 12)"
    )
    show.add_argument(
        "--ascii", action="store_true", help="ASCII ramp instead of Unicode half-blocks"
    )
    add_data_option(show, sub=True)
    add_runs_option(show, sub=True)

    predict = commands.add_parser(
        "predict",
        help="classify your own images with a saved run's model",
        description="Classify your own images of digits with a saved run's model. Each "
        "image (PNG, JPEG, BMP, GIF's first frame, PGM/PPM, TIFF, WebP, or a 2-D "
        ".npy array; any size, colour mode or bit depth) is made into a digit as "
        "the Draw tab's are: dark ink on light paper or light on dark (told by "
        "the border), cropped to the ink, fitted in 20x20 and centred by mass in "
        "28x28. An image that cannot be read (damaged, too large, not a regular "
        "file, blank) gets a line 'FILE: reason' on stderr and the others still "
        "run. Exit codes: 0 every image was classified; 4 any image could not be "
        "(or the run is missing or broken); 2 bad arguments.",
    )
    predict.add_argument("run", help=RUN_HELP)
    predict.add_argument(
        "images",
        nargs="+",
        metavar="IMAGE",
        help="an image file; a folder (its image files, sorted by name, not "
        "its subfolders); or - for one image on standard input",
    )
    predict.add_argument(
        "--json",
        action="store_true",
        help="a JSON list: per image its file, prediction, confidence and "
        "10 probabilities, or its file and an error",
    )
    predict.add_argument(
        "--no-art",
        action="store_true",
        help="leave out the 28x28 digit the model saw, drawn as text",
    )
    add_runs_option(predict, sub=True)

    data = commands.add_parser("data", help="load and verify MNIST; say where it came from")
    add_data_option(data, sub=True)
    data.add_argument("--json", action="store_true", help="machine-readable output")

    delete = commands.add_parser("delete", help="delete a saved run")
    delete.add_argument("run", help=RUN_HELP)
    delete.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    add_runs_option(delete, sub=True)

    serve = commands.add_parser(
        "serve",
        help="serve the app in a browser (each tab gets an app of its own)",
        description="Serve the full-screen app as a web page (textual-serve). The options "
        "below prefill its form, as for the app in a terminal.",
    )
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1; one that is not loopback needs --public)",
    )
    serve.add_argument(
        "--port", type=port_number, default=8000, help="port to listen on (default 8000)"
    )
    serve.add_argument(
        "--public",
        action="store_true",
        help="allow a --host that is not loopback: anyone who can reach the "
        "port can train models and delete runs",
    )
    serve.add_argument(
        "--max-sessions",
        type=positive,
        metavar="N",
        help="most tabs served at once, each an app of its own (about 220 MB "
        "idle, more while training; default one per GB of memory, at "
        "most 16); a tab beyond it is told why",
    )
    add_config_options(serve, sub=True)
    add_data_option(serve, sub=True)
    add_runs_option(serve, sub=True)

    add_inspect_parser(commands, _data_and_runs)
    add_sweep_parser(commands)
    return parser


def _data_and_runs(parser: argparse.ArgumentParser) -> None:
    add_data_option(parser, sub=True)
    add_runs_option(parser, sub=True)
