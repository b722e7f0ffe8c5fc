"""A dialog that exports a run's model (SavedModel, ONNX, LiteRT), verified, and shows
the verification's figures and the input contract."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, LoadingIndicator, RadioButton, RadioSet, Static

from mnist_tui.core.engine.exports import (
    RUNTIMES,
    ExportError,
    ExportFormat,
    ExportResult,
    check_destination,
)
from mnist_tui.core.runs.record import RunInfo
from mnist_tui.core.runs.store import RunError, RunStore

FORMAT_LABELS: dict[ExportFormat, str] = {
    "onnx": "ONNX (onnxruntime, most runtimes)",
    "tflite": "LiteRT / TFLite (phones, microcontrollers)",
    "savedmodel": "SavedModel (TensorFlow, TF Serving)",
}
"""The choices in the order shown, the first chosen at the start (a radio set's cursor
starts on its first button)."""
CHOICES: tuple[ExportFormat, ...] = tuple(FORMAT_LABELS)


def export_summary(result: ExportResult) -> str:
    """What a verified export is and takes, in a few lines."""
    check = result.verification
    shape = "x".join("N" if d is None else str(d) for d in result.input.shape)
    return (
        f"Verified by {RUNTIMES[result.format]}: argmax agrees on {check.agree:,} of "
        f"{check.digits:,} test digits; probabilities within "
        f"{check.max_difference:.1e}.\n"
        f"Input {result.input.name}: {result.input.dtype} {shape}, grey level / 255 "
        "(0 paper, 1 ink: white on black, as MNIST).\n"
        f"Output {result.output.name}: {result.output.dtype} Nx10, probabilities of "
        "0-9.\n"
        f"Written to {result.path} ({result.size / 1e6:.1f} MB, "
        f"{result.seconds:.1f} s); its README.md says how to run it."
    )


class ExportScreen(ModalScreen[None]):
    """Choose a format and a new folder, export, and watch the conversion and the
    verification on the test digits; a failure is shown here, and nothing is left."""

    BINDINGS = [
        Binding(
            "escape",
            "close",
            "Close",
            id="export.close",
            tooltip="Close (an export under way finishes first)",
        )
    ]

    @dataclass
    class Stage(Message):
        """The export reached ``stage`` (said to the user as it is)."""

        stage: str

    @dataclass
    class Done(Message):
        """The export is in place (``result``) or failed (``error``)."""

        result: ExportResult | None
        error: str = ""

    def __init__(
        self, run: RunInfo, store: RunStore, x_test: np.ndarray, folder: Path | None = None
    ) -> None:
        super().__init__()
        self._run, self._store, self._x_test = run, store, x_test
        self._folder = folder if folder is not None else Path.cwd()
        self._busy = False

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog export-dialog"):
            yield Static(
                f"Export the model of {self._run.label}", classes="dialog-title", markup=False
            )
            with RadioSet(id="export-format"):
                for index, fmt in enumerate(CHOICES):
                    yield RadioButton(FORMAT_LABELS[fmt], value=index == 0, name=fmt)
            yield Label(f"New folder (in {self._folder})", markup=False)
            yield Input(self._default_name(CHOICES[0]), id="export-path")
            yield Static("", id="export-error", classes="dialog-error", markup=False)
            yield LoadingIndicator(id="export-busy")
            yield Static("", id="export-status", classes="dialog-text", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Export", id="export", variant="primary")
                yield Button("Close", id="close")

    def on_mount(self) -> None:
        self.query_one("#export-busy").display = False
        self.query_one(RadioSet).focus()
        self._check()

    @property
    def format(self) -> ExportFormat:
        """The chosen format."""
        pressed = self.query_one(RadioSet).pressed_index
        return CHOICES[max(pressed, 0)]

    @property
    def destination(self) -> Path:
        """The folder to create, as typed (relative to the dialog's folder)."""
        return self._folder / self.query_one("#export-path", Input).value.strip()

    def _default_name(self, fmt: ExportFormat) -> str:
        return f"{self._run.run_id}-{fmt}"

    @on(RadioSet.Changed)
    def _format_changed(self, event: RadioSet.Changed) -> None:
        field = self.query_one("#export-path", Input)
        if field.value in {self._default_name(fmt) for fmt in CHOICES}:
            field.value = self._default_name(self.format)  # a name the user typed stays
        self._check()

    @on(Input.Changed)
    def _check(self) -> bool:
        """Whether the folder can be created; the reason shown at the field if not."""
        problem = ""
        if not self.query_one("#export-path", Input).value.strip():
            problem = "Give the new folder a name."
        else:
            try:
                check_destination(self.destination)
            except ExportError as exc:
                problem = str(exc)
        self.query_one("#export-error", Static).update(problem)
        self.query_one("#export", Button).disabled = bool(problem) or self._busy
        return not problem

    @on(Input.Submitted)
    @on(Button.Pressed, "#export")
    def _start(self) -> None:
        if self._busy or not self._check():
            return
        self._busy = True
        self.query_one("#export", Button).disabled = True
        self.query_one("#export-busy").display = True
        self.query_one("#export-status", Static).update("Loading the model...")
        self._export(self.format, self.destination)

    @work(thread=True, exclusive=True, exit_on_error=False, group="export")
    def _export(self, fmt: ExportFormat, out: Path) -> None:
        """Load the run's model, export and verify it (TensorFlow: in a thread)."""
        try:
            model = self._store.load_model(self._run)
            from mnist_tui.core.engine.exports import export_model

            def progress(stage: str) -> None:
                self.post_message(self.Stage(stage))

            result = export_model(
                model, self._run.config, self._run.run_id, fmt, out, self._x_test, progress=progress
            )
        except (ExportError, RunError) as exc:
            self.post_message(self.Done(None, str(exc)))
            return
        self.post_message(self.Done(result))

    @on(Stage)
    def _stage(self, message: Stage) -> None:
        self.query_one("#export-status", Static).update(f"{message.stage.capitalize()}...")

    @on(Done)
    def _done(self, message: Done) -> None:
        self._busy = False
        self.query_one("#export-busy").display = False
        status = self.query_one("#export-status", Static)
        if message.result is None:
            status.update(f"The export failed: {message.error}")
            status.add_class("dialog-error")
            self._check()
            return
        status.remove_class("dialog-error")
        status.update(export_summary(message.result))
        # The folder now exists: another export needs another name (checked as typed).
        self.query_one("#export", Button).disabled = True
        self.query_one("#close", Button).focus()
        self.notify(
            f"Exported {self._run.label} as {message.result.format} to {message.result.path}",
            markup=False,
        )

    @on(Button.Pressed, "#close")
    def action_close(self) -> None:
        """Close, unless an export is under way."""
        if self._busy:
            self.notify(
                "The export finishes in a few seconds; then close.",
                severity="warning",
                markup=False,
            )
            return
        self.dismiss(None)
