"""The argument parser: every config field becomes an option, parsed by the core."""

from __future__ import annotations

import argparse
import difflib
from pathlib import Path
from typing import Any

from mnist_tui.core.config import (
    FIELDS,
    PRESET_HINTS,
    PRESETS,
    ConfigError,
    TrainConfig,
    format_field,
    read_config_file,
)
from mnist_tui.core.exports import FORMATS as EXPORT_FORMATS
from mnist_tui.core.run_query import SORT_KEYS


class CliError(Exception):
    """A bad argument: one clear line for the user, exit code 2."""


RUN_HELP = "run name or id, a unique prefix of either, 'latest', or folder"
"""How every command that takes one run describes its argument."""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one clear line, not a usage dump; an unknown
    option names the option it was probably meant to be (``--tags``: ``--tag``)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise CliError(f"{self.prog}: {message} (see {self.prog} --help)")

    def parse_known_args(  # type: ignore[override]
        self,
        args: Any = None,
        namespace: Any = None,
    ) -> tuple[argparse.Namespace, list[str]]:
        parsed, extras = super().parse_known_args(args, namespace)
        unknown = [item for item in extras if item.startswith("--")]
        if unknown and self._subcommand(parsed) is None:  # the parser that knows its options
            guesses = difflib.get_close_matches(
                unknown[0].split("=")[0], self._options(), n=1, cutoff=0.7
            )
            if guesses:
                self.error(
                    f"unrecognized arguments: {' '.join(extras)} (did you mean {guesses[0]}?)"
                )
        return parsed, extras

    def _subcommand(self, parsed: argparse.Namespace) -> _Parser | None:
        """The subcommand's parser ``parsed`` went on to, if this parser has commands."""
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction):
                chosen = action.choices.get(getattr(parsed, action.dest, None) or "")
                return chosen if isinstance(chosen, _Parser) else None
        return None

    def _options(self) -> list[str]:
        return [
            option
            for action in self._actions
            for option in action.option_strings
            if option.startswith("--")
        ]


def _default(sub: bool) -> Any:
    """A subcommand's copy of a top-level option leaves the top-level value alone when it
    is not given: ``mnist-tui --runs-dir X runs`` lists X, not ./saved_models."""
    return argparse.SUPPRESS if sub else None


def add_config_options(parser: argparse.ArgumentParser, *, sub: bool = False) -> None:
    """One ``--field-name`` option per config field, plus ``--preset`` and ``--config``."""
    group = parser.add_argument_group("hyperparameters (defaults: the seed MLP)")
    presets = "; ".join(f"{name!r} ({PRESET_HINTS[name]})" for name in PRESETS)
    group.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default=_default(sub),
        help=f"start from a named preset: {presets} (test accuracy in "
        "training seconds on a 2-core CPU)".replace("%", "%%"),
    )
    group.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        default=_default(sub),
        help="start from a JSON config (e.g. a run's settings)",
    )
    defaults = TrainConfig()
    for name, spec in FIELDS.items():
        choices = f" ({'|'.join(spec.choices)})" if spec.choices else ""
        group.add_argument(
            f"--{name.replace('_', '-')}",
            dest=f"cfg_{name}",
            metavar="VALUE",
            default=_default(sub),
            help=f"{spec.hint}{choices}; default {format_field(name, getattr(defaults, name))}",
        )


def add_data_option(parser: argparse.ArgumentParser, *, sub: bool = False) -> None:
    """``--data PATH``."""
    parser.add_argument(
        "--data",
        metavar="PATH",
        default=_default(sub),
        help="MNIST .npz or IDX folder (default: $MNIST_TUI_DATA, then cache, Keras, download)",
    )


def add_runs_option(parser: argparse.ArgumentParser, *, sub: bool = False) -> None:
    """``--runs-dir DIR``."""
    parser.add_argument(
        "--runs-dir",
        type=Path,
        metavar="DIR",
        default=_default(sub),
        help="where runs are kept (default: $MNIST_TUI_RUNS_DIR or ./saved_models)",
    )


def add_annotation_options(parser: argparse.ArgumentParser, *, replacing: bool = False) -> None:
    """``--name``, ``--note`` and ``--tag`` (repeatable, or comma-separated)."""
    verb = 'set ("" clears)' if replacing else "give"
    parser.add_argument("--name", metavar="TEXT", help=f"{verb} the run's name")
    parser.add_argument("--note", metavar="TEXT", help=f"{verb} a note on the run")
    parser.add_argument(
        "--tag",
        action="append",
        metavar="TAG",
        help="a tag (repeat, or a,b,c)" + ("; replaces the run's tags" if replacing else ""),
    )


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """Merge preset, config file and per-field options into a validated config."""
    given = {
        name: raw for name in FIELDS if (raw := getattr(args, f"cfg_{name}", None)) is not None
    }
    try:
        values: dict[str, Any] = {}
        if getattr(args, "preset", None):
            values.update(PRESETS[args.preset].to_dict())
        if getattr(args, "config", None):
            values.update(read_config_file(Path(args.config)))
        return TrainConfig.from_dict({**values, **given})
    except ConfigError as exc:
        reasons = "; ".join(f"--{k.replace('_', '-')}: {v}" for k, v in exc.errors.items())
        raise CliError(f"invalid settings: {reasons}") from exc


def digit(text: str) -> int:
    """argparse type for a class label 0-9."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a digit 0-9") from None
    if not 0 <= value <= 9:
        raise argparse.ArgumentTypeError(f"{value} is not a digit 0-9")
    return value


def positive(text: str) -> int:
    """argparse type for a count >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def port_number(text: str) -> int:
    """argparse type for a TCP port 1-65535."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port number 1-65535")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The ``mnist-tui`` parser and its subcommands."""
    parser = _Parser(
        prog="mnist-tui",
        description="Train and inspect neural networks on MNIST. With no command, opens "
        "the full-screen app (the options below prefill its form).",
    )
    from mnist_tui import __version__

    parser.add_argument("--version", action="version", version=f"mnist-tui {__version__}")
    add_data_option(parser)
    add_runs_option(parser)
    add_config_options(parser)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

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

    from mnist_tui.cli.sweep_parser import add_sweep_parser

    add_sweep_parser(commands)
    return parser
