"""The config model: defaults, parsing, validation messages, JSON round trip."""

from __future__ import annotations

from pathlib import Path

import pytest

from mnist_tui.core.config import (
    FIELDS,
    MAX_CONFIG_BYTES,
    PRESET_HINTS,
    PRESETS,
    ConfigError,
    TrainConfig,
    format_field,
    parse_field,
    read_config_file,
)
from mnist_tui.core.memory import estimate_training_memory


def test_default_is_the_seed_model() -> None:
    config = TrainConfig()
    assert (
        config.architecture,
        config.hidden_units,
        config.dropout,
        config.activation,
        config.optimizer,
    ) == ("mlp", (128,), 0.2, "relu", "adam")
    # The seed's 5 epochs at batch 32 reach its accuracy in 6 at batch 512 (issue 25:
    # about a tenth of its training time, and the steps wide enough for the CPU).
    assert (config.epochs, config.batch_size, config.augment) == (6, 512, "off")


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
        ("batch_size", "0", "must be between 1 and 8192, got 0"),
        ("epochs", "1001", "must be between 1 and 1000, got 1001"),
        ("seed", "1180591620717411303424", "between 0 and 2147483647, got 1180591620717411303424"),
        ("learning_rate", "1e400", "finite"),
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
        TrainConfig.from_dict(
            {
                "epochs": "zero",
                "dropout": "1.5",
                "early_stopping_patience": "3",
                "validation_split": "0",
            }
        )
    assert list(caught.value.errors) == ["dropout", "epochs", "early_stopping_patience"]
    assert "validation split" in caught.value.errors["early_stopping_patience"]
    with pytest.raises(ConfigError) as caught:  # the split itself is wrong: no second guess
        TrainConfig.from_dict({"early_stopping_patience": "3", "validation_split": "x"})
    assert list(caught.value.errors) == ["validation_split"]


def test_json_round_trip() -> None:
    config = TrainConfig(
        architecture="cnn",
        hidden_units=(64, 32),
        learning_rate=3e-4,
        optimizer="sgd",
        validation_split=0.2,
        early_stopping_patience=2,
    )
    assert TrainConfig.from_json(config.to_json()) == config


def test_format_then_parse_is_identity_for_every_field() -> None:
    config = PRESETS["deeper MLP"]
    for name in FIELDS:
        value = getattr(config, name)
        assert parse_field(name, format_field(name, value)) == value


def test_presets_are_valid_and_distinct() -> None:
    assert PRESETS["seed MLP"] == TrainConfig()
    assert PRESETS["CNN"].architecture == "cnn"
    assert set(PRESET_HINTS) == set(PRESETS)  # each preset says what it reaches
    assert len({p.to_json() for p in PRESETS.values()}) == len(PRESETS)


# --- hostile values: from a config file, a run.json or the command line ------------------


@pytest.mark.parametrize(
    ("values", "field", "reason"),
    [
        ({"learning_rate": float("nan")}, "learning_rate", "finite number, got nan"),
        ({"dropout": float("inf")}, "dropout", "finite number, got inf"),
        ({"learning_rate": 10**400}, "learning_rate", "finite number"),
        ({"seed": 2**70}, "seed", "between 0 and 2147483647, got 1180591620717411303424"),
        ({"epochs": 1e30}, "epochs", "between 1 and 1000, got 1000000000000000019884624838656"),
        ({"hidden_units": [True]}, "hidden_units", "whole numbers"),
    ],
)
def test_non_finite_and_huge_numbers_are_refused_with_the_number_as_typed(
    values: dict[str, object], field: str, reason: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        TrainConfig.from_dict(values)
    assert reason in caught.value.errors[field]


def test_a_config_file_is_read_within_limits(tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    good.write_text('{"config": {"epochs": 3}}')  # a run.json's config works too
    assert read_config_file(good) == {"epochs": 3}
    nan = tmp_path / "nan.json"
    nan.write_text('{"learning_rate": NaN}')
    with pytest.raises(ConfigError, match="finite"):
        TrainConfig.from_dict(read_config_file(nan))
    cases = {
        "latin1.json": ("\xff\xfe{}".encode("latin-1"), "not UTF-8"),
        "big.json": (b" " * (MAX_CONFIG_BYTES + 1), "larger than 1 MiB"),
        "deep.json": (b"[" * 100_000 + b"]" * 100_000, "cannot read"),
        "list.json": (b"[1, 2]", "not a JSON object"),
    }
    for name, (content, reason) in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(ConfigError, match=reason):
            read_config_file(tmp_path / name)
    with pytest.raises(ConfigError, match="larger than"):  # endless: never read whole
        read_config_file(Path("/dev/zero"))


def test_a_config_too_big_for_memory_is_refused_with_the_estimate(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("mnist_tui.core.memory.physical_memory", lambda: 24 << 30)
    with pytest.raises(ConfigError) as caught:
        TrainConfig(hidden_units=(8192,) * 8, batch_size=8192)
    reason = caught.value.errors["hidden_units"]
    assert "needs about 14.9 GB" in reason and "7.6 GB of weights and adam state" in reason
    assert "at most 12.9 GB" in reason
    with pytest.raises(ConfigError) as caught:  # a convnet's limit is on its filters
        TrainConfig(
            architecture="cnn", conv_filters=(1024, 1024), hidden_units=(8192,), batch_size=8192
        )
    assert "needs about" in caught.value.errors["conv_filters"]
    assert TrainConfig(hidden_units=(8192,) * 2, batch_size=1024).hidden_units  # fits
    for preset in PRESETS.values():
        assert estimate_training_memory(preset).total < 1e9


def test_the_summary_names_what_differs_from_the_defaults() -> None:
    assert TrainConfig().summary() == "mlp 128"
    assert PRESETS["deeper MLP"].summary() == (
        "mlp 512x256x128 drop=0.3 lr=0.003 ep=10 val=0.1 pat=3"
    )
    assert PRESETS["CNN"].summary() == (
        "cnn conv16-32 128 k=5 bn=on schedule=one_cycle bs=128 ep=5 ls=0.1 aug=on"
    )
    assert PRESETS["CNN quick"].summary() == (
        "cnn conv8-24 128 k=5 bn=on drop=0 lr=0.02 schedule=one_cycle bs=128 ep=1 ls=0.1"
    )
    assert TrainConfig(seed=7, epochs=5).summary() == "mlp 128 ep=5 seed=7"
    # A setting that has no effect is left out: momentum with Adam, conv filters in an MLP.
    assert TrainConfig(momentum=0.5, conv_filters=(8,)).summary() == "mlp 128"
    assert TrainConfig(optimizer="sgd", momentum=0.5).summary() == "mlp 128 sgd mom=0.5"
