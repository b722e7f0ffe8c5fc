"""A sweep's search space: specs parsed and checked with the form's own messages."""

from __future__ import annotations

from typing import Any

import pytest

from mnist_tui.core.config import ConfigError, TrainConfig, parse_field
from mnist_tui.core.sweeps.space import (
    DEFAULT_SPACES,
    Choices,
    Fixed,
    SearchSpace,
    Span,
    parse_param,
)


@pytest.mark.parametrize(
    ("name", "text", "spec"),
    [
        ("dropout", "0.3", Fixed(0.3)),
        ("hidden_units", "256,128", Fixed((256, 128))),
        ("learning_rate", "1e-4..1e-2:log", Span(1e-4, 1e-2, log=True)),
        ("dropout", " 0 .. 0.5 ", Span(0.0, 0.5)),
        ("batch_size", "32..512", Span(32, 512)),
        ("batch_size", "64|128|64", Choices((64, 128))),  # repeats dropped
        ("hidden_units", "128|256,128", Choices(((128,), (256, 128)))),
        ("activation", "relu|GELU", Choices(("relu", "gelu"))),
        ("optimizer", "sgd|sgd", Fixed("sgd")),  # one choice is a fixed value
    ],
)
def test_specs_parse(name: str, text: str, spec: Any) -> None:
    assert parse_param(name, text) == spec
    assert parse_param(name, spec.text(name)) == spec  # and read back from their text


