"""Draw a digit: a 28x28 canvas drawn with the mouse or the keys, classified live by a
model, beside the test digits nearest to the drawing."""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.strip import Strip
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Static
from textual.worker import Worker, WorkerState

from mnist_tui.core.digits.drawing import (
    SIDE,
    NearestDigits,
    Predict,
    as_unit,
    blank_canvas,
    mnist_input,
    predictor,
    stroke,
)
from mnist_tui.core.digits.images import shown_name
from mnist_tui.core.runs.record import RunInfo
from mnist_tui.core.runs.store import RunError, RunStore
from mnist_tui.ui.screens.open_image import OpenedImage, OpenImageScreen
from mnist_tui.ui.widgets.digit_view import half_size, probability_bars, shaded_digit

CLASSIFY_INTERVAL = 0.1
"""Seconds between the starts of two classifications while the user draws (10 Hz)."""
CLASSIFY_GROUP = "draw-classify"
NEAREST_COUNT = 3
BAR_WIDTH = 24
NEAREST_CELL = 16
"""Columns of one nearest digit (a half-size digit is 14) and its gap."""
CURSOR = "rgb(255,160,0)"
MOUSE_HINT = "drag: draw · right-drag: erase"
INK_GLYPH = 90
"""Grey level (0-255) from which a pixel is drawn as a block, not only as a shade: the
drawing reads in a terminal without colour (the threshold of the Samples tab's digits)."""
FAINT = 13
"""Grey level under which a cell is left blank."""


@lru_cache(maxsize=4096)
def _cell_style(foreground: int | None, background: int, cursor: str = "") -> Style:
    """Grey ``foreground`` (or the cursor's colour) on grey ``background`` (0-255)."""
    back = Color.from_rgb(background, background, background)
    if cursor == "back":
        back = Color.parse(CURSOR)
    if cursor == "fore" or foreground is None:
        return Style(color=Color.parse(CURSOR), bgcolor=back)
    return Style(color=Color.from_rgb(foreground, foreground, foreground), bgcolor=back)


def answer_bars(probabilities: np.ndarray, width: int = BAR_WIDTH) -> Text:
    """The 10 probability bars of a drawing (no true class): the model's answer bold and
    green."""
    text = probability_bars(probabilities, -1, width)
    predicted = int(np.argmax(probabilities))
    start = sum(len(line) + 1 for line in text.plain.split("\n")[:predicted])
    text.stylize("green", start + 2, start + 2 + width)
    text.rstrip()
    return text


