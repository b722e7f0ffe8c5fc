"""A sweep's search space: for each config field a fixed value, a range or choices.

Every field is written as the text a user types, in the CLI or a form:

- ``0.3`` or ``256,128``: a fixed value;
- ``1e-4..1e-2`` a linear range, ``1e-4..1e-2:log`` a log range (numbers only);
- ``64|128|256`` or ``128|256,128``: choices.

Each value, range end and choice is checked by the config's own field checks
(:func:`mnist_tui.core.config.parse_field`), so a bad one gets the form's message,
keyed by its field. The space is kept in the study as these texts and parsed again
when read back, so a study from storage is checked like user input.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from mnist_tui.core.config import (
    FIELDS,
    MEMORY_FIELDS,
    ConfigError,
    TrainConfig,
    format_field,
    parse_field,
)

RANGE_MARK = ".."
LOG_SUFFIX = ":log"
CHOICE_MARK = "|"
MAX_CHOICES = 64
MAX_SPEC_TEXT = 1000
"""A field's spec longer than this is refused unread."""
DEFAULT_VALIDATION_SPLIT = 0.1
FIXED_ONLY = {
    "architecture": "fixed for a whole sweep (each architecture has its own space): "
    "give mlp or cnn",
    "validation_split": "fixed for a whole sweep, so that every trial is judged on the "
    "same held-out digits",
    "seed": "fixed for a whole sweep, so that trials differ only in what is searched",
}
"""Fields a sweep cannot vary, and why."""
FLOAT_FIGURES = 3
"""Significant figures a drawn real number keeps."""
MAX_MEMORY_CHECKS = 4096
"""At most this many combinations of the memory fields are checked to fit."""


class Suggester(Protocol):
    """What a space needs from an Optuna trial (``optuna.Trial`` has all three)."""

    def suggest_float(self, name: str, low: float, high: float, *, log: bool = False) -> float: ...

    def suggest_int(self, name: str, low: int, high: int, *, log: bool = False) -> int: ...

    def suggest_categorical(self, name: str, choices: Any) -> Any: ...


@dataclass(frozen=True)
class Fixed:
    """One value for every trial."""

    value: Any

    def text(self, name: str) -> str:
        """As a user writes it."""
        return format_field(name, self.value)


@dataclass(frozen=True)
class Span:
    """A range of numbers, sampled uniformly or on a log scale (``log``)."""

    low: int | float
    high: int | float
    log: bool = False

    def text(self, name: str) -> str:
        """As a user writes it: ``1e-4..0.01:log``."""
        return (
            f"{format_field(name, self.low)}{RANGE_MARK}{format_field(name, self.high)}"
            f"{LOG_SUFFIX if self.log else ''}"
        )


@dataclass(frozen=True)
class Choices:
    """A list of values, one picked per trial."""

    values: tuple[Any, ...]

    def text(self, name: str) -> str:
        """As a user writes it: ``64|128|256``."""
        return CHOICE_MARK.join(format_field(name, value) for value in self.values)


ParamSpec = Fixed | Span | Choices


def parse_param(name: str, raw: Any) -> ParamSpec:
    """Parse a field's spec (text, or a plain value for a fixed one).

    Raises ``ValueError`` with a reason fit to show next to the field.
    """
    if name not in FIELDS:
        raise ValueError("unknown setting")
    spec = FIELDS[name]
    if not isinstance(raw, str):
        return Fixed(parse_field(name, raw))
    text = raw.strip()
    if len(text) > MAX_SPEC_TEXT:
        raise ValueError(f"longer than {MAX_SPEC_TEXT} characters")
    if not text:
        raise ValueError("give a value, a range like 0.1..0.5, or choices like 64|128")
    if CHOICE_MARK in text:
        if name in FIXED_ONLY:
            raise ValueError(FIXED_ONLY[name])
        return _choices(name, text)
    if RANGE_MARK in text:
        if name in FIXED_ONLY:
            raise ValueError(FIXED_ONLY[name])
        if spec.kind not in ("int", "float"):
            example = "relu|gelu" if spec.kind == "choice" else "128|256,128"
            raise ValueError(f"a range needs a number; give one value or choices like {example}")
        return _span(name, text)
    return Fixed(parse_field(name, text))


