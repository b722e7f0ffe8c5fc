"""The one typed hyperparameter model, its field specs and validation.

Both front ends parse user text with :func:`parse_field` and build a
:class:`TrainConfig` with :meth:`TrainConfig.from_dict`, so a bad value gets the
same message in the CLI and next to the field in the TUI.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from mnist_tui.core.errors import MnistTuiError
from mnist_tui.core.files.bounded_io import read_text_bounded

MAX_CONFIG_BYTES = 1 << 20
"""A config file larger than this is refused unread (a real one is under 1 KB)."""
ARCHITECTURES: tuple[str, ...] = ("mlp", "cnn")
ACTIVATIONS: tuple[str, ...] = ("relu", "gelu", "elu", "selu", "swish", "tanh", "sigmoid")
OPTIMIZERS: tuple[str, ...] = ("adam", "adamw", "nadam", "rmsprop", "sgd")
LR_SCHEDULES: tuple[str, ...] = ("cosine", "one_cycle", "constant")
SWITCHES: tuple[str, ...] = ("off", "on")
AUGMENT_SHIFT = 2
"""Largest shift, in pixels, of an augmented training digit (each way, each axis)."""
AUGMENT_DEGREES = 10
"""Largest rotation, in degrees, of an augmented training digit (each way)."""


class ConfigError(MnistTuiError, ValueError):
    """One or more config fields are invalid; ``errors`` maps field name to reason."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__("; ".join(f"{name}: {why}" for name, why in self.errors.items()))


def _problems(values: Mapping[str, Any]) -> dict[str, str]:
    """What is wrong with parsed field values: each field's range, then the rules that
    join two fields (only where both are among ``values``)."""
    errors = {
        name: reason
        for name, value in values.items()
        if (reason := FIELDS[name].check(value)) is not None
    }
    if (
        "validation_split" in values
        and values.get("early_stopping_patience")
        and not values["validation_split"]
    ):
        errors["early_stopping_patience"] = "needs a validation split above 0"
    if not errors and values.keys() >= MEMORY_FIELDS:
        from mnist_tui.core.memory import memory_problem

        layers = "conv_filters" if values["architecture"] == "cnn" else "hidden_units"
        problem = memory_problem(_Shape(**{name: values[name] for name in MEMORY_FIELDS}))
        if problem is not None:
            errors[layers] = problem
    return errors


MEMORY_FIELDS = frozenset(
    {"architecture", "hidden_units", "conv_filters", "batch_size", "optimizer", "momentum"}
)
"""The fields that decide how much memory a run needs."""


