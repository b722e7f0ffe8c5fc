"""The Samples tab: the test digits of the run on show (all or mistakes, filtered, sorted,
one large or a grid), and the browser of where compared runs disagree."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import numpy as np
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Select, Static

from mnist_tui.core.engine.evaluation import Evaluation, SampleOrder, select_samples
from mnist_tui.core.runs.comparison import (
    DISAGREEMENT_SETS,
    DisagreementSet,
    disagreement,
    disagreement_samples,
    run_pairs,
)
from mnist_tui.tables import run_letter
from mnist_tui.ui.preferences import load_preferences, save_preference
from mnist_tui.ui.widgets.digit_view import (
    ascii_digit,
    half_size,
    paired_probability_bars,
    probability_bars,
    set_caption,
    shaded_digit,
)

ANY = "any"
GRID_CELL_WIDTH = 16  # a gap (the current cell's mark) + 14 columns of a half-size digit
GRID_CELL_HEIGHT = 7
"""Lines of a half-size digit; its caption (``7→1``) sits on the first, which is blank
there in all but about 1 in 1,000 test digits. Comparing runs, the longer caption takes a
line of its own above."""
SET_KEYS: dict[DisagreementSet, str] = {"a_only": "f", "b_only": "s", "both_wrong": "w"}
"""The key that browses each set of disagreements (as its binding says)."""
COMPARE_ACTIONS = frozenset({"browse", "cycle_pair", "leave_comparison"})
"""Actions that act only while two runs' disagreements are browsed."""


