"""The config model: defaults, parsing, validation messages, JSON round trip."""

from __future__ import annotations

import pytest

from mnist_tui.core.config import (
    FIELDS,
    PRESETS,
    ConfigError,
    TrainConfig,
    format_field,
    parse_field,
)


def test_default_is_the_seed_model() -> None:
    config = TrainConfig()
    assert (config.architecture, config.hidden_units, config.dropout, config.activation,
            config.optimizer, config.epochs) == ("mlp", (128,), 0.2, "relu", "adam", 5)


@pytest.mark.parametrize(
    ("name", "text", "value"),
    [
        ("hidden_units", "256, 128", (256, 128)),
        ("hidden_units", "[512 256]", (512, 256)),
        ("hidden_units", "64", (64,)),
        ("dropout", "0", 0.0),
        ("learning_rate", "1e-3", 0.001),
        ("batch_size", " 64 ", 64),
        ("optimizer", "SGD", "sgd"),
        ("validation_split", "0.5", 0.5),
    ],
)
def test_parse_field_accepts(name: str, text: str, value: object) -> None:
    assert parse_field(name, text) == value


@pytest.mark.parametrize(
    ("name", "text", "reason"),
    [
        ("hidden_units", "", "at least one size"),
        ("hidden_units", "128,abc", "whole numbers separated by commas"),
        ("hidden_units", "0", "between 1 and 8192"),
        ("dropout", "1", "must be in [0, 1)"),
        ("dropout", "-0.1", "must be in [0, 1)"),
        ("learning_rate", "0", "must be in (0, 10]"),
        ("learning_rate", "fast", "is not a number"),
        ("learning_rate", "nan", "finite"),
        ("batch_size", "2.5", "not a whole number"),
        ("batch_size", "0", "must be in [1, 8192]"),
        ("epochs", "1001", "must be in [1, 1000]"),
        ("validation_split", "0.6", "must be in [0, 0.5]"),
        ("optimizer", "adagrad", "is not one of: adam"),
        ("architecture", "rnn", "is not one of: mlp, cnn"),
    ],
)
def test_parse_field_rejects_with_reason(name: str, text: str, reason: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_field(name, text)
    assert reason in str(caught.value)


def test_from_dict_collects_every_error() -> None:
    with pytest.raises(ConfigError) as caught:
        TrainConfig.from_dict({"epochs": "0", "dropout": "x", "colour": "blue"})
    assert set(caught.value.errors) == {"epochs", "dropout", "colour"}
    assert caught.value.errors["colour"] == "unknown setting"


def test_patience_needs_a_validation_split() -> None:
    with pytest.raises(ConfigError) as caught:
        TrainConfig(early_stopping_patience=2, validation_split=0.0)
    assert "validation split" in caught.value.errors["early_stopping_patience"]
    assert TrainConfig(early_stopping_patience=2, validation_split=0.1).validation_split == 0.1


def test_every_problem_shows_at_once_even_with_a_field_that_does_not_parse() -> None:
    with pytest.raises(ConfigError) as caught:
        TrainConfig.from_dict({"epochs": "zero", "dropout": "1.5",
                               "early_stopping_patience": "3", "validation_split": "0"})
    assert list(caught.value.errors) == ["dropout", "epochs", "early_stopping_patience"]
    assert "validation split" in caught.value.errors["early_stopping_patience"]
    with pytest.raises(ConfigError) as caught:  # the split itself is wrong: no second guess
        TrainConfig.from_dict({"early_stopping_patience": "3", "validation_split": "x"})
    assert list(caught.value.errors) == ["validation_split"]


def test_json_round_trip() -> None:
    config = TrainConfig(architecture="cnn", hidden_units=(64, 32), learning_rate=3e-4,
                         optimizer="sgd", validation_split=0.2, early_stopping_patience=2)
    assert TrainConfig.from_json(config.to_json()) == config


def test_format_then_parse_is_identity_for_every_field() -> None:
    config = PRESETS["deeper MLP"]
    for name in FIELDS:
        value = getattr(config, name)
        assert parse_field(name, format_field(name, value)) == value


def test_presets_are_valid_and_distinct() -> None:
    assert PRESETS["seed MLP"] == TrainConfig()
    assert PRESETS["CNN"].architecture == "cnn"
    assert len({p.to_json() for p in PRESETS.values()}) == len(PRESETS)
