"""The digit viewer and misclassified browser: shaded text-art digits with predictions."""

from __future__ import annotations

from typing import Any

import numpy as np
from rich.style import Style
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.widgets import Select, Static

from mnist_tui.core.evaluation import Evaluation, SampleOrder, select_samples
from mnist_tui.core.textart import halfblock_cells, render_ascii
from mnist_tui.ui.preferences import load_preferences, save_preference

ANY = "any"
GRID_CELL_WIDTH = 16  # 14 columns of a half-size digit + gap
GRID_CELL_HEIGHT = 8  # label line + 7 lines of a half-size digit


def _grey(level: float) -> str:
    value = round(min(1.0, max(0.0, level)) * 255)
    return f"rgb({value},{value},{value})"


def shaded_digit(image: np.ndarray, threshold: float = 0.35) -> Text:
    """A digit as half-blocks, white ink on black, with every pixel's grey level kept.

    The glyph (``▀ ▄ █`` or space) follows the core's thresholded half-block form, so
    the shape reads even without colour; foreground and background carry the shading.
    """
    text = Text()
    for row_number, row in enumerate(halfblock_cells(image)):
        if row_number:
            text.append("\n")
        for top, bottom in row:
            top_on, bottom_on = top >= threshold, bottom >= threshold
            if top_on and bottom_on:
                glyph, ink, paper = "█", (top + bottom) / 2, 0.0
            elif bottom_on:
                glyph, ink, paper = "▄", bottom, top
            else:
                glyph, ink, paper = "▀", top, bottom
            if not (top_on or bottom_on):
                glyph = " " if max(top, bottom) < 0.05 else "▀"
            text.append(glyph, Style.parse(f"{_grey(ink)} on {_grey(paper)}"))
    return text


def ascii_digit(image: np.ndarray) -> Text:
    """A digit in plain ASCII (the core's :func:`render_ascii` ramp, no colour), the size
    of :func:`shaded_digit`: a character per pixel column, a line per two pixel rows
    (the brighter of the two, so thin strokes stay)."""
    pixels = np.asarray(image, dtype=np.float32)
    if pixels.size and pixels.max() > 1.0:
        pixels = pixels / 255.0
    if len(pixels) % 2:
        pixels = np.vstack([pixels, np.zeros((1, pixels.shape[1]), dtype=np.float32)])
    rows = pixels.reshape(-1, 2, pixels.shape[1]).max(axis=1)
    return Text("\n".join(render_ascii(rows, double_width=False)))


def half_size(image: np.ndarray) -> np.ndarray:
    """2x2 mean pooling: a 28x28 digit becomes 14x14 for the grid."""
    pixels = np.asarray(image, dtype=np.float32)
    pooled: np.ndarray = pixels.reshape(14, 2, 14, 2).mean(axis=(1, 3))
    return pooled


def probability_bars(probabilities: np.ndarray, true_label: int, width: int = 24) -> Text:
    """One bar per class; the prediction bold, the true class marked."""
    text = Text()
    predicted = int(np.argmax(probabilities))
    for digit, p in enumerate(probabilities):
        filled = round(float(p) * width)
        colour = "green" if digit == true_label else "red" if digit == predicted else "blue"
        marker = "◀ true" if digit == true_label else ""
        style = "bold" if digit == predicted else ""
        text.append(f"{digit} ", style=style)
        text.append("█" * filled, style=colour)
        text.append("░" * (width - filled), style="dim")
        text.append(f" {float(p):6.1%} {marker}\n", style=style)
    return text


