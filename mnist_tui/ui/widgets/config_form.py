"""The hyperparameter form: one widget per config field, validated by the core."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.validation import ValidationResult, Validator
from textual.widgets import Button, Input, Label, Select, Static, Tabs

from mnist_tui.core.config import (
    FIELDS,
    PRESETS,
    ConfigError,
    TrainConfig,
    format_field,
    parse_field,
)


class FieldValidator(Validator):
    """A Textual validator that asks the core's :func:`parse_field`."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.field_name = name

    def validate(self, value: str) -> ValidationResult:
        try:
            parse_field(self.field_name, value)
        except ValueError as exc:
            return self.failure(str(exc))
        return self.success()


class ConfigForm(VerticalScroll):
    """Every :class:`TrainConfig` field with its hint; reports the config when valid."""

    BINDINGS = [Binding("escape", "leave_field", "Leave field", show=False, id="form.leave",
                        tooltip="Move out of the form to the tab bar, where 1-5 switch tabs")]

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

    @property
    def config(self) -> TrainConfig | None:
        """The valid config the form shows, or ``None``."""
        return self._config

    def compose(self) -> ComposeResult:
        with Horizontal(classes="form-row presets"):
            yield Label("Preset", classes="form-label")
            yield Select([(name, name) for name in PRESETS], prompt="custom", compact=True,
                         id="preset", allow_blank=True, value=self._preset_of(self._initial))
            yield Static("start from a known-good recipe", classes="form-hint")
        for name, spec in FIELDS.items():
            value = getattr(self._initial, name)
            with Horizontal(classes="form-row", id=f"row-{name}"):
                yield Label(spec.label, classes="form-label")
                if spec.kind == "choice":
                    yield Select([(c, c) for c in spec.choices], allow_blank=False,
                                 value=value, id=f"field-{name}", compact=True)
                else:
                    yield Input(format_field(name, value), id=f"field-{name}",
                                validators=[FieldValidator(name)], compact=True,
                                valid_empty=False, placeholder=spec.hint)
                # The hint becomes the reason a value is refused, which quotes the value.
                yield Static(spec.hint, classes="form-hint", id=f"hint-{name}", markup=False)
        yield Static("", id="form-error")
        yield Button("Train  (ctrl+t)", id="train-button", variant="success")

    def on_mount(self) -> None:
        self._revalidate()

    @staticmethod
    def _preset_of(config: TrainConfig) -> Any:
        for name, preset in PRESETS.items():
            if preset == config:
                return name
        return Select.NULL

    def set_config(self, config: TrainConfig) -> None:
        """Show ``config`` in every field."""
        with self.prevent(Select.Changed, Input.Changed):
            for name, spec in FIELDS.items():
                value = getattr(config, name)
                if spec.kind == "choice":
                    self.query_one(f"#field-{name}", Select).value = value
                else:
                    self.query_one(f"#field-{name}", Input).value = format_field(name, value)
            self.query_one("#preset", Select).value = self._preset_of(config)
        self._revalidate()

    def action_leave_field(self) -> None:
        """Hand the keys back to the app: a field takes digits, the tab bar does not."""
        self.screen.query_one(Tabs).focus()

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
        errors: dict[str, str] = {}
        try:
            config: TrainConfig | None = TrainConfig.from_dict(self._raw_values())
        except ConfigError as exc:
            config, errors = None, exc.errors
        for name, spec in FIELDS.items():
            hint = self.query_one(f"#hint-{name}", Static)
            reason = errors.get(name)
            hint.update(f"✗ {reason}" if reason else spec.hint)
            hint.set_class(reason is not None, "-invalid")
            self.query_one(f"#row-{name}").set_class(reason is not None, "-invalid")
        names = [FIELDS[name].label if name in FIELDS else name for name in errors]
        self.query_one("#form-error", Static).update(
            f"Fix {', '.join(names)} to train." if errors else "")
        self.query_one("#train-button", Button).disabled = config is None
        self._config = config
        self.post_message(self.Changed(self, config))

    @on(Button.Pressed, "#train-button")
    def _train_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.post_message(self.TrainPressed())

    @on(Input.Changed)
    @on(Select.Changed)
    def _field_changed(self, event: Input.Changed | Select.Changed) -> None:
        event.stop()
        if event.control.id == "preset":
            if event.value in PRESETS:
                self.set_config(PRESETS[str(event.value)])
            return
        if event.control.id and event.control.id.startswith("field-"):
            with self.prevent(Select.Changed):
                self.query_one("#preset", Select).value = Select.NULL
            self._revalidate()
            if self._config is not None:
                self.query_one("#preset", Select).value = self._preset_of(self._config)
