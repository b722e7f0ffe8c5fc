"""The hyperparameter form: one widget per config field, validated by the core."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from functools import partial
from types import SimpleNamespace
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.validation import ValidationResult, Validator
from textual.widgets import Button, Input, Label, Select, Static

from mnist_tui.core.config import (
    FIELDS,
    PRESET_HINTS,
    PRESETS,
    ConfigError,
    TrainConfig,
    applies,
    format_field,
    parse_field,
)
from mnist_tui.core.runs.annotations import MAX_NAME, MAX_NOTE, Annotation, AnnotationError

FORM_HINTS = {
    "conv_filters": "filters per conv block, e.g. 32,64",
    "conv_kernel": "first conv's side, 3-7 (later ones 3)",
    "batch_norm": "normalise each conv block",
    "momentum": "in [0, 1), e.g. 0.9",
}
"""Hints the form words itself: these fields' notes on when they apply are shown apart."""
ONLY_FOR = {
    "conv_filters": "cnn only",
    "conv_kernel": "cnn only",
    "batch_norm": "cnn only",
    "momentum": "sgd, rmsprop only",
}
"""When a field applies (see :func:`applies`), said in its hint while it does not."""
EXAMPLES = {"conv_filters": "32,64"}
"""A field's own example, in place of the dense one the core's list parser gives."""


def preset_hint(preset: object) -> str:
    """Beside the preset list: what the chosen preset reaches, or what presets are for."""
    if isinstance(preset, str) and preset in PRESET_HINTS:
        return f"{PRESET_HINTS[preset]}, 2 cores"  # test accuracy, training time
    return "start from a known-good recipe"


def form_hint(name: str, applicable: bool = True) -> str:
    """The hint beside field ``name``; a field that does not apply says when it does."""
    hint = FORM_HINTS.get(name, FIELDS[name].hint)
    return hint if applicable or name not in ONLY_FOR else f"({ONLY_FOR[name]}) {hint}"


def form_reason(name: str, reason: str) -> str:
    """Why field ``name``'s value is refused, with the field's own example."""
    example = EXAMPLES.get(name)
    if example is None or ", e.g. " not in reason:
        return reason
    return f"{reason.split(', e.g. ')[0]}, e.g. {example}"


class FieldValidator(Validator):
    """A Textual validator that asks the core's :func:`parse_field`; any value passes while
    ``applicable()`` is false (the field has no effect, so it is not checked)."""

    def __init__(self, name: str, applicable: Callable[[], bool] = lambda: True) -> None:
        super().__init__()
        self.field_name = name
        self.applicable = applicable

    def validate(self, value: str) -> ValidationResult:
        if not self.applicable():
            return self.success()
        try:
            parse_field(self.field_name, value)
        except ValueError as exc:
            return self.failure(str(exc))
        return self.success()


RUN_WORDS = (
    ("name", "Run name", "shown wherever the run is", MAX_NAME),
    ("note", "Note", "what you are trying", MAX_NOTE),
    ("tags", "Tags", "comma-separated, e.g. lr-sweep, wide", 400),
)
"""The next run's name, note and tags: its key, label, hint and longest text."""