class SampleViewer(Vertical, can_focus=True):
    """Browse test digits: all or mistakes, filter by true/predicted class, sort, grid;
    drawn in half-blocks or ASCII (the user's choice, remembered as the ``digits``
    preference), under a caption naming the run."""

    DEFAULT_CSS = """
    SampleViewer #viewer-title {
        height: 1;
        text-style: bold;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    """

    ascii_digits: reactive[bool] = reactive(False, init=False)
    """Digits are drawn with an ASCII ramp instead of shaded Unicode half-blocks."""

    BINDINGS = [
        Binding("right,l,j", "move(1)", "Next", id="viewer.next", tooltip="Next sample"),
        Binding("left,h,k", "move(-1)", "Prev", id="viewer.prev", tooltip="Previous sample"),
        Binding("pagedown", "page(1)", "Page down", show=False, id="viewer.page_down",
                tooltip="Jump forward a page of samples"),
        Binding("pageup", "page(-1)", "Page up", show=False, id="viewer.page_up",
                tooltip="Jump back a page of samples"),
        Binding("home", "jump(0)", "First", show=False, id="viewer.first",
                tooltip="First sample"),
        Binding("end", "jump(-1)", "Last", show=False, id="viewer.last", tooltip="Last sample"),
        Binding("m", "toggle_mistakes", "Mistakes", id="viewer.mistakes",
                tooltip="Show all test digits or only the misclassified ones"),
        Binding("o", "toggle_order", "Order", id="viewer.order",
                tooltip="Order by index or by confidence (most confident mistakes first)"),
        Binding("t", "cycle('true')", "True", id="viewer.true",
                tooltip="Cycle the true-class filter: any, 0..9"),
        Binding("p", "cycle('pred')", "Pred", id="viewer.pred",
                tooltip="Cycle the predicted-class filter: any, 0..9"),
        Binding("c", "clear_filters", "Clear", id="viewer.clear", tooltip="Clear all filters"),
        Binding("g", "toggle_grid", "Grid", id="viewer.grid",
                tooltip="Switch between one large digit and a grid of many"),
        Binding("a", "toggle_ascii", "ASCII", id="viewer.ascii",
                tooltip="Draw digits with plain ASCII characters or shaded half-blocks "
                        "(remembered for next time)"),
        Binding("down", "row(1)", "Row down", show=False, id="viewer.row_down",
                tooltip="The digit below in the grid (the next one in the large view)"),
        Binding("up", "row(-1)", "Row up", show=False, id="viewer.row_up",
                tooltip="The digit above in the grid (the previous one in the large view)"),
        Binding("enter", "enlarge", "Enlarge", show=False, id="viewer.enlarge",
                tooltip="Show the grid's current digit large"),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._evaluation: Evaluation | None = None
        self._images: np.ndarray | None = None
        self._selection: np.ndarray = np.zeros(0, dtype=np.int64)
        self._position = 0
        self._grid = False

    def compose(self) -> ComposeResult:
        classes: list[tuple[str, Any]] = [(ANY, ANY)] + [(str(d), str(d)) for d in range(10)]
        yield Static("", id="viewer-title", markup=False)  # a run's name may hold brackets
        with Horizontal(id="viewer-filters"):
            yield Select([("all digits", "all"), ("mistakes only", "mistakes")],
                         value="all", allow_blank=False, id="filter-mode", compact=True)
            yield Select([(f"true: {label}", value) for label, value in classes], value=ANY,
                         allow_blank=False, id="filter-true", compact=True)
            yield Select([(f"pred: {label}", value) for label, value in classes], value=ANY,
                         allow_blank=False, id="filter-pred", compact=True)
            yield Select([("by index", "index"), ("surest first", "confidence")],
                         value="index", allow_blank=False, id="filter-order", compact=True)
        yield Static("No samples yet: train a model or open a saved run.", id="viewer-position",
                     markup=False)
        with Horizontal(id="viewer-body"):
            yield Static("", id="digit-art")
            yield Static("", id="digit-info")
        yield Static("", id="digit-grid")

    def on_mount(self) -> None:
        self.ascii_digits = load_preferences().get("digits") == "ascii"
        self._show_title("")

    # --- public API -----------------------------------------------------------------------

    def show_samples(self, evaluation: Evaluation, images: np.ndarray, title: str = "") -> None:
        """Browse ``images`` with the predictions in ``evaluation``; ``title`` (plain text,
        shown as written) names the run above them."""
        self._evaluation, self._images = evaluation, images
        self._show_title(title)
        self._reselect()

    def apply_filter(self, *, mistakes: bool | None = None, true_class: int | str | None = "",
                     pred_class: int | str | None = "", order: SampleOrder | None = None) -> None:
        """Set some filters (``""`` leaves a class filter as it is; ``None`` means any)."""
        with self.prevent(Select.Changed):
            if mistakes is not None:
                self.query_one("#filter-mode", Select).value = "mistakes" if mistakes else "all"
            if true_class != "":
                self.query_one("#filter-true", Select).value = (
                    ANY if true_class is None else str(true_class))
            if pred_class != "":
                self.query_one("#filter-pred", Select).value = (
                    ANY if pred_class is None else str(pred_class))
            if order is not None:
                self.query_one("#filter-order", Select).value = order
        self._reselect()

    def focus_main(self) -> None:
        """Take the focus (the viewer's keys act on it)."""
        self.focus()

    def clear(self, note: str) -> None:
        """No samples on show: ``note`` (plain text) says why."""
        self._evaluation, self._images = None, None
        self._selection = np.zeros(0, dtype=np.int64)
        self._position = 0
        self._show_title("")
        self.query_one("#viewer-position", Static).update(note)
        for part in ("#digit-art", "#digit-info", "#digit-grid"):
            self.query_one(part, Static).update("")

    @property
    def selection(self) -> np.ndarray:
        """Test indices matching the filters, in display order."""
        return self._selection

    @property
    def current_index(self) -> int | None:
        """The test index shown, if any."""
        if not len(self._selection):
            return None
        return int(self._selection[self._position])

    # --- actions ----------------------------------------------------------------------------

    def action_move(self, step: int) -> None:
        """Next or previous sample."""
        if len(self._selection):
            self._position = (self._position + step) % len(self._selection)
            self._render_current()

    def action_row(self, direction: int) -> None:
        """A grid row down or up (one sample in the large view)."""
        self.action_move(direction * (self._grid_columns() if self._grid else 1))

    def action_enlarge(self) -> None:
        """From the grid, the current digit in the large view."""
        if self._grid:
            self.action_toggle_grid()

    def action_page(self, direction: int) -> None:
        """Jump a grid page (or ten samples)."""
        self.action_move(direction * max(10, self._grid_capacity()))

    def action_jump(self, position: int) -> None:
        """First (0) or last (-1) sample."""
        if len(self._selection):
            self._position = position % len(self._selection)
            self._render_current()

    def action_toggle_mistakes(self) -> None:
        """All digits or mistakes only."""
        mode = self.query_one("#filter-mode", Select)
        mistakes = mode.value != "mistakes"
        self.apply_filter(mistakes=mistakes, order="confidence" if mistakes else None)

    def action_toggle_order(self) -> None:
        """By index or by confidence."""
        order = self.query_one("#filter-order", Select)
        self.apply_filter(order="index" if order.value == "confidence" else "confidence")

    def action_cycle(self, which: str) -> None:
        """Cycle a class filter through any, 0..9."""
        select = self.query_one(f"#filter-{which}", Select)
        current = select.value
        following = "0" if current == ANY else ANY if current == "9" else str(int(str(current)) + 1)
        with self.prevent(Select.Changed):
            select.value = following
        self._reselect()

    def action_clear_filters(self) -> None:
        """Every digit, by index."""
        self.apply_filter(mistakes=False, true_class=None, pred_class=None, order="index")

    def action_toggle_grid(self) -> None:
        """One large digit or a grid of small ones."""
        self._grid = not self._grid
        self.set_class(self._grid, "-grid")
        self.call_after_refresh(self._render_current)  # the grid's size is known after layout

    def action_toggle_ascii(self) -> None:
        """ASCII or half-block digits, remembered for the next start."""
        self.ascii_digits = not self.ascii_digits
        try:
            save_preference("digits", "ascii" if self.ascii_digits else "blocks")
        except OSError as exc:
            self.notify(f"The digit style could not be remembered: {exc}",
                        severity="warning", markup=False)

    def watch_ascii_digits(self) -> None:
        self._render_current()

    # --- internals ----------------------------------------------------------------------------

    def _show_title(self, title: str) -> None:
        caption = self.query_one("#viewer-title", Static)
        caption.update(title)
        caption.display = bool(title)

    def _digit(self, image: np.ndarray) -> Text:
        """A digit in the chosen style."""
        return ascii_digit(image) if self.ascii_digits else shaded_digit(image)

    @on(Select.Changed)
    def _filters_changed(self, event: Select.Changed) -> None:
        event.stop()
        self._reselect()

    def _filter_value(self, which: str) -> int | None:
        value = self.query_one(f"#filter-{which}", Select).value
        return None if value == ANY else int(str(value))

    def _reselect(self) -> None:
        if self._evaluation is None:
            return
        previous = self.current_index
        order: Any = self.query_one("#filter-order", Select).value
        self._selection = select_samples(
            self._evaluation,
            mistakes_only=self.query_one("#filter-mode", Select).value == "mistakes",
            true_class=self._filter_value("true"), pred_class=self._filter_value("pred"),
            order=order)
        hits = np.flatnonzero(self._selection == previous) if previous is not None else None
        self._position = int(hits[0]) if hits is not None and len(hits) else 0
        self._render_current()

    def _grid_columns(self) -> int:
        return max(1, self.query_one("#digit-grid", Static).size.width // GRID_CELL_WIDTH)

    def _grid_capacity(self) -> int:
        grid = self.query_one("#digit-grid", Static)
        width = max(grid.size.width, GRID_CELL_WIDTH)
        height = max(grid.size.height, GRID_CELL_HEIGHT)
        return (width // GRID_CELL_WIDTH) * (height // GRID_CELL_HEIGHT)

    def on_resize(self) -> None:
        self._render_current()

    def _render_current(self) -> None:
        position = self.query_one("#viewer-position", Static)
        if self._evaluation is None or self._images is None:
            return
        total = len(self._selection)
        if not total:
            position.update("No test digits match these filters (c clears them).")
            self.query_one("#digit-art", Static).update("")
            self.query_one("#digit-info", Static).update("")
            self.query_one("#digit-grid", Static).update("")
            return
        index = int(self._selection[self._position])
        style = "blocks" if self.ascii_digits else "ascii"
        position.update(f"sample {self._position + 1:,} of {total:,}   ←/→ move  m mistakes  "
                        f"t/p class  o order  g grid  a {style}  c clear")
        if self._grid:
            self._render_grid()
        else:
            self._render_single(index)

    def _render_single(self, index: int) -> None:
        assert self._evaluation is not None and self._images is not None
        evaluation = self._evaluation
        true = int(evaluation.labels[index])
        pred = int(evaluation.predictions[index])
        verdict = Text("correct", style="bold green") if true == pred else Text(
            "WRONG", style="bold red")
        header = Text.assemble(
            (f"test #{index}\n", "bold"), "true ", (str(true), "bold green"),
            "   predicted ", (str(pred), "bold" if true == pred else "bold red"), "   ",
            verdict, f"\nconfidence {float(evaluation.confidence[index]):.1%}\n\n")
        self.query_one("#digit-art", Static).update(self._digit(self._images[index]))
        header.append_text(probability_bars(evaluation.probabilities[index], true))
        self.query_one("#digit-info", Static).update(header)

    def _render_grid(self) -> None:
        assert self._evaluation is not None and self._images is not None
        evaluation = self._evaluation
        grid = self.query_one("#digit-grid", Static)
        columns = self._grid_columns()
        capacity = self._grid_capacity()
        start = (self._position // capacity) * capacity
        shown = self._selection[start:start + capacity]
        text = Text()
        for row_start in range(0, len(shown), columns):
            row = shown[row_start:row_start + columns]
            arts = [self._digit(half_size(self._images[int(i)])).split("\n") for i in row]
            for offset, i in enumerate(row):
                i = int(i)
                true, pred = int(evaluation.labels[i]), int(evaluation.predictions[i])
                label = f"{true}→{pred}" if true != pred else f"{true} ✓"
                style = "bold red" if true != pred else "green"
                if start + row_start + offset == self._position:
                    style += " reverse"
                text.append(label.ljust(GRID_CELL_WIDTH - 2)[:GRID_CELL_WIDTH - 2], style)
                text.append("  ")
            text.append("\n")
            for line in range(7):
                for art in arts:
                    text.append_text(art[line])
                    text.append("  ")
                text.append("\n")
        grid.update(text)
