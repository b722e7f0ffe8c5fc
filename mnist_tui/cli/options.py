"""Options and argument types shared by every command's parser, and the parser class
whose errors are one clear line."""

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
from mnist_tui.core.errors import MnistTuiError


class CliError(MnistTuiError):
    """A bad argument: one clear line for the user, exit code 2."""


RUN_HELP = "run name or id, a unique prefix of either, 'latest', or folder"
"""How every command that takes one run describes its argument."""


class Parser(argparse.ArgumentParser):
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

    def _subcommand(self, parsed: argparse.Namespace) -> Parser | None:
        """The subcommand's parser ``parsed`` went on to, if this parser has commands."""
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction):
                chosen = action.choices.get(getattr(parsed, action.dest, None) or "")
                return chosen if isinstance(chosen, Parser) else None
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