class ConfigForm(VerticalScroll):
    """Every :class:`TrainConfig` field with its hint; reports the config when valid.

    A field that does not apply to the chosen architecture or optimizer is dimmed (class
    ``-inapplicable``) and not checked: the config takes its last valid value.
    """

    DEFAULT_CSS = """
    ConfigForm .form-row.-inapplicable {
        opacity: 55%;
        &:focus-within {
            opacity: 100%;  /* where the user is shows in full */
        }
    }
    ConfigForm {
        height: 1fr;
        padding: 0 1;
    }

    .form-row {
        height: auto;
        margin-bottom: 1;
    }

    .form-label {
        width: 20;
        padding-right: 1;
        text-style: bold;
    }

    .form-row Input, .form-row Select {
        width: 24;
    }

    .form-hint {
        color: $text-muted;
        padding: 0 2;
        width: 1fr;
        height: auto;  /* a long hint or reason wraps in a narrow terminal instead of being cut */
    }

    .form-hint.-invalid {
        color: $error;
        text-style: bold;
    }

    .form-row.-invalid .form-label {
        color: $error;
    }

    #form-error {  /* docked: a field scrolled out of sight still says why Train is off */
        dock: bottom;
        color: $error;
        background: $surface;
        text-style: bold;
        height: auto;
        padding: 0 1;
    }

    #train-button {
        margin: 0 0 1 20;
    }

    ConfigForm.-locked .form-label {
        color: $text-disabled;
    }
    """

    @dataclass
    class Changed(Message):
        """The form changed; ``config`` is ``None`` while any field is invalid."""

        form: ConfigForm
        config: TrainConfig | None

    class TrainPressed(Message):
        """The form's Train button was pressed."""

    def __init__(self, config: TrainConfig | None = None, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._initial = config or TrainConfig()
        self._config: TrainConfig | None = self._initial
        self._last_valid: dict[str, Any] = {name: getattr(self._initial, name) for name in FIELDS}
        """Each field's newest value that passed its own check (what a field that does not
        apply contributes to the config)."""
        self._inapplicable = frozenset(name for name in FIELDS if not applies(name, self._initial))
        """The fields with no effect under the architecture and optimizer shown."""
        self._shown_preset: Any = self._preset_of(self._initial)
        """What the form itself last showed in the preset list; a change to anything else
        is a choice, which fills the fields."""
        self._checked: dict[str, Any] | None = None
        """The field values the last check saw: each input reports its first value as a
        change when it mounts, and those need no second check."""

    @property
    def annotation(self) -> Annotation:
        """The name, note and tags typed for the next run; ``AnnotationError`` says why
        they cannot be kept."""
        name, note, tags = (self.query_one(f"#run-{key}", Input).value for key, *_rest in RUN_WORDS)
        return Annotation.of(name, note, [tags])

    def clear_run_words(self) -> None:
        """Empty the name and note once a run has taken them (tags stay, for a series)."""
        for key in ("name", "note"):
            self.query_one(f"#run-{key}", Input).value = ""

    @property
    def config(self) -> TrainConfig | None:
        """The valid config the form shows, or ``None``."""
        return self._config

    def compose(self) -> ComposeResult:
        with Horizontal(classes="form-row presets"):
            yield Label("Preset", classes="form-label")
            yield Select(
                [(name, name) for name in PRESETS],
                prompt="custom",
                compact=True,
                id="preset",
                allow_blank=True,
                value=self._shown_preset,
            )
            yield Static(preset_hint(self._shown_preset), classes="form-hint", id="preset-hint")
        for name, spec in FIELDS.items():
            value = getattr(self._initial, name)
            applicable = name not in self._inapplicable
            with Horizontal(
                classes="form-row" if applicable else "form-row -inapplicable", id=f"row-{name}"
            ):
                yield Label(spec.label, classes="form-label")
                if spec.kind == "choice":
                    yield Select(
                        [(c, c) for c in spec.choices],
                        allow_blank=False,
                        value=value,
                        id=f"field-{name}",
                        compact=True,
                    )
                else:
                    yield Input(
                        format_field(name, value),
                        id=f"field-{name}",
                        validators=[FieldValidator(name, partial(self._applies, name))],
                        compact=True,
                        valid_empty=False,
                        placeholder=form_hint(name),
                    )
                # The hint becomes the reason a value is refused, which quotes the value.
                yield Static(
                    form_hint(name, applicable),
                    classes="form-hint",
                    id=f"hint-{name}",
                    markup=False,
                )
        for key, label, hint, limit in RUN_WORDS:
            with Horizontal(classes="form-row run-words", id=f"row-run-{key}"):
                yield Label(label, classes="form-label")
                yield Input(
                    "", id=f"run-{key}", compact=True, max_length=limit, placeholder="optional"
                )
                yield Static(hint, classes="form-hint", id=f"hint-run-{key}", markup=False)
        yield Static("", id="form-error", markup=False)
        yield Button("Train  (ctrl+t)", id="train-button", variant="success")

    def on_mount(self) -> None:
        self._revalidate()

    @staticmethod
    def _preset_of(config: TrainConfig) -> Any:
        for name, preset in PRESETS.items():
            if preset == config:
                return name
        return Select.NULL

    def focus_main(self) -> None:
        """Put the focus on the first field (the preset)."""
        self.query_one("#preset").focus()

    def set_config(self, config: TrainConfig) -> None:
        """Show ``config`` in every field (and the preset it is, if any)."""
        with self.prevent(Select.Changed, Input.Changed):
            for name, spec in FIELDS.items():
                value = getattr(config, name)
                if spec.kind == "choice":
                    self.query_one(f"#field-{name}", Select).value = value
                else:
                    self.query_one(f"#field-{name}", Input).value = format_field(name, value)
        self._revalidate()
        self._show_preset()

    def _show_preset(self) -> None:
        """Show the preset the fields hold, or "custom". Only the display changes: this
        never fills a field (only a preset the user chooses does)."""
        value = Select.NULL if self._config is None else self._preset_of(self._config)
        self._shown_preset = value
        with self.prevent(Select.Changed):
            self.query_one("#preset", Select).value = value
        self.query_one("#preset-hint", Static).update(preset_hint(value))

    def _applies(self, name: str) -> bool:
        """Whether field ``name`` has an effect with the architecture and optimizer shown."""
        return name not in self._inapplicable

    def set_locked(self, locked: bool) -> None:
        """Lock the form while training runs (disabling the form disables every field)."""
        self.disabled = locked
        self.set_class(locked, "-locked")

    def _raw_values(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, spec in FIELDS.items():
            if spec.kind == "choice":
                values[name] = self.query_one(f"#field-{name}", Select).value
            else:
                values[name] = self.query_one(f"#field-{name}", Input).value
        return values

    def _revalidate(self) -> None:
        raw = self._checked = self._raw_values()
        self._set_inapplicable(
            frozenset(name for name in FIELDS if not applies(name, SimpleNamespace(**raw)))
        )
        for name, text in raw.items():
            with suppress(ValueError):  # a refused value leaves the last valid one
                self._last_valid[name] = parse_field(name, text)
        values = {
            name: self._last_valid[name] if name in self._inapplicable else text
            for name, text in raw.items()
        }
        errors: dict[str, str] = {}
        try:
            config: TrainConfig | None = TrainConfig.from_dict(values)
        except ConfigError as exc:
            config, errors = None, exc.errors
        for name in FIELDS:
            hint = self.query_one(f"#hint-{name}", Static)
            reason = errors.get(name)
            hint.update(
                f"✗ {form_reason(name, reason)}" if reason else form_hint(name, self._applies(name))
            )
            hint.set_class(reason is not None, "-invalid")
            self.query_one(f"#row-{name}").set_class(reason is not None, "-invalid")
        names = [FIELDS[name].label if name in FIELDS else name for name in errors]
        why = f": {form_reason(*next(iter(errors.items())))}" if len(errors) == 1 else ""
        error = self.query_one("#form-error", Static)  # docked: seen wherever the form is
        text = f"Fix {', '.join(names)} to train{why}." if errors else ""
        if text != str(error.content):
            error.update(text)
            error.display = bool(errors)
            self.call_after_refresh(self._field_in_sight)  # not under the error
        self.query_one("#train-button", Button).disabled = config is None
        self._config = config
        self.post_message(self.Changed(self, config))

    def _field_in_sight(self) -> None:
        """Scroll the field with the focus back into view (above the docked error)."""
        field = self.app.focused
        if field is not None and self in field.ancestors:
            field.scroll_visible(animate=False)

    def _check_run_words(self) -> None:
        """Mark the tags hint when the name, note or tags cannot be kept."""
        hint = self.query_one("#hint-run-tags", Static)
        try:
            self.annotation  # noqa: B018 - checked for its error
        except AnnotationError as exc:
            hint.update(f"✗ {exc}")
            hint.add_class("-invalid")
            return
        hint.update(RUN_WORDS[2][2])
        hint.remove_class("-invalid")

    def _set_inapplicable(self, names: frozenset[str]) -> None:
        """Dim the fields in ``names`` and check the others (an input's own mark too)."""
        changed, self._inapplicable = names ^ self._inapplicable, names
        for name in changed:
            self.query_one(f"#row-{name}").set_class(name in names, "-inapplicable")
            field = self.query_one(f"#field-{name}")
            if isinstance(field, Input):
                field.validate(field.value)

    @on(Button.Pressed, "#train-button")
    def _train_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.post_message(self.TrainPressed())

    @on(Input.Changed)
    @on(Select.Changed)
    def _field_changed(self, event: Input.Changed | Select.Changed) -> None:
        event.stop()
        if event.control.id == "preset":
            chosen = event.value != self._shown_preset  # not the form's own display
            self._shown_preset = event.value
            self.query_one("#preset-hint", Static).update(preset_hint(event.value))
            if chosen and event.value in PRESETS:
                self.set_config(PRESETS[str(event.value)])
            return
        if event.control.id and event.control.id.startswith("run-"):
            self._check_run_words()
        if (
            event.control.id
            and event.control.id.startswith("field-")
            and self._raw_values() != self._checked
        ):
            self._revalidate()
            self._show_preset()
