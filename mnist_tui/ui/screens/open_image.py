"""A dialog to open an image file of a digit onto the Draw tab's canvas."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static
from textual.worker import Worker, WorkerState

from mnist_tui.core.digits.images import ImageError, read_digit, shown_name

READ_GROUP = "open-image"


@dataclass(frozen=True)
class OpenedImage:
    """What the dialog returns: the file and its digit (uint8 28x28, preprocessed as a
    drawing is)."""

    path: Path
    digit: np.ndarray


class OpenImageScreen(ModalScreen[OpenedImage | None]):
    """Ask for an image file and read it in a thread; dismisses with the digit, or
    ``None`` if cancelled. A file that cannot be read says why here and the dialog stays."""

    BINDINGS = [
        Binding(
            "escape",
            "cancel",
            "Cancel",
            id="open_image.cancel",
            tooltip="Close without opening an image",
        )
    ]

    def __init__(self, start: str = "") -> None:
        super().__init__()
        self._start = start

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(
                "Open an image of one digit (PNG, JPEG, BMP, GIF, PGM, TIFF, WebP "
                "or a 2-D .npy), dark on light or light on dark; it is cropped, "
                "fitted and centred as a drawing is.",
                classes="dialog-text",
                markup=False,
            )
            yield Input(self._start, placeholder="path/to/digit.png", id="open-path")
            yield Static("", id="open-error", classes="dialog-error", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Open", id="open", variant="primary")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    @property
    def problem(self) -> str:
        """Why the last file could not be opened ("" if none)."""
        return str(self.query_one("#open-error", Static).render())

    def _say(self, text: str) -> None:
        self.query_one("#open-error", Static).update(text)

    @on(Input.Submitted)
    @on(Button.Pressed, "#open")
    def _submit(self) -> None:
        text = self.query_one(Input).value.strip()
        if not text:
            self._say("Type the path of an image file.")
            return
        self._say("Reading…")
        self.query_one("#open", Button).disabled = True
        self._read(Path(text).expanduser())

    @work(
        thread=True,
        exclusive=True,
        exit_on_error=False,
        group=READ_GROUP,
        description="Read the image",
    )
    def _read(self, path: Path) -> OpenedImage:
        return OpenedImage(path, read_digit(path))

    @on(Worker.StateChanged)
    def _read_done(self, event: Worker.StateChanged) -> None:
        if event.worker.group != READ_GROUP:
            return
        event.stop()  # a file that cannot be read is said here, not by the app's handler
        if event.state == WorkerState.SUCCESS and isinstance(event.worker.result, OpenedImage):
            self.dismiss(event.worker.result)
        elif event.state == WorkerState.ERROR:
            error = event.worker.error
            reason = (
                str(error)
                if isinstance(error, ImageError)
                else (f"it could not be read ({type(error).__name__}: {error})")
            )
            self._say(shown_name(f"{self.query_one(Input).value.strip()}: {reason}"))
            self.query_one("#open", Button).disabled = False

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        """Close without opening an image."""
        self.dismiss(None)