class SampleViewer(Vertical, can_focus=True):
    """Browse test digits: all or mistakes, filter by true/predicted class, sort, grid;
    drawn in half-blocks or ASCII (the user's choice, remembered as the ``digits``
    preference), under a caption naming the run.

    Or, after :meth:`show_disagreements`, the digits where a pair of compared runs
    disagree, one set at a time, each digit with both runs' predictions; leaving that
    (escape, :meth:`leave_comparison`, or showing a run) returns to the run's digits.
    """

    DEFAULT_CSS = """
    SampleViewer #viewer-title {
        height: 1;
        text-style: bold;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    SampleViewer.-comparing #viewer-title { height: 2; }
    SampleViewer #filter-pair, SampleViewer #viewer-sets { display: none; }
    SampleViewer.-comparing #filter-pair, SampleViewer.-comparing #viewer-sets {
        display: block;
    }
    SampleViewer.-comparing #filter-mode { display: none; }
    SampleViewer #viewer-sets { height: 1; text-wrap: nowrap; text-overflow: ellipsis; }
    SampleViewer {
        height: 1fr;
    }

    SampleViewer:focus-within #viewer-position {
        color: $text;
    }

    #viewer-filters {
        height: auto;
    }

    #viewer-filters Select {
        width: 1fr;
        max-width: 26;
        margin-right: 1;
    }

    #viewer-position {
        height: 1;
        color: $text-muted;
    }

    #viewer-body {
        height: 1fr;
    }

    #digit-art {
        width: 30;
        height: 16;
        margin: 1 2 0 0;
        border: round $primary;
        padding: 0;
    }

    #digit-info {
        width: 1fr;
        padding-top: 1;
    }

    #digit-grid {
        display: none;
        height: 1fr;
    }

    SampleViewer.-grid #viewer-body {
        display: none;
    }

    SampleViewer.-grid #digit-grid {
        display: block;
    }
    """

    ascii_digits: reactive[bool] = reactive(False, init=False)
    """Digits are drawn with an ASCII ramp instead of shaded Unicode half-blocks."""
    comparing: reactive[bool] = reactive(False, init=False, bindings=True)
    """Browsing where two compared runs disagree, not the digits of the run on show."""
    browse_set: reactive[DisagreementSet] = reactive[DisagreementSet]("a_only", init=False)
    """Which disagreements are browsed: the first run right and the second wrong
    (``a_only``), the other way round (``b_only``), or both wrong."""
    pair: reactive[tuple[int, int]] = reactive((0, 1), init=False)
    """The compared runs browsed, as indices among them (first, second)."""

    BINDINGS = [
        # The comparison's keys come first (they show only while comparing, and then
        # lead the footer).
        Binding(
            "escape",
            "leave_comparison",
            "Back",
            id="viewer.leave",
            tooltip="Comparing runs: back to the comparison (this tab goes back to the "
            "digits of the run on show)",
        ),
        Binding(
            "f",
            "browse('a_only')",
            "1st right",
            id="viewer.first_right",
            tooltip="Comparing runs: the digits the first run gets right and the second wrong",
        ),
        Binding(
            "s",
            "browse('b_only')",
            "2nd right",
            id="viewer.second_right",
            tooltip="Comparing runs: the digits the second run gets right and the first wrong",
        ),
        Binding(
            "w",
            "browse('both_wrong')",
            "Both wrong",
            id="viewer.both_wrong",
            tooltip="Comparing runs: the digits both runs get wrong",
        ),
        Binding(
            "b",
            "cycle_pair",
            "Pair",
            id="viewer.pair",
            tooltip="Comparing three or more runs: the next pair (A-B, A-C, … B-C, …)",
        ),
        Binding("right,l,j", "move(1)", "Next", id="viewer.next", tooltip="Next sample"),
        Binding("left,h,k", "move(-1)", "Prev", id="viewer.prev", tooltip="Previous sample"),
        Binding(
            "pagedown",
            "page(1)",
            "Page down",
            show=False,
            id="viewer.page_down",
            tooltip="Jump forward a page of samples",
        ),
        Binding(
            "pageup",
            "page(-1)",
            "Page up",
            show=False,
            id="viewer.page_up",
            tooltip="Jump back a page of samples",
        ),
        Binding("home", "jump(0)", "First", show=False, id="viewer.first", tooltip="First sample"),
        Binding("end", "jump(-1)", "Last", show=False, id="viewer.last", tooltip="Last sample"),
        Binding(
            "m",
            "toggle_mistakes",
            "Mistakes",
            id="viewer.mistakes",
            tooltip="Show all test digits or only the misclassified ones",
        ),
        Binding(
            "o",
            "toggle_order",
            "Order",
            id="viewer.order",
            tooltip="Order by index or by confidence (most confident mistakes first)",
        ),
        Binding(
            "t",
            "cycle('true')",
            "True",
            id="viewer.true",
            tooltip="Cycle the true-class filter: any, 0..9",
        ),
        Binding(
            "p",
            "cycle('pred')",
            "Pred",
            id="viewer.pred",
            tooltip="Cycle the predicted-class filter: any, 0..9 (comparing runs: the "
            "wrong answer)",
        ),
        Binding("c", "clear_filters", "Clear", id="viewer.clear", tooltip="Clear all filters"),
        Binding(
            "g",
            "toggle_grid",
            "Grid",
            id="viewer.grid",
            tooltip="Switch between one large digit and a grid of many",
        ),
        Binding(
            "a",
            "toggle_ascii",
            "ASCII",
            id="viewer.ascii",
            tooltip="Draw digits with plain ASCII characters or shaded half-blocks "
            "(remembered for next time)",
        ),
        Binding(
            "i",
            "inside",
            "Inside",
            id="viewer.inside",
            tooltip="Where the model on show looks in this digit, in the Inside tab",
        ),
        Binding(
            "down",
            "row(1)",
            "Row down",
            show=False,
            id="viewer.row_down",
            tooltip="The digit below in the grid (the next one in the large view)",
        ),
        Binding(
            "up",
            "row(-1)",
            "Row up",
            show=False,
            id="viewer.row_up",
            tooltip="The digit above in the grid (the previous one in the large view)",
        ),
        Binding(
            "enter",
            "enlarge",
            "Enlarge",
            show=False,
            id="viewer.enlarge",
            tooltip="Show the grid's current digit large",
        ),
    ]

    class ComparisonLeft(Message):
        """The user left the compared runs' disagreements (escape): back to the comparison."""

    class InsideAsked(Message):
        """The user asked to see where the model looks in test digit ``index`` (``i``)."""

        def __init__(self, index: int) -> None:
            super().__init__()
            self.index = index

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._evaluation: Evaluation | None = None
        self._images: np.ndarray | None = None
        self._selection: np.ndarray = np.zeros(0, dtype=np.int64)
        self._position = 0
        self._grid = False
        self._title = ""
        self._compared: tuple[Evaluation, ...] = ()
        """The compared runs' test results, while :attr:`comparing`."""
        self._names: tuple[str, ...] = ()
        """The compared runs' names (plain text)."""
        self._single_filters: tuple[Any, Any, Any] | None = None
        """The run's class and order filters, put back when the comparison is left."""

    def compose(self) -> ComposeResult:
        classes: list[tuple[str, Any]] = [(ANY, ANY)] + [(str(d), str(d)) for d in range(10)]
        yield Static("", id="viewer-title", markup=False)  # a run's name may hold brackets
        with Horizontal(id="viewer-filters"):
            yield Select(
                [("A vs B", "0-1")], value="0-1", allow_blank=False, id="filter-pair", compact=True
            )
            yield Select(
                [("all digits", "all"), ("mistakes only", "mistakes")],
                value="all",
                allow_blank=False,
                id="filter-mode",
                compact=True,
            )
            yield Select(
                [(f"true: {label}", value) for label, value in classes],
                value=ANY,
                allow_blank=False,
                id="filter-true",
                compact=True,
            )
            yield Select(
                [(f"pred: {label}", value) for label, value in classes],
                value=ANY,
                allow_blank=False,
                id="filter-pred",
                compact=True,
            )
            yield Select(
                [("by index", "index"), ("surest first", "confidence")],
                value="index",
                allow_blank=False,
                id="filter-order",
                compact=True,
            )
        yield Static("", id="viewer-sets", markup=False)
        yield Static(
            "No samples yet: train a model or open a saved run.", id="viewer-position", markup=False
        )
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
        shown as written) names the run above them. Leaves a comparison."""
        self._evaluation, self._images = evaluation, images
        self._title = title
        if self.comparing:
            self.leave_comparison()
            return
        self._show_title(title)
        self._reselect()

    def show_disagreements(
        self,
        evaluations: Sequence[Evaluation],
        names: Sequence[str],
        images: np.ndarray,
        pair: tuple[int, int] = (0, 1),
    ) -> None:
        """Browse where compared runs disagree: ``evaluations`` on the test ``images``, the
        runs named A, B… and ``names`` (plain text); ``pair`` first, its first run right
        and second wrong, the surest wrong answers first; class filters cleared."""
        if len(evaluations) < 2 or len(names) != len(evaluations):
            raise ValueError("a comparison needs two or more runs, each with its name")
        if not self.comparing:
            true, pred, order = (
                self.query_one(f"#filter-{which}", Select).value
                for which in ("true", "pred", "order")
            )
            self._single_filters = (true, pred, order)
        self._compared, self._names, self._images = tuple(evaluations), tuple(names), images
        self._selection, self._position = np.zeros(0, dtype=np.int64), 0  # from the top
        options = [
            (f"{run_letter(a)} vs {run_letter(b)}", f"{a}-{b}")
            for a, b in run_pairs(len(evaluations))
        ]
        with self.prevent(Select.Changed):
            pairs = self.query_one("#filter-pair", Select)
            pairs.set_options(options)
            pairs.value = f"{pair[0]}-{pair[1]}"
            for which in ("true", "pred"):
                self.query_one(f"#filter-{which}", Select).value = ANY
            self.query_one("#filter-order", Select).value = "confidence"
        self.set_reactive(SampleViewer.pair, pair)
        self.set_reactive(SampleViewer.browse_set, "a_only")
        self.comparing = True
        self._show_comparison()

    def leave_comparison(self) -> None:
        """Back to the digits of the run on show (or the note that there is none), with
        the filters it had."""
        if not self.comparing:
            return
        self.comparing = False
        self._compared, self._names = (), ()
        if self._single_filters is not None:
            with self.prevent(Select.Changed):
                for which, value in zip(
                    ("true", "pred", "order"), self._single_filters, strict=True
                ):
                    self.query_one(f"#filter-{which}", Select).value = value
            self._single_filters = None
        if self._evaluation is None:
            self.clear("No samples yet: train a model or open a saved run.")
            return
        self._show_title(self._title)
        self._reselect()

    def set_counts(self) -> dict[DisagreementSet, int]:
        """How many digits are in each set of the pair browsed (none when not comparing)."""
        if not self.comparing:
            return {}
        found = disagreement(list(self._compared), *self.pair)
        return {which: len(found.indices(which)) for which in DISAGREEMENT_SETS}

    def apply_filter(
        self,
        *,
        mistakes: bool | None = None,
        true_class: int | str | None = "",
        pred_class: int | str | None = "",
        order: SampleOrder | None = None,
    ) -> None:
        """Set some filters (``""`` leaves a class filter as it is; ``None`` means any).

        Choosing all digits or mistakes (``mistakes`` not ``None``) is about the run on
        show: it leaves a comparison first.
        """
        if mistakes is not None:
            self.leave_comparison()
        with self.prevent(Select.Changed):
            if mistakes is not None:
                self.query_one("#filter-mode", Select).value = "mistakes" if mistakes else "all"
            if true_class != "":
                self.query_one("#filter-true", Select).value = (
                    ANY if true_class is None else str(true_class)
                )
            if pred_class != "":
                self.query_one("#filter-pred", Select).value = (
                    ANY if pred_class is None else str(pred_class)
                )
            if order is not None:
                self.query_one("#filter-order", Select).value = order
        self._reselect()

    def focus_main(self) -> None:
        """Take the focus (the viewer's keys act on it)."""
        self.focus()

    def clear(self, note: str) -> None:
        """No samples on show: ``note`` (plain text) says why. Leaves a comparison."""
        self._evaluation, self._images, self._title = None, None, ""
        self._compared, self._names, self._single_filters = (), (), None
        self.comparing = False
        self._selection = np.zeros(0, dtype=np.int64)
        self._position = 0
        self._show_title("")
        self.query_one("#viewer-position", Static).update(note)
        for part in ("#digit-art", "#digit-info", "#digit-grid"):
            self.query_one(part, Static).update("")

    def show_index(self, index: int) -> None:
        """Show test digit ``index`` of the run on show (leaving a comparison): the
        filters that would hide it are cleared."""
        self.leave_comparison()
        if self._evaluation is None or not 0 <= index < len(self._evaluation.predictions):
            return
        if not (self._selection == index).any():
            self.apply_filter(mistakes=False, true_class=None, pred_class=None)
        hits = np.flatnonzero(self._selection == index)
        if len(hits):
            self._position = int(hits[0])
            self._render_current()

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
        """By index or by confidence (comparing: the surest wrong answer first)."""
        order = self.query_one("#filter-order", Select)
        self.apply_filter(order="index" if order.value == "confidence" else "confidence")

    def action_browse(self, which: DisagreementSet) -> None:
        """Comparing: browse one set of disagreements."""
        self.browse_set = which

    def action_cycle_pair(self) -> None:
        """Comparing: the next pair of the compared runs."""
        pairs = run_pairs(len(self._compared))
        self.pair = pairs[(pairs.index(self.pair) + 1) % len(pairs)]

    def action_inside(self) -> None:
        """Where the model looks in the digit on show (the Inside tab)."""
        index = self.current_index
        if index is not None:
            self.post_message(self.InsideAsked(index))

    def action_leave_comparison(self) -> None:
        """Comparing: back to the run's own digits here, and to the comparison."""
        self.leave_comparison()
        self.post_message(self.ComparisonLeft())

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The comparison's keys show only while comparing (the pair key with three runs
        or more); all digits or mistakes, only when not."""
        if action in COMPARE_ACTIONS:
            return self.comparing and (action != "cycle_pair" or len(self._compared) > 2)
        if action == "toggle_mistakes":
            return not self.comparing
        return True

    def watch_comparing(self, comparing: bool) -> None:
        self.set_class(comparing, "-comparing")

    def watch_browse_set(self) -> None:
        self._show_comparison()

    def watch_pair(self, pair: tuple[int, int]) -> None:
        with self.prevent(Select.Changed):
            self.query_one("#filter-pair", Select).value = f"{pair[0]}-{pair[1]}"
        self._show_comparison()

    def action_cycle(self, which: str) -> None:
        """Cycle a class filter through any, 0..9."""
        select = self.query_one(f"#filter-{which}", Select)
        current = select.value
        following = "0" if current == ANY else ANY if current == "9" else str(int(str(current)) + 1)
        with self.prevent(Select.Changed):
            select.value = following
        self._reselect()

    def action_clear_filters(self) -> None:
        """Every digit, by index (comparing: the whole set, surest first)."""
        if self.comparing:
            self.apply_filter(true_class=None, pred_class=None, order="confidence")
        else:
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
            self.notify(
                f"The digit style could not be remembered: {exc}", severity="warning", markup=False
            )

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

    def _show_comparison(self) -> None:
        """The title, the sets line and the digits of the set and pair browsed."""
        if not self.comparing:
            return
        first, second = self.pair
        letters = run_letter(first), run_letter(second)
        self._show_title(
            f"Disagreements  {letters[0]} {self._names[first]}\n"
            f"           vs  {letters[1]} {self._names[second]}"
        )
        line = Text()
        for which, count in self.set_counts().items():
            if line:
                line.append("  ·  ")
            line.append(f"{SET_KEYS[which]} ", style="bold")
            line.append(
                f"{set_caption(which, *letters)}: {count:,}",
                style="reverse bold" if which == self.browse_set else "",
            )
        self.query_one("#viewer-sets", Static).update(line)
        self._reselect()

    @on(Select.Changed)
    def _filters_changed(self, event: Select.Changed) -> None:
        event.stop()
        if event.select.id == "filter-pair":
            first, second = str(event.value).split("-")
            self.pair = (int(first), int(second))
        else:
            self._reselect()

    def _filter_value(self, which: str) -> int | None:
        value = self.query_one(f"#filter-{which}", Select).value
        return None if value == ANY else int(str(value))

    def _reselect(self) -> None:
        previous = self.current_index
        order = cast(SampleOrder, self.query_one("#filter-order", Select).value)
        if self.comparing:
            self._selection = disagreement_samples(
                list(self._compared),
                *self.pair,
                self.browse_set,
                true_class=self._filter_value("true"),
                pred_class=self._filter_value("pred"),
                order=order,
            )
        elif self._evaluation is not None:
            self._selection = select_samples(
                self._evaluation,
                mistakes_only=self.query_one("#filter-mode", Select).value == "mistakes",
                true_class=self._filter_value("true"),
                pred_class=self._filter_value("pred"),
                order=order,
            )
        else:
            return
        hits = np.flatnonzero(self._selection == previous) if previous is not None else None
        self._position = int(hits[0]) if hits is not None and len(hits) else 0
        self._render_current()

    def _grid_columns(self) -> int:
        return max(1, self.query_one("#digit-grid", Static).size.width // GRID_CELL_WIDTH)

    def _grid_cell_height(self) -> int:
        return GRID_CELL_HEIGHT + self.comparing

    def _grid_capacity(self) -> int:
        grid = self.query_one("#digit-grid", Static)
        width = max(grid.size.width, GRID_CELL_WIDTH)
        height = max(grid.size.height, self._grid_cell_height())
        return (width // GRID_CELL_WIDTH) * (height // self._grid_cell_height())

    def on_resize(self) -> None:
        self._render_current()

    def _render_current(self) -> None:
        position = self.query_one("#viewer-position", Static)
        if self._images is None or (self._evaluation is None and not self.comparing):
            return
        total = len(self._selection)
        if not total:
            position.update(
                "No digits in this set match these filters (c clears them)."
                if self.comparing
                else "No test digits match these filters (c clears them)."
            )
            self.query_one("#digit-art", Static).update("")
            self.query_one("#digit-info", Static).update("")
            self.query_one("#digit-grid", Static).update("")
            return
        index = int(self._selection[self._position])
        style = "blocks" if self.ascii_digits else "ascii"
        if self.comparing:
            pair = "  b pair" if len(self._compared) > 2 else ""
            position.update(
                f"sample {self._position + 1:,} of {total:,}   ←/→ move  f/s/w set"
                f"{pair}  esc back  t/p class  o order  g grid  a {style}  "
                f"c clear  i inside"
            )
        else:
            position.update(
                f"sample {self._position + 1:,} of {total:,}   ←/→ move  "
                f"m mistakes  t/p class  o order  g grid  a {style}  c clear  i inside"
            )
        if self._grid:
            self._render_grid()
        elif self.comparing:
            self._render_pair(index)
        else:
            self._render_single(index)

    def _render_pair(self, index: int) -> None:
        """One digit with the true label and both runs' predictions and probabilities."""
        assert self._images is not None
        first, second = (self._compared[i] for i in self.pair)
        letters = run_letter(self.pair[0]), run_letter(self.pair[1])
        true = int(first.labels[index])
        info = Text.assemble(
            (f"test #{index}", "bold"), "   true ", (str(true), "bold green"), "\n"
        )
        info.append_text(
            paired_probability_bars(
                first.probabilities[index], second.probabilities[index], true, letters
            )
        )
        self.query_one("#digit-art", Static).update(self._digit(self._images[index]))
        self.query_one("#digit-info", Static).update(info)

    def _grid_label(self, index: int, current: bool) -> Text:
        """A grid digit's caption: ``7→1`` or ``7 ✓``; comparing, ``7 A7 B1``."""
        if self.comparing:
            true = int(self._compared[self.pair[0]].labels[index])
            label = Text(f"{true} ", style="bold")
            for run in self.pair:
                pred = int(self._compared[run].predictions[index])
                label.append(
                    f"{run_letter(run)}{pred} ", style="green" if pred == true else "bold red"
                )
        else:
            assert self._evaluation is not None
            true = int(self._evaluation.labels[index])
            pred = int(self._evaluation.predictions[index])
            label = Text(
                f"{true}→{pred}" if true != pred else f"{true} ✓",
                style="bold red" if true != pred else "green",
            )
        label.rstrip()
        label.truncate(GRID_CELL_WIDTH - 2)
        if current:
            label.stylize("reverse")
        return label

    def _render_single(self, index: int) -> None:
        assert self._evaluation is not None and self._images is not None
        evaluation = self._evaluation
        true = int(evaluation.labels[index])
        pred = int(evaluation.predictions[index])
        verdict = (
            Text("correct", style="bold green") if true == pred else Text("WRONG", style="bold red")
        )
        header = Text.assemble(
            (f"test #{index}\n", "bold"),
            "true ",
            (str(true), "bold green"),
            "   predicted ",
            (str(pred), "bold" if true == pred else "bold red"),
            "   ",
            verdict,
            f"\nconfidence {float(evaluation.confidence[index]):.1%}\n\n",
        )
        self.query_one("#digit-art", Static).update(self._digit(self._images[index]))
        header.append_text(probability_bars(evaluation.probabilities[index], true))
        self.query_one("#digit-info", Static).update(header)

    def _render_grid(self) -> None:
        assert self._images is not None
        grid = self.query_one("#digit-grid", Static)
        columns = self._grid_columns()
        capacity = self._grid_capacity()
        start = (self._position // capacity) * capacity
        shown = self._selection[start : start + capacity]
        rows = capacity // columns
        spare = grid.size.height - rows * self._grid_cell_height()
        gap = "\n" if rows > 1 and spare >= rows - 1 else ""  # a line between rows, if all fit
        text = Text()
        for row_start in range(0, len(shown), columns):
            if row_start:
                text.append(gap)
            row = [int(i) for i in shown[row_start : row_start + columns]]
            here = [start + row_start + offset == self._position for offset in range(len(row))]
            labels = [self._grid_label(i, current) for i, current in zip(row, here, strict=True)]
            cells = [list(self._digit(half_size(self._images[i])).split("\n")) for i in row]
            for label, art in zip(labels, cells, strict=True):
                if self.comparing:  # the caption on a line of its own
                    label.align("left", GRID_CELL_WIDTH - 2)
                    art.insert(0, label)
                else:  # over the digit's first line, blank where it goes
                    art[0] = Text.assemble(label, art[0][label.cell_len :])
            for line in range(len(cells[0])):
                for current, cell in zip(here, cells, strict=True):
                    text.append("┃ " if current else "  ", style="bold")
                    text.append_text(cell[line])
                text.append("\n")
        grid.update(text)