@dataclass(frozen=True)
class _Shape:
    """The fields of :data:`MEMORY_FIELDS`, for the memory rule before a config exists."""

    architecture: str
    hidden_units: tuple[int, ...]
    conv_filters: tuple[int, ...]
    batch_size: int
    optimizer: str
    momentum: float


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines one training run.

    The defaults are the seed's MLP (Flatten, Dense 128 ReLU, Dropout 0.2, Dense 10
    softmax, Adam), trained with a batch size, cosine-decayed learning rate and number
    of epochs (6 at batch 512, where the seed had 5 at batch 32) picked by measurement
    (``benchmarks/train_speed.py``): about a tenth of the seed's training time at its
    test accuracy.
    """

    architecture: str = "mlp"
    """``mlp``: Flatten, Dense hidden layers, Dropout, Dense(10) softmax; ``cnn``: a convnet."""
    hidden_units: tuple[int, ...] = (128,)
    """Units of each Dense hidden layer (for ``cnn``, the dense head after the convolutions)."""
    conv_filters: tuple[int, ...] = (32, 64)
    """Filters of each convolution + 2x2 max-pool block (``cnn`` only)."""
    conv_kernel: int = 3
    """Side of the first convolution's kernel (``cnn`` only); the later ones are 3x3."""
    batch_norm: str = "off"
    """``on``: batch normalisation of each convolution's pooled maps, before their
    activation (``cnn`` only)."""
    dropout: float = 0.2
    """Dropout rate after the hidden layers, in [0, 1)."""
    activation: str = "relu"
    """Activation of the hidden and convolution layers."""
    optimizer: str = "adam"
    """Optimizer name."""
    learning_rate: float = 0.01
    """Optimizer step size (the peak of the schedule)."""
    lr_schedule: str = "cosine"
    """``cosine`` decays the rate to zero over the run; ``one_cycle`` warms up from a
    tenth of it over the first quarter, then decays it to zero; ``constant`` keeps it."""
    momentum: float = 0.9
    """Momentum for ``sgd`` and ``rmsprop`` (ignored by the Adam family)."""
    batch_size: int = 512
    """Samples per gradient step."""
    epochs: int = 6
    """Passes over the training set."""
    validation_split: float = 0.0
    """Fraction of the 60,000 training digits held out for validation, in [0, 0.5]."""
    seed: int = 42
    """Seed for weights, dropout, shuffling and the validation split."""
    early_stopping_patience: int = 0
    """Stop after this many epochs without a better validation loss (0 = off)."""
    label_smoothing: float = 0.0
    """Share of each training target spread over the other classes, in [0, 0.5)
    (0 = the plain cross-entropy)."""
    augment: str = "off"
    """``on``: each training digit is shifted by up to :data:`AUGMENT_SHIFT` pixels and
    rotated by up to :data:`AUGMENT_DEGREES` degrees, anew every epoch."""

    def __post_init__(self) -> None:
        errors = _problems({name: getattr(self, name) for name in FIELDS})
        if errors:
            raise ConfigError(errors)

    def train_count(self, digits: int) -> int:
        """How many of ``digits`` training digits are trained on: the rest, the last
        ``validation_split`` of them, are held out (as Keras does)."""
        return digits - round(digits * self.validation_split)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainConfig:
        """Build from a mapping of field name to value or user text; unknown keys are errors."""
        errors: dict[str, str] = {}
        values: dict[str, Any] = {}
        for name, raw in data.items():
            if name not in FIELDS:
                errors[name] = "unknown setting"
                continue
            try:
                values[name] = parse_field(name, raw)
            except ValueError as exc:
                errors[name] = str(exc)
        if errors:  # and what the values that did parse break, so all show at once
            defaults = cls()
            known = {name: getattr(defaults, name) for name in FIELDS if name not in errors}
            problems = {**_problems({**known, **values}), **errors}
            raise ConfigError(
                {name: problems[name] for name in [*FIELDS, *problems] if name in problems}
            )
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values (tuples become lists)."""
        return {
            name: list(value) if isinstance(value, tuple) else value
            for name, value in dataclasses.asdict(self).items()
        }

    def to_json(self) -> str:
        """Serialise to a JSON object."""
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_json(cls, text: str) -> TrainConfig:
        """Parse what :meth:`to_json` wrote."""
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ConfigError({"config": "expected a JSON object"})
        return cls.from_dict(data)

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with some fields changed (and validated)."""
        return dataclasses.replace(self, **changes)

    def summary(self, steered_rate: float | None = None) -> str:
        """What sets this run apart, compactly: the architecture and layers, then every
        setting that applies and differs from the defaults, e.g.
        ``mlp 512x256 drop=0.3 lr=0.003 ep=10 val=0.1 pat=3`` (``mlp 128``: the defaults).
        ``steered_rate``: the rate the user last set while it trained (``lr=0.01→0.005``)."""
        layers = "x".join(str(u) for u in self.hidden_units)
        if self.architecture == "cnn":
            layers = "conv" + "-".join(str(f) for f in self.conv_filters) + " " + layers
        defaults = TrainConfig()
        parts = [self.architecture, layers]
        for name, short in SUMMARY_NAMES.items():
            value = getattr(self, name)
            if name == "learning_rate" and steered_rate is not None:
                parts.append(f"{short}={steered_rate_text(value, steered_rate)}")
            elif value != getattr(defaults, name) and applies(name, self):
                text = format_field(name, value)
                parts.append(text if short == "" else f"{short}={text}")
        return " ".join(parts)

    @property
    def loss_floor(self) -> float:
        """The lowest training loss label smoothing allows: the entropy of the smoothed
        targets (0 without smoothing, 0.50 at 0.1). The test loss is never smoothed."""
        share = self.label_smoothing / 10
        if not share:
            return 0.0
        kept = 1.0 - self.label_smoothing + share
        return -(kept * math.log(kept) + 9 * share * math.log(share))

    @property
    def loss_note(self) -> str:
        """``label smoothing 0.1: the training loss stays above 0.50`` (``""`` without)."""
        if not self.label_smoothing:
            return ""
        return (
            f"label smoothing {format_field('label_smoothing', self.label_smoothing)}: "
            f"the training loss stays above {self.loss_floor:.2f}"
        )