class DrawCanvas(Widget):
    """The 28x28 ink canvas and its keyboard cursor: 2 columns x 1 row a pixel with the
    ``-large`` class (56x28 cells), else a half-block a pixel (28x14 cells).

    Left button press and drag inks, right button erases (the mouse is captured while a
    button is down); every change posts :class:`DrawCanvas.Changed`.
    """

    ALLOW_SELECT = False
    DEFAULT_CSS = """
    DrawCanvas { width: 28; height: 14; }
    DrawCanvas.-large { width: 56; height: 28; }
    """

    cursor: reactive[tuple[int, int]] = reactive((SIDE // 2, SIDE // 2))
    """The keyboard cursor's pixel (row, column)."""
    show_cursor: reactive[bool] = reactive(False)
    """The cursor is drawn (while the keys act on the canvas)."""

    @dataclass
    class Changed(Message):
        """The ink changed: drawn, erased, cleared or loaded."""

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, DrawCanvas.Changed)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._ink = blank_canvas()
        self._drag: bool | None = None
        """While a button is down: True inking, False erasing."""
        self._last: tuple[float, float] = (0.0, 0.0)

    @property
    def ink(self) -> np.ndarray:
        """A copy of the canvas: float32 ink levels in [0, 1]."""
        return self._ink.copy()

    @property
    def large(self) -> bool:
        """Drawn 2 columns x 1 row a pixel (else half-blocks)."""
        return self.has_class("-large")

    def set_ink(self, ink: np.ndarray) -> None:
        """Replace the canvas with ``ink`` (28x28 levels in [0, 1] or uint8 grey)."""
        self._ink = as_unit(ink)
        self._changed()

    def paint(
        self, row: float, col: float, ink: bool = True, to: tuple[float, float] | None = None
    ) -> None:
        """Ink (or erase) a dab at ``(row, col)``, or a stroke from there to ``to``."""
        self._ink = stroke(self._ink, row, col, ink, to=to)
        self._changed()

    def clear(self) -> None:
        """Wipe the canvas."""
        self.set_ink(blank_canvas())

    def _changed(self) -> None:
        self.refresh()
        self.post_message(self.Changed())

    def pixel_at(self, x: int, y: int) -> tuple[float, float]:
        """The canvas point under cell ``(x, y)`` (widget coordinates): a pixel's centre,
        or in half-blocks the middle of the cell's two pixels."""
        if self.large:
            return float(y), float(x // 2)
        return 2.0 * y + 0.5, float(x)

    def on_mouse_down(self, event: events.MouseDown) -> None:
        if event.button not in (1, 3):
            return
        self._drag = event.button == 1
        self._last = self.pixel_at(event.x, event.y)
        self.capture_mouse()
        self._move_cursor_to(self._last)
        self.paint(*self._last, self._drag)

    def on_mouse_move(self, event: events.MouseMove) -> None:
        if self._drag is None:
            return
        point = self.pixel_at(event.x, event.y)
        if point != self._last:
            self.paint(*self._last, self._drag, to=point)
            self._last = point
            self._move_cursor_to(point)

    def on_mouse_up(self, event: events.MouseUp) -> None:
        if self._drag is not None:
            self._drag = None
            self.release_mouse()

    def on_mouse_release(self, event: events.MouseRelease) -> None:
        self._drag = None

    def _move_cursor_to(self, point: tuple[float, float]) -> None:
        row, col = (min(SIDE - 1, max(0, int(value))) for value in point)
        self.cursor = (row, col)

    def watch_cursor(self) -> None:
        self.refresh()

    def watch_show_cursor(self) -> None:
        self.refresh()

    def render_line(self, y: int) -> Strip:
        levels = np.rint(self._ink * 255).astype(int)
        cursor = self.cursor if self.show_cursor else None
        segments: list[Segment] = []
        if self.large:
            if y >= SIDE:
                return Strip.blank(self.size.width)
            for col in range(SIDE):
                level = int(levels[y, col])
                if cursor == (y, col):
                    segments.append(Segment("▐▌", _cell_style(None, level)))
                else:  # ink as a glyph too, so the drawing reads without colour
                    glyph = "██" if level >= INK_GLYPH else "  "
                    segments.append(Segment(glyph, _cell_style(level, level)))
        else:
            if 2 * y >= SIDE:
                return Strip.blank(self.size.width)
            for col in range(SIDE):
                top, bottom = int(levels[2 * y, col]), int(levels[2 * y + 1, col])
                mark = (
                    "fore"
                    if cursor == (2 * y, col)
                    else "back"
                    if cursor == (2 * y + 1, col)
                    else ""
                )
                if mark:
                    glyph = "▀"
                elif top >= INK_GLYPH:
                    glyph = "█" if bottom >= INK_GLYPH else "▀"
                elif bottom >= INK_GLYPH:
                    glyph, top, bottom = "▄", bottom, top
                else:  # faint or none: the shading alone (a space where nothing is)
                    glyph = "▀" if max(top, bottom) >= FAINT else " "
                segments.append(Segment(glyph, _cell_style(top, bottom, mark)))
        return Strip(segments).crop_extend(0, self.size.width, None)


NO_RUN_HINT = "Open a run or train one (ctrl+t): its model reads the drawing."
"""What the panel says with no run on show (the app names the tab and key of runs)."""


class DrawView(Vertical, can_focus=True):
    """Draw a digit and see a model classify it live, beside the nearest test digits.

    The drawing is preprocessed as MNIST's digits were (:func:`mnist_input`) and
    classified in a thread worker at most every :data:`CLASSIFY_INTERVAL` seconds;
    a result of a model or test set no longer shown is dropped. The model comes from
    :meth:`show_model`, the test digits from :meth:`set_test_digits`.
    """

    DEFAULT_CSS = """
    DrawView { height: 1fr; }
    DrawView #draw-body { height: 1fr; }
    DrawView #draw-left { width: auto; height: 1fr; margin-right: 2; }
    DrawView #draw-verdict {
        width: 28; height: 1; text-style: bold; text-wrap: nowrap; text-overflow: ellipsis;
    }
    DrawView #draw-hint { width: 28; height: auto; color: $text-muted; }
    DrawView.-large #draw-verdict, DrawView.-large #draw-hint { width: 56; }
    DrawView #draw-side { width: 1fr; height: 1fr; }
    DrawView #draw-run {
        height: 1; color: $text-muted; text-wrap: nowrap; text-overflow: ellipsis;
    }
    DrawView #draw-bars { height: 10; }
    DrawView.-large #draw-bars { height: 11; }
    DrawView #draw-nearest { height: auto; }
    DrawView:focus #draw-verdict { color: $accent; }
    """

    BINDINGS = [
        Binding(
            "up",
            "move(-1, 0)",
            "Move",
            show=False,
            id="draw.up",
            tooltip="Move the drawing cursor up a pixel",
        ),
        Binding(
            "down",
            "move(1, 0)",
            "Move",
            show=False,
            id="draw.down",
            tooltip="Move the drawing cursor down a pixel",
        ),
        Binding(
            "left",
            "move(0, -1)",
            "Move",
            show=False,
            id="draw.left",
            tooltip="Move the drawing cursor left a pixel",
        ),
        Binding(
            "right",
            "move(0, 1)",
            "Move",
            show=False,
            id="draw.right",
            tooltip="Move the drawing cursor right a pixel",
        ),
        Binding(
            "space",
            "paint(True)",
            "Paint",
            id="draw.paint",
            tooltip="Ink a dab at the cursor (or press and drag with the mouse)",
        ),
        Binding(
            "backspace",
            "paint(False)",
            "Erase",
            id="draw.erase",
            tooltip="Erase at the cursor (or drag with the right mouse button)",
        ),
        Binding("c", "clear", "Clear", id="draw.clear", tooltip="Wipe the canvas"),
        Binding(
            "t",
            "test_digit",
            "Test digit",
            id="draw.test_digit",
            tooltip="Put the next test digit on the canvas, to see how the model and "
            "the nearest digits take it",
        ),
        Binding(
            "o",
            "open_image",
            "Open image",
            id="draw.open_image",
            tooltip="Open an image file of a digit (PNG, JPEG, GIF, .npy…) on the "
            "canvas, made into a digit as a drawing is",
        ),
    ]

    @dataclass
    class Classified(Message):
        """A drawing's classification, from the worker: the preprocessed digit, the
        model's probabilities (None without a model or ink), the nearest test digits'
        indices, and the :attr:`DrawView._version` it was made for."""

        image: np.ndarray
        probabilities: np.ndarray | None
        nearest: tuple[int, ...]
        version: int

    @dataclass
    class ModelLoaded(Message):
        """A run's model, loaded in the background (or why it cannot classify)."""

        path: str
        label: str
        predict: Predict | None
        problem: str

    def __init__(self, *, id: str | None = None, no_run_hint: str = NO_RUN_HINT) -> None:
        super().__init__(id=id)
        self._no_run_hint = no_run_hint
        """What the panel says while no run is on show: how to get one."""
        self._followed: str | None = None
        """The folder of the run whose model classifies (or is being loaded)."""
        self._predict: Predict | None = None
        self._run_label = ""
        self._note = "Open a run to classify the drawing."
        self._nearest: NearestDigits | None = None
        self._test_images: np.ndarray | None = None
        self._test_labels: np.ndarray | None = None
        self._next_test = 0
        self._test_shown: int | None = None
        """The test digit loaded by ``t`` and not drawn over since."""
        self._opened: tuple[str, np.ndarray] | None = None
        """The name and ink of the image file opened by ``o`` and not drawn over since."""
        self._last_path = ""
        """The path last opened, offered again by ``o``."""
        self._version = 0
        """Changes when the model or the test digits change: older results are dropped."""
        self._busy = False
        self._dirty = False
        self._last_start = -CLASSIFY_INTERVAL
        self._timer: Timer | None = None
        self._probabilities: np.ndarray | None = None
        self._shown_nearest: tuple[int, ...] = ()
        self._image = np.zeros((SIDE, SIDE), dtype=np.uint8)
        self._error = ""

    def compose(self) -> ComposeResult:
        with Horizontal(id="draw-body"):
            with Vertical(id="draw-left"):
                yield DrawCanvas(id="draw-canvas")
                yield Static("", id="draw-verdict")
                yield Static("", id="draw-hint", markup=False)
            with Vertical(id="draw-side"):
                yield Static("", id="draw-run", markup=False)
                yield Static("", id="draw-bars")
                yield Static("", id="draw-nearest")

    def on_mount(self) -> None:
        self.query_one("#draw-hint", Static).update(self.key_hint())
        self._render_run()
        self._render_result()

    # --- public API -----------------------------------------------------------------------

    @property
    def canvas(self) -> DrawCanvas:
        """The canvas."""
        return self.query_one(DrawCanvas)

    @property
    def probabilities(self) -> np.ndarray | None:
        """The shown classification of the drawing (10 probabilities), if any."""
        return None if self._probabilities is None else self._probabilities.copy()

    @property
    def nearest(self) -> tuple[int, ...]:
        """Indices of the shown nearest test digits, nearest first."""
        return self._shown_nearest

    @property
    def model_input(self) -> np.ndarray:
        """The preprocessed drawing (uint8 28x28) the shown results were made from."""
        return self._image.copy()

    @property
    def classifying(self) -> bool:
        """A classification runs or waits to run for a change not yet shown."""
        return self._busy or self._dirty

    def show_model(self, run_label: str, predict: Predict | None, note: str = "") -> None:
        """Classify with ``predict`` (uint8 (n, 28, 28) digits to (n, 10) probabilities),
        naming the run ``run_label`` (plain text); with None, show ``note`` instead of
        probabilities (``Loading the model…``)."""
        self._run_label, self._predict = run_label, predict
        self._note = note or "No model to classify the drawing."
        self._version += 1
        self._error = ""
        self._probabilities = None
        self._render_run()
        self._render_result()
        self._request()

    def follow_run(self, run: RunInfo | None, store: RunStore) -> None:
        """Classify with ``run``'s saved model, loaded in a thread the first time (Keras
        and TensorFlow start then, if nothing has started them); the panel says so
        meanwhile. ``None``: no run on show, and a note says how to get one."""
        if run is None:
            self._followed = None
            self.show_model("", None, self._no_run_hint)
            return
        if str(run.path) == self._followed:
            return
        self._followed = str(run.path)
        self.show_model(
            run.label, None, "Loading the model (TensorFlow starts on first use, a few seconds)…"
        )
        self._load_model(run, store)

    @work(
        thread=True,
        exclusive=True,
        exit_on_error=False,
        group="draw-model",
        description="Load the model to draw with",
    )
    def _load_model(self, run: RunInfo, store: RunStore) -> None:
        try:
            predict = predictor(store.load_model(run))
        except RunError as exc:
            self.post_message(
                self.ModelLoaded(
                    str(run.path), run.label, None, f"Its model cannot classify: {exc}"
                )
            )
            return
        self.post_message(self.ModelLoaded(str(run.path), run.label, predict, ""))

    @on(ModelLoaded)
    def _model_loaded(self, message: ModelLoaded) -> None:
        if message.path == self._followed:  # not a run left meanwhile
            self.show_model(message.label, message.predict, message.problem)

    def focus_main(self) -> None:
        """The view takes the keys (arrows, space, backspace, c, t, o)."""
        self.focus()

    def set_test_digits(self, x_test: np.ndarray, y_test: np.ndarray) -> None:
        """The test digits (uint8 (n, 28, 28), labels (n,)) searched for the nearest to
        the drawing, and offered by ``t``. The same array again changes nothing."""
        if self._test_images is x_test:
            return
        self._nearest = NearestDigits(x_test)
        self._test_images, self._test_labels = np.asarray(x_test), np.asarray(y_test)
        self._next_test = 0
        self._version += 1
        self._shown_nearest = ()
        self._render_result()
        self._request()

    def load_image(self, image: np.ndarray) -> None:
        """Put a 28x28 digit (uint8 grey levels or ink levels in [0, 1]) on the canvas."""
        self._test_shown = None
        self._opened = None
        self.canvas.set_ink(image)

    def open_image(self, opened: OpenedImage) -> None:
        """Put an opened image file's digit on the canvas, named in the verdict until it
        is drawn over."""
        self._last_path = str(opened.path)
        self.load_image(opened.digit)
        self._opened = (shown_name(opened.path.name), self.canvas.ink)

    def key_hint(self) -> str:
        """The keys in a line, read from the bindings (one entry per description)."""
        keys: dict[str, list[str]] = {}
        for binding in Binding.make_bindings(self.BINDINGS):
            keys.setdefault(binding.description.lower(), []).append(
                self.app.get_key_display(binding)
            )
        listed = [
            f"{''.join(k) if all(len(x) == 1 for x in k) else '/'.join(k)} {what}"
            for what, k in keys.items()
        ]
        return " · ".join([*listed, MOUSE_HINT])

    # --- actions --------------------------------------------------------------------------

    def action_move(self, rows: int, cols: int) -> None:
        row, col = self.canvas.cursor
        self.canvas.cursor = (min(SIDE - 1, max(0, row + rows)), min(SIDE - 1, max(0, col + cols)))

    def action_paint(self, ink: bool) -> None:
        row, col = self.canvas.cursor
        self.canvas.paint(row, col, ink)

    def action_clear(self) -> None:
        self.canvas.clear()

    def action_open_image(self) -> None:
        def opened(result: OpenedImage | None) -> None:
            if result is not None:
                self.open_image(result)

        self.app.push_screen(OpenImageScreen(self._last_path), opened)

    def action_test_digit(self) -> None:
        if self._test_images is None or not len(self._test_images):
            self.notify("No test digits loaded yet.", severity="warning")
            return
        index = self._next_test % len(self._test_images)
        self._next_test = index + 1
        self.load_image(self._test_images[index])
        self._test_shown = index

    # --- focus and layout -----------------------------------------------------------------

    def on_focus(self) -> None:
        self.canvas.show_cursor = True

    def on_blur(self) -> None:
        self.canvas.show_cursor = False

    def on_resize(self, event: events.Resize) -> None:
        large = event.size.height >= SIDE + 4 and event.size.width >= 2 * SIDE + 2 + 48
        self.set_class(large, "-large")
        self.canvas.set_class(large, "-large")
        self._render_result()

    # --- classification -------------------------------------------------------------------

    @on(DrawCanvas.Changed)
    def _canvas_changed(self, event: DrawCanvas.Changed) -> None:
        event.stop()
        shown = self._test_shown
        if (
            shown is not None
            and self._test_images is not None
            and not np.array_equal(self.canvas.ink, as_unit(self._test_images[shown]))
        ):
            self._test_shown = None
        if self._opened is not None and not np.array_equal(self.canvas.ink, self._opened[1]):
            self._opened = None
        self._request()

    def _request(self) -> None:
        """Classify the drawing soon: now, or when the interval since the last start is
        over, or when the running classification ends."""
        self._dirty = True
        self._schedule()

    def _schedule(self) -> None:
        if self._busy or not self._dirty or self._timer is not None:
            return
        wait = self._last_start + CLASSIFY_INTERVAL - time.monotonic()
        if wait > 0:
            self._timer = self.set_timer(wait, self._timer_done)
            return
        self._dirty, self._busy = False, True
        self._last_start = time.monotonic()
        self._classify(self.canvas.ink, self._predict, self._nearest, self._version)

    def _timer_done(self) -> None:
        self._timer = None
        self._schedule()

    @work(
        thread=True,
        exclusive=True,
        exit_on_error=False,
        group=CLASSIFY_GROUP,
        description="Classifying the drawing",
    )
    def _classify(
        self, ink: np.ndarray, predict: Predict | None, nearest: NearestDigits | None, version: int
    ) -> None:
        image = mnist_input(ink)
        empty = not image.any()
        probabilities = None
        if predict is not None and not empty:
            probabilities = np.asarray(predict(image[None]), dtype=np.float32)[0]
        found = (
            ()
            if nearest is None or empty
            else tuple(int(i) for i in nearest.query(image, NEAREST_COUNT))
        )
        self.post_message(self.Classified(image, probabilities, found, version))

    @on(Classified)
    def _classified(self, message: DrawView.Classified) -> None:
        message.stop()
        self._busy = False
        if message.version == self._version:
            self._error = ""
            self._image = message.image
            self._probabilities = message.probabilities
            self._shown_nearest = message.nearest
            self._render_result()
        self._schedule()

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != CLASSIFY_GROUP:
            return
        if event.state in (WorkerState.ERROR, WorkerState.CANCELLED):
            self._busy = False
            if event.state == WorkerState.ERROR:
                error = event.worker.error
                self._error = f"The model could not classify the drawing: {error}"
                self._probabilities = None
                self._render_result()
            self._schedule()

    # --- rendering ------------------------------------------------------------------------

    def _render_run(self) -> None:
        self.query_one("#draw-run", Static).update(
            f"run: {self._run_label}" if self._run_label else "no run open"
        )

    def _render_result(self) -> None:
        verdict = self.query_one("#draw-verdict", Static)
        bars = self.query_one("#draw-bars", Static)
        empty = not self._image.any()
        label = ""
        if self._test_shown is not None and self._test_labels is not None:
            label = f"test #{self._test_shown} (a {int(self._test_labels[self._test_shown])})"
        elif self._opened is not None:
            label = self._opened[0]
        if self._error:
            verdict.update(Text("Classification failed", style="bold red"))
            bars.update(Text(self._error, style="red"))
        elif empty:
            verdict.update(Text("Draw a digit"))
            bars.update(
                Text(
                    self._note
                    if self._predict is None
                    else "The model's answer shows here as you draw."
                )
            )
        elif self._predict is None or self._probabilities is None:
            verdict.update(Text(label))
            bars.update(Text(self._note if self._predict is None else "Classifying…"))
        else:
            predicted = int(np.argmax(self._probabilities))
            answer = f"{predicted} · {float(self._probabilities[predicted]):.1%}"
            verdict.update(Text(f"{label} → {answer}" if label else f"Predicted {answer}"))
            bars.update(answer_bars(self._probabilities))
        self.query_one("#draw-nearest", Static).update(self._nearest_text())

    def _nearest_text(self) -> Text:
        """Three half-size digits under their labels; a heading above when there is room."""
        text = Text("Nearest test digits\n", style="bold") if self.has_class("-large") else Text()
        if self._test_images is None or self._test_labels is None:
            text.append("No test digits to compare with yet.", style="dim")
            return text
        if not self._shown_nearest:
            text.append("The nearest test digits show here as you draw.", style="dim")
            return text
        arts = [
            shaded_digit(half_size(self._test_images[i])).split("\n") for i in self._shown_nearest
        ]
        for index in self._shown_nearest:
            first = index == self._shown_nearest[0] and not self.has_class("-large")
            caption = Text.assemble(
                ("nearest " if first else "", "dim"),
                (str(int(self._test_labels[index])), "bold"),
                f" #{index}",
            )
            caption.truncate(NEAREST_CELL, pad=True)
            text.append_text(caption)
        for line in range(len(arts[0])):
            text.append("\n")
            for art in arts:
                text.append_text(art[line])
                text.append(" " * (NEAREST_CELL - art[line].cell_len))
        return text