@pytest.mark.parametrize(
    ("name", "text", "reason"),
    [
        # the form's own message, with which end or choice it is about
        ("learning_rate", "0..0.1", "lower end: " + "must be in (0, 10], got 0"),
        ("learning_rate", "1e-4..20:log", "upper end: must be in (0, 10], got 20"),
        ("dropout", "0.1..1", "upper end: must be in [0, 1), got 1"),
        ("batch_size", "64|0", "choice 2: must be between 1 and 8192, got 0"),
        ("hidden_units", "128|abc", "choice 2: use whole numbers separated by commas"),
        ("activation", "relu|tanhh", "choice 2: 'tanhh' is not one of"),
        # and what only a range can get wrong
        ("dropout", "0.5..0.1", "the lower end must be below the upper end, got 0.5..0.1"),
        ("momentum", "0..0.9:log", "a log range needs a lower end above 0, got 0"),
        ("activation", "relu..gelu", "a range needs a number; give one value or choices"),
        ("hidden_units", "128..256", "a range needs a number; give one value or choices like 128"),
        ("seed", "1|2", "fixed for a whole sweep"),
        ("validation_split", "0.1..0.2", "fixed for a whole sweep"),
        ("dropout", "0.1..", "a range has two ends"),
        ("batch_size", "64||128", "choice 2 is empty"),
    ],
)
def test_bad_specs_say_why_at_their_field(name: str, text: str, reason: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_param(name, text)
    assert reason in str(caught.value)
    with pytest.raises(ConfigError) as built:
        SearchSpace.build({}, {name: text})
    assert list(built.value.errors) == [name] and reason in built.value.errors[name]


def test_the_form_and_the_space_give_the_same_message() -> None:
    with pytest.raises(ValueError) as form:
        parse_field("dropout", "1.5")
    with pytest.raises(ConfigError) as space:
        SearchSpace.build({}, {"dropout": "1.5"})
    assert space.value.errors["dropout"] == str(form.value)


def test_every_bad_field_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as caught:
        SearchSpace.build({}, {"dropout": "2..3", "batch_size": "0|64", "epochs": "x"})
    assert set(caught.value.errors) == {"dropout", "batch_size", "epochs"}


@pytest.mark.parametrize("architecture", ["mlp", "cnn"])
def test_defaults_per_architecture(architecture: str) -> None:
    space = SearchSpace.build({}, {"architecture": architecture})
    searched = space.searched
    assert isinstance(searched["learning_rate"], Span) and searched["learning_rate"].log
    assert isinstance(searched["batch_size"], Choices)
    assert isinstance(searched["dropout"], Span)
    layers = "conv_filters" if architecture == "cnn" else "hidden_units"
    assert isinstance(searched[layers], Choices)
    assert space.base_values()["validation_split"] == 0.1  # required, 0.1 by default
    assert set(searched) == set(DEFAULT_SPACES[architecture]) - {"epochs"}


def test_a_base_config_is_fixed_under_the_defaults_and_the_options_win() -> None:
    base = TrainConfig(optimizer="sgd", momentum=0.8, validation_split=0.2).to_dict()
    space = SearchSpace.build(base, {"dropout": "0.25", "momentum": "0.5..0.95"})
    fixed = space.base_values()
    assert fixed["optimizer"] == "sgd" and fixed["validation_split"] == 0.2
    assert fixed["dropout"] == 0.25 and "dropout" not in space.searched
    assert space.searched["momentum"] == Span(0.5, 0.95)


def test_a_sweep_needs_a_validation_split() -> None:
    with pytest.raises(ConfigError) as caught:
        SearchSpace.build({}, {"validation_split": "0"})
    assert "needs a validation split above 0" in caught.value.errors["validation_split"]


def test_a_space_whose_largest_trials_cannot_fit_is_refused() -> None:
    huge = ",".join(["8192"] * 8)
    with pytest.raises(ConfigError) as caught:
        SearchSpace.build({}, {"hidden_units": f"128|{huge}", "batch_size": "64..8192"})
    assert "for some trials of 128|" in caught.value.errors["hidden_units"]
    assert "needs about" in caught.value.errors["hidden_units"]


def test_the_texts_round_trip_and_hostile_texts_are_refused() -> None:
    space = SearchSpace.build({}, {"activation": "relu|gelu", "epochs": "3"})
    assert SearchSpace.from_texts(space.texts()) == space
    for bad in ({"learning_rate": ["x"]}, {"nope": "1"}, {"dropout": "0..0.5" * 500}):
        with pytest.raises(ConfigError):
            SearchSpace.from_texts(bad)


class FakeTrial:
    """Draws the low end of a range and the last choice, and remembers what was asked."""

    def __init__(self) -> None:
        self.asked: dict[str, Any] = {}

    def suggest_float(self, name: str, low: float, high: float, *, log: bool = False) -> float:
        self.asked[name] = ("float", low, high, log)
        return low

    def suggest_int(self, name: str, low: int, high: int, *, log: bool = False) -> int:
        self.asked[name] = ("int", low, high, log)
        return low

    def suggest_categorical(self, name: str, choices: Any) -> Any:
        self.asked[name] = ("categorical", list(choices))
        return choices[-1]


def test_a_trial_draws_each_searched_field_and_keeps_the_rest() -> None:
    space = SearchSpace.build(
        {}, {"hidden_units": "64|256,128", "batch_size": "32..512:log", "epochs": "2"}
    )
    trial = FakeTrial()
    config = space.suggest(trial)
    assert trial.asked["hidden_units"] == ("categorical", ["64", "256,128"])  # plain categories
    assert trial.asked["batch_size"] == ("int", 32, 512, True)
    assert trial.asked["learning_rate"] == ("float", 3e-4, 3e-2, True)
    assert config.hidden_units == (256, 128) and config.batch_size == 32
    assert config.epochs == 2 and config.validation_split == 0.1 and config.seed == 42


def test_a_drawn_rate_keeps_three_figures_and_stays_in_its_range() -> None:
    class Drawing(FakeTrial):
        def __init__(self, value: float) -> None:
            super().__init__()
            self.value = value

        def suggest_float(self, name: str, low: float, high: float, *, log: bool = False) -> float:
            return self.value if name == "learning_rate" else low

    space = SearchSpace.build({}, {"learning_rate": "1e-4..0.01236:log"})
    assert space.suggest(Drawing(0.0014213931849554635)).learning_rate == 0.00142
    assert space.suggest(Drawing(0.012359)).learning_rate == 0.01236  # not 0.0124, past the end
