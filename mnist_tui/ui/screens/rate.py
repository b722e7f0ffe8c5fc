"""A dialog to set the learning rate of a running training."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from mnist_tui.core.config import FIELDS, parse_field
from mnist_tui.ui.tabs.setup_form import FieldValidator


class RateScreen(ModalScreen[float | None]):
    """Ask for a new learning rate, checked as the form checks its field; dismisses with
    the rate, or ``None`` if cancelled."""

    BINDINGS = [
        Binding(
            "escape",
            "cancel",
            "Cancel",
            id="rate.cancel",
            tooltip="Close without changing the rate",
        )
    ]

    def __init__(self, current: float) -> None:
        super().__init__()
        self._current = current

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(
                f"Learning rate from the next step (now {self._current:.3g}); "
                f"{FIELDS['learning_rate'].hint}. A schedule keeps its shape.",
                markup=False,
            )
            yield Input(
                f"{self._current:.3g}",
                id="rate-input",  # not 0.002895102836191654
                validators=[FieldValidator("learning_rate")],
            )
            yield Static("", id="rate-error", classes="dialog-error", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Set", id="set", variant="primary")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    @property
    def rate(self) -> float | None:
        """The typed rate, or ``None`` while it is not a valid one."""
        try:
            return float(parse_field("learning_rate", self.query_one(Input).value))
        except ValueError:
            return None

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        result = event.validation_result
        reason = "" if result is None or result.is_valid else "; ".join(result.failure_descriptions)
        self.query_one("#rate-error", Static).update(reason)
        self.query_one("#set", Button).disabled = bool(reason)

    @on(Input.Submitted)
    @on(Button.Pressed, "#set")
    def _submit(self) -> None:
        rate = self.rate
        if rate is not None:
            self.dismiss(rate)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        """Close without a change."""
        self.dismiss(None)
