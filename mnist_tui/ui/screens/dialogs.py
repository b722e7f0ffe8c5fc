"""Small modal dialogs: confirm, error, help."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Markdown, Static


class ConfirmScreen(ModalScreen[bool]):
    """Ask a yes/no question (plain text, shown as written); dismisses with the answer."""

    BINDINGS = [
        Binding("y", "answer(True)", "Yes", id="confirm.yes", tooltip="Yes"),
        Binding("n,escape", "answer(False)", "No", id="confirm.no", tooltip="No"),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self._question = question

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self._question, classes="dialog-text", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Yes (y)", id="yes", variant="error")
                yield Button("No (n)", id="no", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, answer: bool) -> None:
        """Dismiss with ``answer``."""
        self.dismiss(answer)


class ErrorScreen(ModalScreen[None]):
    """Show an error (a plain-text title and message, shown as written); the app lives on."""

    BINDINGS = [Binding("escape,enter", "dismiss", "Close", id="error.close",
                        tooltip="Close this message")]

    def __init__(self, title: str, message: str) -> None:
        super().__init__()
        self._title, self._message = title, message

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog error-dialog"):
            yield Static(Content.styled(self._title, "bold"), classes="dialog-title",
                         markup=False)
            with VerticalScroll(classes="dialog-scroll"):
                yield Static(self._message, classes="dialog-text", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Close", id="close", variant="primary")

    def on_button_pressed(self, _event: Button.Pressed) -> None:
        self.dismiss()


HELP = """\
# mnist-tui

Train a network on MNIST, watch it learn, and look at what it gets wrong.
↑/↓ scroll this help; Escape closes it.

| key | where | what |
|---|---|---|
| ctrl+t | anywhere | train with the settings in the form |
| ctrl+s | anywhere | stop training (the run is kept and saved) |
| 1 … 5 | outside a text field (Escape leaves one) | Setup, Training, Results, Samples, Runs |
| ctrl+p | anywhere | command palette: every action by name |
| f1 | anywhere | this help |
| ctrl+q | anywhere | quit (stops training first; the run is saved) |
| ← → / h l | Samples | previous / next digit |
| m | Samples | all digits ↔ mistakes only (most confident first) |
| t / p | Samples | cycle the true / predicted class filter |
| o | Samples | order by index ↔ by confidence |
| g | Samples | one large digit ↔ a grid of many |
| ↑ ↓ / enter | Samples grid | the digit above / below; show the current one large |
| c | Samples | clear the filters |
| enter | Results | show the digits of a confusion-matrix cell |
| enter / s / d | Runs | open a run / use its settings / delete it |

Bad values in the form are marked at the field, and Train stays off until every
field is valid. Runs are saved under the runs directory (`--runs-dir`), each with
its Keras model, settings, history and test results.
"""


class HelpScreen(ModalScreen[None]):
    """Keys and what they do."""

    BINDINGS = [Binding("escape,f1,q", "dismiss", "Close", id="help.close",
                        tooltip="Close the help")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog help-dialog"):
            yield Markdown(HELP)

    def on_mount(self) -> None:
        """↑/↓ and page keys scroll the help at once."""
        self.query_one(VerticalScroll).focus()
