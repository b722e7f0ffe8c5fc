"""A dialog to name a run, write a note on it and tag it."""

from __future__ import annotations

from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from mnist_tui.core.runs.annotations import MAX_NAME, MAX_NOTE, Annotation, AnnotationError
from mnist_tui.core.runs.record import RunInfo


@dataclass(frozen=True)
class AnnotationEdit:
    """What the dialog returns: the run and its new name, note and tags."""

    run: RunInfo
    annotation: Annotation


class AnnotateScreen(ModalScreen[AnnotationEdit | None]):
    """Edit a run's name, note and tags; dismisses with the edit, or ``None`` if cancelled.

    The values are checked as typed (the same rules as ``mnist-tui annotate``), so Save
    only returns what can be kept.
    """

    BINDINGS = [
        Binding(
            "escape",
            "cancel",
            "Cancel",
            id="annotate.cancel",
            tooltip="Close without changing the run",
        )
    ]

    def __init__(self, run: RunInfo) -> None:
        super().__init__()
        self._run = run

    def compose(self) -> ComposeResult:
        note = self._run.annotation
        with Vertical(classes="dialog"):
            yield Static(f"Run {self._run.run_id}", markup=False)
            yield Label("Name")
            yield Input(note.name, max_length=MAX_NAME, id="annotate-name")
            yield Label("Note")
            yield Input(note.note, max_length=MAX_NOTE, id="annotate-note")
            yield Label("Tags (comma-separated)")
            yield Input(", ".join(note.tags), id="annotate-tags")
            yield Static("", id="annotate-error", classes="dialog-error", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Save", id="save", variant="primary")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#annotate-name", Input).focus()

    def _edit(self) -> AnnotationEdit | None:
        try:
            annotation = Annotation.of(
                self.query_one("#annotate-name", Input).value,
                self.query_one("#annotate-note", Input).value,
                [self.query_one("#annotate-tags", Input).value],
            )
        except AnnotationError as exc:
            self.query_one("#annotate-error", Static).update(str(exc))
            return None
        self.query_one("#annotate-error", Static).update("")
        return AnnotationEdit(self._run, annotation)

    @on(Input.Changed)
    def _changed(self) -> None:
        self._edit()

    @on(Input.Submitted)
    @on(Button.Pressed, "#save")
    def _save(self) -> None:
        edit = self._edit()
        if edit is not None:
            self.dismiss(edit)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        """Close without a change."""
        self.dismiss(None)