def _choices(name: str, text: str) -> ParamSpec:
    parts = [part.strip() for part in text.split(CHOICE_MARK)]
    if len(parts) > MAX_CHOICES:
        raise ValueError(f"at most {MAX_CHOICES} choices")
    values: list[Any] = []
    for index, part in enumerate(parts, 1):
        if not part:
            raise ValueError(f"choice {index} is empty (choices look like 64|128|256)")
        try:
            value = parse_field(name, part)
        except ValueError as exc:
            raise ValueError(f"choice {index}: {exc}") from None
        if value not in values:
            values.append(value)
    return Fixed(values[0]) if len(values) == 1 else Choices(tuple(values))


def _span(name: str, text: str) -> Span:
    log = text.lower().endswith(LOG_SUFFIX)
    body = text[: -len(LOG_SUFFIX)] if log else text
    low_text, _mark, high_text = body.partition(RANGE_MARK)
    if not low_text.strip() or not high_text.strip():
        raise ValueError("a range has two ends, e.g. 0.1..0.5 or 1e-4..1e-2:log")
    ends: list[int | float] = []
    for which, part in (("lower end", low_text), ("upper end", high_text)):
        try:
            ends.append(parse_field(name, part))
        except ValueError as exc:
            raise ValueError(f"{which}: {exc}") from None
    low, high = ends
    if not low < high:
        raise ValueError(
            f"the lower end must be below the upper end, got "
            f"{format_field(name, low)}..{format_field(name, high)}"
        )
    if log and low <= 0:
        raise ValueError(f"a log range needs a lower end above 0, got {format_field(name, low)}")
    return Span(low, high, log)