def steered_rate_text(configured: float, steered: float) -> str:
    """``0.01→0.005``: the configured learning rate and the one the user set last."""
    return f"{format_field('learning_rate', configured)}→{steered:.3g}"


def applies(name: str, config: TrainConfig | Any) -> bool:
    """Whether field ``name`` has any effect with ``config``'s architecture and optimizer:
    the convolution settings only for a ``cnn``, momentum only for ``sgd`` and
    ``rmsprop``."""
    if name in ("conv_filters", "conv_kernel", "batch_norm"):
        return bool(config.architecture == "cnn")
    if name == "momentum":
        return config.optimizer in ("sgd", "rmsprop")
    return True


SUMMARY_NAMES = {
    "conv_kernel": "k",
    "batch_norm": "bn",
    "activation": "",
    "optimizer": "",
    "dropout": "drop",
    "learning_rate": "lr",
    "lr_schedule": "schedule",
    "momentum": "mom",
    "batch_size": "bs",
    "epochs": "ep",
    "validation_split": "val",
    "seed": "seed",
    "early_stopping_patience": "pat",
    "label_smoothing": "ls",
    "augment": "aug",
}
"""The settings a summary names when they differ from the defaults, and their short
names (empty: the value alone, e.g. ``gelu``)."""


# --- field specs --------------------------------------------------------------------


@dataclass(frozen=True)
class FieldSpec:
    """How to parse and check one config field, and how to describe it to a user."""

    name: str
    label: str
    hint: str
    parse: Callable[[Any], Any]
    check: Callable[[Any], str | None]
    choices: tuple[str, ...] = ()
    kind: Literal["choice", "int", "float", "int_list"] = "int"


def _parse_int(raw: Any) -> int:
    if isinstance(raw, bool):
        raise ValueError("must be a whole number")
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float) and raw.is_integer():
        return int(raw)
    try:
        return int(str(raw).strip().replace("_", ""))
    except ValueError:
        raise ValueError(f"{str(raw).strip()!r} is not a whole number") from None