def _int_lists(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


DEFAULT_SPACES: dict[str, dict[str, str]] = {
    "mlp": {
        "learning_rate": "3e-4..3e-2:log",
        "batch_size": "128|256|512",
        "dropout": "0..0.5",
        "hidden_units": "128|256|512|256,128|512,256",
        "epochs": "10",
    },
    "cnn": {
        "learning_rate": "3e-4..3e-3:log",
        "batch_size": "64|128|256",
        "dropout": "0.2..0.6",
        "conv_filters": "16,32|32,64|64,128",
        "hidden_units": "64|128|256",
        "epochs": "5",
    },
}
"""What a sweep searches when it is told nothing else, per architecture; every other
field is fixed at its value in the base config (the validation split at 0.1)."""


@dataclass(frozen=True)
class SearchSpace:
    """Every config field's spec: fixed, range or choices. Build with :meth:`build`
    or :meth:`from_texts`; a space that exists is valid."""

    specs: tuple[tuple[str, ParamSpec], ...]

    @property
    def by_name(self) -> dict[str, ParamSpec]:
        """Field name to spec."""
        return dict(self.specs)

    @property
    def architecture(self) -> str:
        """The architecture every trial trains."""
        spec = self.by_name["architecture"]
        assert isinstance(spec, Fixed)
        return str(spec.value)

    @property
    def searched(self) -> dict[str, Span | Choices]:
        """The fields that vary, in field order."""
        return {name: spec for name, spec in self.specs if not isinstance(spec, Fixed)}

    def texts(self) -> dict[str, str]:
        """Every field's spec as text (what :meth:`from_texts` reads)."""
        return {name: spec.text(name) for name, spec in self.specs}

    def describe(self) -> str:
        """The searched fields, compactly: ``learning_rate=1e-4..0.01:log batch_size=64|128``."""
        return " ".join(f"{name}={spec.text(name)}" for name, spec in self.searched.items())

    @classmethod
    def from_texts(cls, texts: Mapping[str, Any]) -> SearchSpace:
        """Parse field specs (text or plain values); unknown fields are errors and missing
        ones take the defaults of :class:`TrainConfig`. Raises :class:`ConfigError`."""
        errors: dict[str, str] = {}
        specs: dict[str, ParamSpec] = {}
        for name, raw in texts.items():
            if name not in FIELDS:
                errors[str(name)[:60]] = "unknown setting"
                continue
            try:
                specs[name] = parse_param(name, raw)
            except ValueError as exc:
                errors[name] = str(exc)
        if errors:
            raise ConfigError(errors)
        defaults = TrainConfig()
        full = {name: specs.get(name, Fixed(getattr(defaults, name))) for name in FIELDS}
        _check(full)
        return cls(tuple(full.items()))

    @classmethod
    def build(cls, base: Mapping[str, Any], given: Mapping[str, Any]) -> SearchSpace:
        """The space a user asks for: ``base`` values (a preset or config file) fixed,
        the architecture's :data:`DEFAULT_SPACES` searched over them, and the ``given``
        specs on top. The validation split is 0.1 unless given or in ``base`` above 0.
        Raises :class:`ConfigError` with every field's problem at once."""
        errors: dict[str, str] = {}
        values: dict[str, Any] = {}
        for name, raw in base.items():
            if name not in FIELDS:
                errors[str(name)[:60]] = "unknown setting"
                continue
            try:
                values[name] = parse_field(name, _int_lists(raw))
            except ValueError as exc:
                errors[name] = str(exc)
        if errors:
            raise ConfigError(errors)
        architecture = given.get("architecture", values.get("architecture", "mlp"))
        try:
            arch_spec = parse_param("architecture", architecture)
        except ValueError as exc:
            raise ConfigError({"architecture": str(exc)}) from None
        assert isinstance(arch_spec, Fixed)
        texts: dict[str, Any] = {name: value for name, value in values.items()}
        if not values.get("validation_split"):
            texts["validation_split"] = DEFAULT_VALIDATION_SPLIT
        texts.update(DEFAULT_SPACES[arch_spec.value])
        texts.update(given)
        return cls.from_texts(texts)

    def base_values(self) -> dict[str, Any]:
        """The fixed fields' values."""
        return {name: spec.value for name, spec in self.specs if isinstance(spec, Fixed)}

    def suggest(self, trial: Suggester) -> TrainConfig:
        """One trial's config: each searched field drawn through Optuna's ``trial``
        (choices as their text, so that layer lists are plain categories).
        Raises :class:`ConfigError` for a combination the config refuses."""
        values = self.base_values()
        for name, spec in self.searched.items():
            values[name] = _draw(trial, name, spec)
        return TrainConfig.from_dict(values)

    def corners(self) -> Iterator[dict[str, Any]]:
        """Every combination of the memory fields' extreme candidates, over the fixed
        values (at most :data:`MAX_MEMORY_CHECKS`)."""
        return _corners(self.by_name)


def _draw(trial: Suggester, name: str, spec: Span | Choices) -> Any:
    if isinstance(spec, Choices):
        picked = trial.suggest_categorical(name, [format_field(name, v) for v in spec.values])
        return parse_field(name, picked)
    if FIELDS[name].kind == "int":
        return trial.suggest_int(name, int(spec.low), int(spec.high), log=spec.log)
    drawn = trial.suggest_float(name, float(spec.low), float(spec.high), log=spec.log)
    # Three figures are all a rate or a dropout needs: a trial's settings read (and go
    # into the form) as 0.0142, not 0.014213931849554635.
    return min(max(float(f"{drawn:.{FLOAT_FIGURES}g}"), float(spec.low)), float(spec.high))


def _candidates(spec: ParamSpec) -> list[Any]:
    if isinstance(spec, Fixed):
        return [spec.value]
    if isinstance(spec, Span):
        return [spec.low, spec.high]
    return list(spec.values)


def _corners(specs: Mapping[str, ParamSpec]) -> Iterator[dict[str, Any]]:
    fixed = {name: spec.value for name, spec in specs.items() if isinstance(spec, Fixed)}
    names = sorted(MEMORY_FIELDS)
    lists = [_candidates(specs[name]) for name in names]
    for combo in itertools.islice(itertools.product(*lists), MAX_MEMORY_CHECKS):
        yield {**fixed, **dict(zip(names, combo, strict=True))}


def _check(specs: Mapping[str, ParamSpec]) -> None:
    """The rules across fields: a validation split to choose on, and every trial's
    config possible (its memory included, at the extremes of the space)."""
    errors: dict[str, str] = {}
    split = specs["validation_split"]
    if isinstance(split, Fixed) and not split.value:
        errors["validation_split"] = (
            "a sweep chooses on validation accuracy: needs a validation split above 0"
        )
    if errors:
        raise ConfigError(errors)
    for values in _corners(specs):
        try:
            TrainConfig.from_dict(values)
        except ConfigError as exc:
            raise ConfigError(
                {name: _at_extreme(name, why, specs) for name, why in exc.errors.items()}
            ) from None


def _at_extreme(name: str, why: str, specs: Mapping[str, ParamSpec]) -> str:
    spec = specs.get(name)
    if spec is None or isinstance(spec, Fixed):
        return why
    return f"for some trials of {spec.text(name)}: {why}"