def _parse_float(raw: Any) -> float:
    if isinstance(raw, bool):
        raise ValueError("must be a number")
    try:
        value = float(raw) if isinstance(raw, (int, float)) else float(str(raw).strip())
    except OverflowError:
        raise ValueError(f"must be a finite number, got {number_text(raw)}") from None
    except ValueError:
        raise ValueError(f"{str(raw).strip()[:40]!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"must be a finite number, got {number_text(raw)}")
    return value


def number_text(value: Any) -> str:
    """A number as typed: ``1180591620717411303424`` and ``0.1``, never ``1.18e+21``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value).strip()[:40]
    if isinstance(value, int):
        text = str(value)
        return text if len(text) <= 40 else f"{text[:12]}…({len(text)} digits)"
    if value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return repr(value)


def _parse_int_list(raw: Any) -> tuple[int, ...]:
    if isinstance(raw, (list, tuple)):
        items = list(raw)
    else:
        text = str(raw).strip().strip("[]()")
        items = [part for part in text.replace(",", " ").split() if part]
    if not items:
        raise ValueError("give at least one size, e.g. 128 or 256,128")
    try:
        return tuple(_parse_int(item) for item in items)
    except ValueError:
        raise ValueError("use whole numbers separated by commas, e.g. 256,128") from None


def _parse_choice(choices: tuple[str, ...]) -> Callable[[Any], str]:
    def parse(raw: Any) -> str:
        value = str(raw).strip().lower()
        if value not in choices:
            raise ValueError(f"{value!r} is not one of: {', '.join(choices)}")
        return value

    return parse


def _range(
    low: float, high: float, *, low_open: bool = False, high_open: bool = False
) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        too_low = value <= low if low_open else value < low
        too_high = value >= high if high_open else value > high
        if not (too_low or too_high):
            return None
        if isinstance(low, int) and isinstance(high, int):
            return f"must be between {low} and {high}, got {number_text(value)}"
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        return (
            f"must be in {left}{number_text(low)}, {number_text(high)}{right}, "
            f"got {number_text(value)}"
        )

    return check


def _sizes(low: int, high: int, max_len: int) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if not value:
            return "give at least one size"
        if len(value) > max_len:
            return f"at most {max_len} layers"
        bad = [v for v in value if not low <= v <= high]
        if bad:
            return f"each size must be between {low} and {high}, got {number_text(bad[0])}"
        return None

    return check


def _one_of(choices: tuple[str, ...]) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        return None if value in choices else f"{value!r} is not one of: {', '.join(choices)}"

    return check


FIELDS: dict[str, FieldSpec] = {
    spec.name: spec
    for spec in (
        FieldSpec(
            "architecture",
            "Architecture",
            "mlp (dense) or cnn (convnet)",
            _parse_choice(ARCHITECTURES),
            _one_of(ARCHITECTURES),
            ARCHITECTURES,
            "choice",
        ),
        FieldSpec(
            "hidden_units",
            "Hidden units",
            "dense layer sizes, e.g. 256,128",
            _parse_int_list,
            _sizes(1, 8192, 8),
            kind="int_list",
        ),
        FieldSpec(
            "conv_filters",
            "Conv filters",
            "cnn only: filters per conv block, e.g. 32,64",
            _parse_int_list,
            _sizes(1, 1024, 3),
            kind="int_list",
        ),
        FieldSpec(
            "conv_kernel",
            "Conv kernel",
            "cnn only: first conv's side, 3-7 (later 3)",
            _parse_int,
            _range(3, 7),
            kind="int",
        ),
        FieldSpec(
            "batch_norm",
            "Batch norm",
            "cnn only: normalise each conv block",
            _parse_choice(SWITCHES),
            _one_of(SWITCHES),
            SWITCHES,
            "choice",
        ),
        FieldSpec(
            "dropout",
            "Dropout",
            "rate in [0, 1), 0 = off",
            _parse_float,
            _range(0.0, 1.0, high_open=True),
            kind="float",
        ),
        FieldSpec(
            "activation",
            "Activation",
            "hidden-layer nonlinearity",
            _parse_choice(ACTIVATIONS),
            _one_of(ACTIVATIONS),
            ACTIVATIONS,
            "choice",
        ),
        FieldSpec(
            "optimizer",
            "Optimizer",
            "update rule",
            _parse_choice(OPTIMIZERS),
            _one_of(OPTIMIZERS),
            OPTIMIZERS,
            "choice",
        ),
        FieldSpec(
            "learning_rate",
            "Learning rate",
            "step size, e.g. 0.001",
            _parse_float,
            _range(0.0, 10.0, low_open=True),
            kind="float",
        ),
        FieldSpec(
            "lr_schedule",
            "LR schedule",
            "cosine to 0, one_cycle, or constant",
            _parse_choice(LR_SCHEDULES),
            _one_of(LR_SCHEDULES),
            LR_SCHEDULES,
            "choice",
        ),
        FieldSpec(
            "momentum",
            "Momentum",
            "sgd/rmsprop only, in [0, 1)",
            _parse_float,
            _range(0.0, 1.0, high_open=True),
            kind="float",
        ),
        FieldSpec(
            "batch_size",
            "Batch size",
            "samples per step, 1-8192",
            _parse_int,
            _range(1, 8192),
            kind="int",
        ),
        FieldSpec(
            "epochs",
            "Epochs",
            "passes over the data, 1-1000",
            _parse_int,
            _range(1, 1000),
            kind="int",
        ),
        FieldSpec(
            "validation_split",
            "Validation split",
            "held-out fraction, 0-0.5",
            _parse_float,
            _range(0.0, 0.5),
            kind="float",
        ),
        FieldSpec(
            "seed",
            "Seed",
            "0 to 2^31-1, for reproducible runs",
            _parse_int,
            _range(0, 2**31 - 1),
            kind="int",
        ),
        FieldSpec(
            "early_stopping_patience",
            "Early stop patience",
            "epochs without val-loss gain, 0 = off",
            _parse_int,
            _range(0, 1000),
            kind="int",
        ),
        FieldSpec(
            "label_smoothing",
            "Label smoothing",
            "target share spread to other digits, 0-0.5, 0 = off",
            _parse_float,
            _range(0.0, 0.5, high_open=True),
            kind="float",
        ),
        FieldSpec(
            "augment",
            "Augment",
            "shift digits by up to 2 px, turn up to 10 degrees",
            _parse_choice(SWITCHES),
            _one_of(SWITCHES),
            SWITCHES,
            "choice",
        ),
    )
}


def read_config_file(path: Path) -> dict[str, Any]:
    """The settings in a JSON file: a config object, or a run's ``run.json`` (its
    ``config``). Raises :class:`ConfigError` (key ``config``) for a file that cannot be
    read, is over :data:`MAX_CONFIG_BYTES`, is not UTF-8 or is not a JSON object."""
    try:
        data = json.loads(read_text_bounded(path, MAX_CONFIG_BYTES), parse_constant=float)
    except (OSError, ValueError, RecursionError) as exc:
        reason = getattr(exc, "strerror", None) or exc or "nested too deeply"
        raise ConfigError({"config": f"cannot read {path}: {reason}"}) from None
    if isinstance(data, dict) and isinstance(data.get("config"), dict):
        data = data["config"]  # a run.json works too
    if not isinstance(data, dict):
        raise ConfigError({"config": f"{path} is not a JSON object"})
    return data


def parse_field(name: str, raw: Any) -> Any:
    """Parse user text (or a value) for field ``name`` and check it.

    Raises ``ValueError`` with a short reason fit to show next to the field.
    """
    spec = FIELDS[name]
    value = spec.parse(raw)
    reason = spec.check(value)
    if reason is not None:
        raise ValueError(reason)
    return value


def format_field(name: str, value: Any) -> str:
    """Render a field value as the text a user would type for it."""
    if isinstance(value, (tuple, list)):
        return ",".join(str(v) for v in value)
    if isinstance(value, float):  # short when that is exact, else every digit
        short = f"{value:g}"
        return short if float(short) == value else repr(value)
    return str(value)


PRESETS: dict[str, TrainConfig] = {
    "seed MLP": TrainConfig(),
    "deeper MLP": TrainConfig(
        hidden_units=(512, 256, 128),
        dropout=0.3,
        epochs=10,
        learning_rate=0.003,
        validation_split=0.1,
        early_stopping_patience=3,
    ),
    "CNN quick": TrainConfig(
        architecture="cnn",
        conv_filters=(8, 24),
        conv_kernel=5,
        batch_norm="on",
        hidden_units=(128,),
        dropout=0.0,
        learning_rate=0.02,
        lr_schedule="one_cycle",
        label_smoothing=0.1,
        batch_size=128,
        epochs=1,
    ),
    "CNN": TrainConfig(
        architecture="cnn",
        conv_filters=(16, 32),
        conv_kernel=5,
        batch_norm="on",
        hidden_units=(128,),
        dropout=0.2,
        learning_rate=0.01,
        lr_schedule="one_cycle",
        label_smoothing=0.1,
        batch_size=128,
        epochs=5,
        augment="on",
    ),
}
"""Named starting points offered by the TUI and ``mnist-tui train --preset``."""

PRESET_HINTS: dict[str, str] = {
    "seed MLP": "97.7% in 2 s",
    "deeper MLP": "98.4% in 13 s",
    "CNN quick": "99.1% in 4 s",
    "CNN": "99.4% in 29 s",
}
"""What each preset reaches: its median test accuracy over seeds 42, 1 and 2, and its
training time on the 2-core CPU of ``benchmarks/train_speed.py`` (medians of the run of
2026-12-06 in docs/performance.md, a quiet day: the seed script took 20 s)."""
