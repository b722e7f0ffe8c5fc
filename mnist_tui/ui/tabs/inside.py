"""Inside the model: what a run's model learned (its first layer's units, a convnet's
feature maps), where it looks in one digit, how the test digits sit in its last hidden
layer (a braille map) and how training moved inside it; each drawn from
:mod:`mnist_tui.core.inside`, whose heavy work runs in thread workers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from rich.style import Style
from rich.text import Text
from textual import events, on, work
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import ContentSwitcher, Static
from textual.worker import Worker, WorkerState, get_current_worker

from mnist_tui.core.events import EpochDynamics
from mnist_tui.core.inside.errors import InsideError, Stopped
from mnist_tui.core.inside.pictures import (
    NEGATIVE_RAMP,
    POSITIVE_RAMP,
    diverging_hex,
    glyph_rows,
    heat_grid,
    row_pairs,
    signed_unit,
)
from mnist_tui.core.inside.scatter import CLASS_COLOURS, Frame, draw

if TYPE_CHECKING:
    from mnist_tui.core.data.mnist import MnistData
    from mnist_tui.core.inside.attribution import Attribution
    from mnist_tui.core.inside.projection import DigitMap
    from mnist_tui.core.inside.weights import FeatureMaps, FirstLayer
    from mnist_tui.core.runs.record import RunInfo
    from mnist_tui.core.runs.store import RunStore

Section = Literal["weights", "attribution", "map", "training"]
SECTIONS: tuple[Section, ...] = ("weights", "attribution", "map", "training")
TITLES = {
    "weights": "What it learned",
    "attribution": "Where it looks",
    "map": "Digit map",
    "training": "Training",
}
PICTURE_WIDTH = 29
"""Columns one unit's picture takes in the weights grid (28 and a gap)."""
NARROW = 100
"""Below this width the selected unit's panel goes under the grid, not beside it."""
PICTURE_HEIGHT = 15
"""Lines one unit takes: its label and 14 lines of picture."""
TOP_DIGITS = 6
"""Test digits shown for the selected unit."""
HEAT_ROWS = 8
"""Bins of a training heatmap's column."""
HEAT_RAMP = " .:-=+*#%@"
"""A heatmap cell's share of its epoch's fullest bin, as a glyph (reads without colour)."""


def _grey(level: float) -> str:
    value = round(min(1.0, max(0.0, level)) * 255)
    return f"#{value:02x}{value:02x}{value:02x}"


def grey_digit(image: np.ndarray) -> Text:
    """A uint8 digit as half-blocks, each cell's two pixels as its colours."""
    unit = np.asarray(image, dtype=np.float32) / 255.0
    text = Text()
    for number, (top, bottom) in enumerate(zip(unit[0::2], unit[1::2], strict=True)):
        if number:
            text.append("\n")
        for upper, lower in zip(top, bottom, strict=True):
            text.append("▀", Style.parse(f"{_grey(upper)} on {_grey(lower)}"))
    return text


def signed_picture(picture: np.ndarray, scale: float | None = None, glyphs: bool = False) -> Text:
    """A signed picture (weights, an attribution): half-blocks in the diverging palette
    (blue below zero, red above), or with ``glyphs`` the core's ramp (``#*+.`` above
    zero, ``%=-,`` below) coloured alike, which reads without colour."""
    unit = signed_unit(picture, scale)
    text = Text()
    if glyphs:
        for number, (row, values) in enumerate(
            zip(glyph_rows(picture, scale), row_pairs(unit), strict=True)
        ):
            if number:
                text.append("\n")
            for char, value in zip(row, values, strict=True):
                text.append(char, Style.parse(diverging_hex(float(value))))
        return text
    if unit.shape[0] % 2:
        unit = np.vstack([unit, np.zeros((1, unit.shape[1]), np.float32)])
    for number, (top, bottom) in enumerate(zip(unit[0::2], unit[1::2], strict=True)):
        if number:
            text.append("\n")
        for upper, lower in zip(top, bottom, strict=True):
            text.append(
                "▀", Style.parse(f"{diverging_hex(float(upper))} on {diverging_hex(float(lower))}")
            )
    return text


def overlay(digit: np.ndarray, values: np.ndarray, glyphs: bool = False) -> Text:
    """An attribution drawn over its digit: where it matters, its diverging colour; where
    it hardly does, the digit's grey, dimmed."""
    ink = np.asarray(digit, dtype=np.float32) / 255.0
    unit = signed_unit(values, float(np.percentile(np.abs(values), 99.5)) or None)
    if glyphs:
        return signed_picture(values, float(np.percentile(np.abs(values), 99.5)) or None, True)
    text = Text()
    for number in range(14):
        if number:
            text.append("\n")
        for column in range(28):
            colours = []
            for row in (2 * number, 2 * number + 1):
                value = float(unit[row, column])
                shade = _grey(ink[row, column] * 0.45)
                colours.append(diverging_hex(value) if abs(value) >= 0.12 else shade)
            text.append("▀", Style.parse(f"{colours[0]} on {colours[1]}"))
    return text


def _title(words: str) -> Text:
    return Text(words, style="bold")


class OpenSample(Message):
    """The user asked to see test digit ``index`` in the Samples tab (Enter on the map)."""

    def __init__(self, index: int) -> None:
        super().__init__()
        self.index = index


@dataclass
class _Loaded(Message):
    """The worker read a run's model, first layer, predictions and dynamics."""

    token: int
    model: Any
    layer: FirstLayer | None
    predictions: np.ndarray | None
    dynamics: tuple[EpochDynamics, ...]
    problem: str


@dataclass
class _Attributed(Message):
    """The worker attributed one digit (or says why it could not)."""

    token: int
    index: int
    attribution: Attribution | None
    maps: tuple[FeatureMaps, ...]
    problem: str


@dataclass
class _Mapped(Message):
    """The worker drew the digits' map by one method."""

    token: int
    found: DigitMap | None
    problem: str


@dataclass
class _Excited(Message):
    """The worker found the test digits that excite one unit most."""

    token: int
    unit: int
    indices: tuple[int, ...]


class ScatterMap(Widget):
    """The digits' map as a braille scatter, a colour per class; the picked digit's cell is
    shown reversed. A click picks the digit nearest it (:class:`ScatterMap.Picked`)."""

    DEFAULT_CSS = """
    ScatterMap { height: 1fr; width: 1fr; min-height: 8; }
    """

    class Picked(Message):
        """A click on the map picked the digit ``index``."""

        def __init__(self, index: int) -> None:
            super().__init__()
            self.index = index

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.found: DigitMap | None = None
        self.shown: np.ndarray | None = None
        """Which digits the filters let through (a mask), or ``None``: all."""
        self.picked: int | None = None

    def show(self, found: DigitMap | None, shown: np.ndarray | None, picked: int | None) -> None:
        """Draw ``found``'s digits that ``shown`` lets through, ``picked`` marked."""
        self.found, self.shown, self.picked = found, shown, picked
        self.refresh()

    @property
    def frame(self) -> Frame | None:
        """Which part of the map each character cell shows, at the widget's size."""
        if self.found is None:
            return None
        width, height = max(1, self.content_size.width), max(1, self.content_size.height)
        return Frame.around(self.found.projection.points, width, height)

    def render(self) -> Text:
        frame = self.frame
        if self.found is None or frame is None:
            return Text("The map appears here.", style="dim")
        mask = self.shown if self.shown is not None else np.ones(len(self.found.labels), bool)
        points = self.found.projection.points[mask]
        scatter = draw(points, self.found.labels[mask], self.found.mistakes[mask], frame)
        marked: tuple[int, int] | None = None
        if self.picked is not None:
            columns, rows = frame.cell(self.found.projection.points[[self.picked]])
            marked = (int(columns[0]), int(rows[0]))
        text = Text()
        for row, (line, classes, wrong) in enumerate(
            zip(scatter.lines, scatter.classes, scatter.mistakes, strict=True)
        ):
            if row:
                text.append("\n")
            for column, (char, cls, bad) in enumerate(zip(line, classes, wrong, strict=True)):
                style = CLASS_COLOURS[cls] if cls >= 0 else ""
                if bad:
                    style += " underline"
                if marked == (column, row):
                    char, style = (char if char != " " else "+"), f"{style} reverse bold"
                text.append(char, Style.parse(style) if style.strip() else Style())
        return text

    def on_click(self, event: events.Click) -> None:
        frame = self.frame
        if self.found is None or frame is None:
            return
        x, y = frame.position(event.x, event.y)
        index = self.found.nearest(x, y, self.shown)
        if index is not None:
            self.post_message(self.Picked(index))


class InsideView(Vertical, can_focus=True):
    """The inside of one run's model in four sections, one at a time (``w`` ``a`` ``m``
    ``t``). Intent methods: :meth:`follow_run` (or :meth:`show_run`), :meth:`show_digit`,
    :meth:`add_dynamics` and :meth:`clear_dynamics` (a training's, live)."""

    DEFAULT_CSS = """
    InsideView { height: 1fr; padding: 0 1; }
    InsideView:focus { background-tint: $foreground 3%; }
    InsideView #inside-heading { height: auto; color: $text-muted; }
    InsideView ContentSwitcher { height: 1fr; }
    InsideView .inside-section { height: 1fr; }
    InsideView #inside-units { width: auto; height: auto; }
    InsideView #inside-weights-row { height: auto; }
    InsideView #inside-unit-side { width: 1fr; min-width: 24; height: auto; padding: 0 0 0 2; }
    InsideView.-narrow #inside-weights-row { layout: vertical; }
    InsideView.-narrow #inside-unit-side { padding: 1 0 0 0; }
    InsideView #inside-map-side { width: 32; height: auto; padding: 0 0 0 1; }
    InsideView #inside-status { height: auto; color: $text-muted; }
    """

    BINDINGS = [
        Binding(
            "w",
            "section('weights')",
            "Weights",
            id="inside.weights",
            tooltip="What it learned: the first layer's units, most important first",
        ),
        Binding(
            "a",
            "section('attribution')",
            "Where",
            id="inside.attribution",
            tooltip="Where it looks in the chosen digit: integrated gradients",
        ),
        Binding(
            "m",
            "section('map')",
            "Map",
            id="inside.map",
            tooltip="How the 10,000 test digits sit in its last hidden layer",
        ),
        Binding(
            "t",
            "section('training')",
            "Dynamics",
            id="inside.training",
            tooltip="How every layer moved, epoch by epoch (live while a run trains)",
        ),
        Binding(
            "left",
            "move(-1, 0)",
            "Left",
            show=False,
            id="inside.left",
            tooltip="The unit to the left, or the map's cursor",
        ),
        Binding(
            "right",
            "move(1, 0)",
            "Right",
            show=False,
            id="inside.right",
            tooltip="The unit to the right, or the map's cursor",
        ),
        Binding(
            "up",
            "move(0, -1)",
            "Up",
            show=False,
            id="inside.up",
            tooltip="The unit above, or the map's cursor",
        ),
        Binding(
            "down",
            "move(0, 1)",
            "Down",
            show=False,
            id="inside.down",
            tooltip="The unit below, or the map's cursor",
        ),
        Binding(
            "pagedown,right_square_bracket",
            "page(1)",
            "Next page",
            id="inside.next_page",
            tooltip="The next page of units",
        ),
        Binding(
            "pageup,left_square_bracket",
            "page(-1)",
            "Previous page",
            show=False,
            id="inside.previous_page",
            tooltip="The previous page of units",
        ),
        Binding(
            "n",
            "digit(1)",
            "Next digit",
            id="inside.next_digit",
            tooltip="Attribute the next test digit",
        ),
        Binding(
            "b",
            "digit(-1)",
            "Previous digit",
            show=False,
            id="inside.previous_digit",
            tooltip="Attribute the previous test digit",
        ),
        Binding(
            "full_stop",
            "target(1)",
            "Target +",
            id="inside.target_up",
            tooltip="Explain the next class instead of the prediction",
        ),
        Binding(
            "comma",
            "target(-1)",
            "Target -",
            show=False,
            id="inside.target_down",
            tooltip="Explain the previous class instead of the prediction",
        ),
        Binding(
            "p",
            "predicted",
            "Predicted",
            show=False,
            id="inside.predicted",
            tooltip="Explain the predicted class again",
        ),
        Binding(
            "g",
            "gradient",
            "IG/gradient",
            id="inside.method",
            tooltip="Integrated gradients, or plain gradients",
        ),
        Binding(
            "s",
            "projection",
            "PCA/t-SNE",
            id="inside.projection",
            tooltip="The map by PCA (at once) or t-SNE (in the background, then cached)",
        ),
        Binding(
            "f",
            "filter",
            "Class",
            id="inside.filter",
            tooltip="Show one class on the map, then the next; all after 9",
        ),
        Binding(
            "x",
            "mistakes",
            "Mistakes",
            id="inside.mistakes",
            tooltip="Show only the digits the model gets wrong",
        ),
        Binding(
            "enter",
            "open",
            "Open",
            id="inside.open",
            tooltip="Open the picked digit in Samples, or a unit's digits",
        ),
        Binding(
            "o",
            "glyphs",
            "Glyphs",
            show=False,
            id="inside.glyphs",
            tooltip="Pictures as a glyph ramp (# * + . above zero, % = - , below)",
        ),
    ]

    section: reactive[Section] = reactive("weights", bindings=True, init=False)
    """The section on show."""
    projection: reactive[str] = reactive("pca", bindings=True, init=False)
    """The map's method: ``pca`` or ``tsne``."""

    def __init__(
        self, *, no_run_hint: str = "No run on show: open or train one.", **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self._no_run_hint = no_run_hint
        """What the view says with no run on show: how to get one."""
        self._token = 0
        self._followed: tuple[str, bool] | None = None
        """The run followed (its folder) and whether the test digits came with it."""
        self._live = False
        """The dynamics shown are those of a training running now (not the run's)."""
        self._training_stale = False
        """Epochs came while the tab was hidden: drawn when it is next shown."""
        self._run: RunInfo | None = None
        self._store: RunStore | None = None
        self._data: MnistData | None = None
        self._model: Any = None
        self._layer: FirstLayer | None = None
        self._predictions: np.ndarray | None = None
        self._dynamics: list[EpochDynamics] = []
        self._page = 0
        self._unit = 0
        self._excited: tuple[int, tuple[int, ...]] | None = None
        self._digit = 0
        self._target: int | None = None
        self._method = "ig"
        self._attribution: Attribution | None = None
        self._maps: tuple[FeatureMaps, ...] = ()
        self._maps_by: dict[str, DigitMap] = {}
        self._computing: set[str] = set()
        """The map methods being computed in the background."""
        self._class_filter: int | None = None
        self._mistakes_only = False
        self._picked: int | None = None
        self._glyphs = False
        self._problem = ""

    def compose(self) -> Any:
        yield Static(id="inside-heading")
        with ContentSwitcher(initial="inside-weights"):
            with (
                VerticalScroll(id="inside-weights", classes="inside-section"),
                Horizontal(id="inside-weights-row"),
            ):
                yield Static(id="inside-units")
                yield Static(id="inside-unit-side")
            with VerticalScroll(id="inside-attribution", classes="inside-section"):
                yield Static(id="inside-where")
            with Horizontal(id="inside-map", classes="inside-section"):
                yield ScatterMap(id="inside-scatter")
                yield Static(id="inside-map-side")
            with VerticalScroll(id="inside-training", classes="inside-section"):
                yield Static(id="inside-dynamics")
        yield Static(id="inside-status")

    def on_mount(self) -> None:
        self._draw_all()

    # Intent methods -------------------------------------------------------------------

    def focus_main(self) -> None:
        """The view takes the keys."""
        self.focus()

    def follow_run(self, run: RunInfo | None, store: RunStore, data: MnistData | None) -> None:
        """Show the app's run on show: :meth:`show_run` when it is another run (or the test
        digits have come since), nothing when it is the one shown; ``None``: no run, and
        the view says how to get one."""
        if self._training_stale:  # epochs that came while the tab was hidden
            self._draw_training()
        if run is None:
            self._forget()
            return
        key = (str(run.path), data is not None)
        if key != self._followed:
            self.show_run(run, store, data)

    def show_run(self, run: RunInfo, store: RunStore, data: MnistData | None) -> None:
        """Show ``run``'s inside: its model is read in a worker, the first layer drawn as
        soon as it is (then the chosen digit's attribution); ``data`` gives the test digits
        (without it, only the weights and the training are shown)."""
        self._token += 1
        self._followed = (str(run.path), data is not None)
        self._run, self._store, self._data = run, store, data
        self._model = self._layer = self._predictions = self._attribution = None
        if not self._live:  # a training's live dynamics stay until it ends
            self._dynamics = []
        self._maps_by, self._maps = {}, ()
        self._computing = set()
        self._page = self._unit = 0
        self._excited, self._target, self._picked, self._problem = None, None, None, ""
        if data is not None:
            self._digit = min(self._digit, len(data.y_test) - 1)
        self._status(f"{run.label}: reading the model…")
        self._draw_all()
        self._load(self._token, run, store, data)

    def show_digit(self, index: int) -> None:
        """Show where the model looks in test digit ``index``: it becomes the digit
        attributed (and a convnet's feature maps), in the attribution section."""
        if self._choose_digit(index):
            self.section = "attribution"

    def add_dynamics(self, event: EpochDynamics) -> None:
        """One more epoch of a run training now: the heatmaps grow live."""
        if not self._live or (self._dynamics and event.epoch <= self._dynamics[-1].epoch):
            self._dynamics = []  # a new run began
        self._live = True
        self._dynamics.append(event)
        self._draw_training_if_shown()

    def clear_dynamics(self) -> None:
        """A new training is about to start: the training section shows its dynamics,
        live, from its first epoch's end (whatever run is on show)."""
        self._live = True
        self._dynamics = []
        self._draw_training_if_shown()

    def _draw_training_if_shown(self) -> None:
        """Redraw the live heatmaps now if the tab is on screen, else when it is next
        shown (:meth:`follow_run`): a hidden tab costs a training no work per epoch."""
        shown = all(node.display for node in self.ancestors_with_self if isinstance(node, Widget))
        if shown:
            self._draw_training()
        else:
            self._training_stale = True

    def training_ended(self) -> None:
        """The training shown live ended: the run on show is read again when it is next
        followed (the new run, or the one shown before, with its own dynamics)."""
        if self._live:
            self._live = False
            self._followed = None
            if self._run is None:
                self._dynamics = []
                self._draw_training()

    def _forget(self) -> None:
        """No run on show: its model, pictures and map are dropped; the hint says how to
        get one."""
        self._token += 1
        self._followed = None
        self._run = self._store = self._data = None
        self._model = self._layer = self._predictions = self._attribution = None
        self._maps_by, self._maps, self._computing = {}, (), set()
        if not self._live:
            self._dynamics = []
        self._excited, self._target, self._picked, self._problem = None, None, None, ""
        self._status("")
        self._draw_all()

    @property
    def picked(self) -> int | None:
        """The digit picked on the map, if any."""
        return self._picked

    # Workers ----------------------------------------------------------------------------

    @work(
        thread=True,
        exclusive=True,
        exit_on_error=False,
        group="inside-load",
        description="Read a run's model for the Inside tab",
    )
    def _load(self, token: int, run: RunInfo, store: RunStore, data: MnistData | None) -> None:
        from mnist_tui.core.inside.dynamics import read_dynamics
        from mnist_tui.core.inside.weights import first_layer
        from mnist_tui.core.runs.store import RunError

        problems: list[str] = []
        try:
            dynamics = read_dynamics(run.path)
        except InsideError as exc:
            dynamics, problems = (), [str(exc)]
        predictions = None
        if data is not None:
            saved = store.load_evaluation(run, data.y_test)
            predictions = saved.predictions if saved is not None else None
        try:
            model = store.load_model(run)
            layer = first_layer(model)
        except (RunError, InsideError) as exc:
            self.post_message(_Loaded(token, None, None, predictions, dynamics, str(exc)))
            return
        if predictions is None and data is not None:
            from mnist_tui.core.engine.evaluation import evaluate_model

            predictions = evaluate_model(model, data.x_test, data.y_test).predictions
        self.post_message(_Loaded(token, model, layer, predictions, dynamics, "; ".join(problems)))

    @work(
        thread=True,
        exclusive=True,
        exit_on_error=False,
        group="inside-attribution",
        description="Attribute one digit",
    )
    def _attribute_worker(
        self, token: int, model: Any, digit: np.ndarray, index: int, target: int, method: str
    ) -> None:
        from mnist_tui.core.inside.attribution import attribute
        from mnist_tui.core.inside.weights import feature_maps

        try:
            found = attribute(
                model, digit, target, method="gradient" if method == "gradient" else "ig"
            )
            maps = feature_maps(model, digit)
        except InsideError as exc:
            self.post_message(_Attributed(token, index, None, (), str(exc)))
            return
        self.post_message(_Attributed(token, index, found, maps, ""))

    @work(
        thread=True,
        exclusive=True,
        exit_on_error=False,
        group="inside-map",
        description="Draw the digits' map",
    )
    def _map_worker(
        self,
        token: int,
        model: Any,
        run: RunInfo,
        data: MnistData,
        predictions: np.ndarray,
        method: str,
    ) -> None:
        from mnist_tui.core.inside.projection import digit_map

        worker = get_current_worker()
        try:
            found = digit_map(
                model,
                run.path,
                data.x_test,
                data.y_test,
                predictions,
                "tsne" if method == "tsne" else "pca",
                stop=lambda: worker.is_cancelled,  # another run, another map, or the app quit
            )
        except Stopped:
            return
        except InsideError as exc:
            self.post_message(_Mapped(token, None, str(exc)))
            return
        self.post_message(_Mapped(token, found, ""))

    @work(
        thread=True,
        exclusive=True,
        exit_on_error=False,
        group="inside-unit",
        description="Find the digits that excite a unit",
    )
    def _excite_worker(self, token: int, model: Any, digits: np.ndarray, unit: int) -> None:
        from mnist_tui.core.inside.weights import UnitActivations

        indices = UnitActivations(model, digits).top(unit, TOP_DIGITS)
        self.post_message(_Excited(token, unit, tuple(int(i) for i in indices)))

    # Worker results ---------------------------------------------------------------------

    @on(_Loaded)
    def _loaded(self, message: _Loaded) -> None:
        if message.token != self._token:
            return
        self._model, self._layer = message.model, message.layer
        self._predictions = message.predictions
        if not self._live:  # else the training running now is shown live
            self._dynamics = list(message.dynamics)
        self._problem = message.problem
        label = self._run.label if self._run is not None else ""
        self._status(f"{label}: {message.problem}" if message.problem else label)
        self._draw_all()
        if self._model is not None:
            self._attribute()
            if self.section == "map":
                self._start_map()

    @on(_Attributed)
    def _attributed(self, message: _Attributed) -> None:
        if message.token != self._token or message.index != self._digit:
            return
        self._attribution, self._maps = message.attribution, message.maps
        if message.problem:
            self._status(message.problem)
        self._draw_attribution()
        self._draw_weights()

    @on(_Mapped)
    def _mapped(self, message: _Mapped) -> None:
        if message.token != self._token:
            return
        if message.found is None:
            self._computing.clear()
            self._status(f"The map could not be drawn: {message.problem}")
            return
        method = message.found.projection.method
        self._computing.discard(method)
        self._maps_by[method] = message.found
        if message.found.note:
            self._status(message.found.note)
        elif method == self.projection:
            self._status("")
        if method == "pca" and self.projection == "tsne" and "tsne" not in self._maps_by:
            self._status("PCA shown; t-SNE is being computed in the background (about 10 s)…")
        if self._picked is None and len(message.found.labels):
            self._picked = 0
        self._draw_map()
        self._start_map()  # the next method wanted, if any

    @on(_Excited)
    def _excited_found(self, message: _Excited) -> None:
        if message.token == self._token:
            self._excited = (message.unit, message.indices)
            self._draw_weights()

    @on(Worker.StateChanged)
    def _worker_failed(self, event: Worker.StateChanged) -> None:
        """A worker of this view failed unexpectedly: say so here (the event goes on up to
        the app's one handler of worker failures)."""
        if event.state == WorkerState.ERROR and event.worker.group.startswith("inside-"):
            self._computing.clear()
            self._status(f"{event.worker.description} failed: {event.worker.error}")

    @on(ScatterMap.Picked)
    def _picked_on_map(self, message: ScatterMap.Picked) -> None:
        self._picked = message.index
        self._draw_map()
        self.focus()

    # Actions ----------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Keys act in the sections they belong to; elsewhere the footer leaves them out."""
        where = {
            "move": ("weights", "map"),
            "page": ("weights",),
            "digit": ("attribution", "weights"),
            "target": ("attribution",),
            "predicted": ("attribution",),
            "gradient": ("attribution",),
            "projection": ("map",),
            "filter": ("map",),
            "mistakes": ("map",),
            "open": ("weights", "map"),
            "glyphs": ("weights", "attribution"),
        }.get(action)
        if where is None:
            return True
        return self.section in where

    def action_section(self, section: str) -> None:
        """Show one of the four sections."""
        if section not in SECTIONS:
            return
        self.section = section

    def watch_section(self, section: Section) -> None:
        self.query_one(ContentSwitcher).current = f"inside-{section}"
        self._draw_heading()
        if section == "map":
            self._start_map()

    def action_move(self, dx: int, dy: int) -> None:
        """Move the selected unit, or the map's cursor to the nearest digit that way."""
        if self.section == "weights" and self._layer is not None:
            columns, size = self._grid()
            count = len(self._layer.page(self._page, size))
            place = self._unit - self._page * size + dx + dy * columns
            if 0 <= place < count:
                self._unit = self._page * size + place
                self._draw_weights()
        elif self.section == "map":
            self._move_cursor(dx, dy)

    def action_page(self, step: int) -> None:
        """Another page of units."""
        if self._layer is None:
            return
        _columns, size = self._grid()
        self._page = max(0, min(self._layer.pages(size) - 1, self._page + step))
        self._unit = self._page * size
        self._draw_weights()

    def action_digit(self, step: int) -> None:
        """Attribute the next (or previous) test digit."""
        if self._data is not None:
            self._choose_digit((self._digit + step) % len(self._data.y_test))

    def action_target(self, step: int) -> None:
        """Explain another class."""
        current = self._target if self._target is not None else self._prediction(self._digit)
        self._target = ((current if current is not None else 0) + step) % 10
        self._attribute()

    def action_predicted(self) -> None:
        """Explain the predicted class."""
        self._target = None
        self._attribute()

    def action_gradient(self) -> None:
        """Switch between integrated gradients and plain gradients."""
        self._method = "gradient" if self._method == "ig" else "ig"
        self._attribute()

    def action_projection(self) -> None:
        """Switch the map between PCA and t-SNE."""
        self.projection = "tsne" if self.projection == "pca" else "pca"
        self._start_map()
        self._draw_map()

    def action_filter(self) -> None:
        """Show one class on the map, the next, then all again."""
        current = self._class_filter
        self._class_filter = 0 if current is None else (None if current == 9 else current + 1)
        self._repick()

    def action_mistakes(self) -> None:
        """Show only the mistakes on the map, or every digit again."""
        self._mistakes_only = not self._mistakes_only
        self._repick()

    def action_open(self) -> None:
        """Map: open the picked digit in Samples. Weights: the unit's most exciting digits."""
        if self.section == "map" and self._picked is not None:
            self.post_message(OpenSample(self._picked))
        elif self.section == "weights" and self._model is not None and self._data is not None:
            layer = self._layer
            if layer is not None and self._unit < len(layer.units):
                unit = layer.units[self._unit].index
                self._excite_worker(self._token, self._model, self._data.x_test, unit)
                self._status(f"Finding the test digits that excite unit {unit} most…")

    def action_glyphs(self) -> None:
        """Pictures as colour half-blocks, or as a glyph ramp that reads without colour."""
        self._glyphs = not self._glyphs
        self._draw_weights()
        self._draw_attribution()

    # Helpers ----------------------------------------------------------------------------

    def _choose_digit(self, index: int) -> bool:
        """Make test digit ``index`` the one attributed; ``False`` if there is none such."""
        if self._data is None or not 0 <= index < len(self._data.y_test):
            return False
        self._digit, self._target = index, None
        self._attribute()
        return True

    def _prediction(self, index: int) -> int | None:
        if self._predictions is None or index >= len(self._predictions):
            return None
        return int(self._predictions[index])

    def _attribute(self) -> None:
        if self._model is None or self._data is None:
            self._draw_attribution()
            return
        target = self._target if self._target is not None else self._prediction(self._digit)
        self._attribution = None
        self._draw_attribution()
        self._attribute_worker(
            self._token,
            self._model,
            self._data.x_test[self._digit],
            self._digit,
            0 if target is None else target,
            self._method,
        )

    def _start_map(self) -> None:
        run, data, model = self._run, self._data, self._model
        if run is None or data is None or model is None or self._predictions is None:
            return
        wanted = ["pca"] if self.projection == "pca" else ["pca", "tsne"]
        for method in wanted:
            if method in self._computing:
                return  # in the background already
            if method not in self._maps_by:
                self._computing.add(method)
                if method == "tsne":
                    self._status("t-SNE is being computed in the background (about 10 s)…")
                self._map_worker(self._token, model, run, data, self._predictions, method)
                return  # one at a time: the next starts when this one is in

    def _current_map(self) -> DigitMap | None:
        found = self._maps_by.get(self.projection)
        return found if found is not None else self._maps_by.get("pca")

    def _shown(self, found: DigitMap) -> np.ndarray:
        mask = np.ones(len(found.labels), dtype=bool)
        if self._class_filter is not None:
            mask &= found.labels == self._class_filter
        if self._mistakes_only:
            mask &= found.mistakes
        return mask

    def _repick(self) -> None:
        found = self._current_map()
        if found is not None:
            mask = self._shown(found)
            if self._picked is None or not mask[self._picked]:
                candidates = np.flatnonzero(mask)
                self._picked = int(candidates[0]) if len(candidates) else None
        self._draw_map()

    def _move_cursor(self, dx: int, dy: int) -> None:
        found = self._current_map()
        scatter = self.query_one(ScatterMap)
        frame = scatter.frame
        if found is None or frame is None:
            return
        mask = self._shown(found)
        if self._picked is None:
            self._repick()
            return
        column, row = frame.cell(found.projection.points[[self._picked]])
        x, y = frame.position(int(column[0]) + dx, int(row[0]) + dy)
        points = found.projection.points
        ahead = mask.copy()
        if dx:
            ahead &= (points[:, 0] - points[self._picked, 0]) * dx > 0
        if dy:
            ahead &= (points[:, 1] - points[self._picked, 1]) * -dy > 0
        index = found.nearest(x, y, ahead if ahead.any() else mask)
        if index is not None:
            self._picked = index
            self._draw_map()

    def _grid(self) -> tuple[int, int]:
        """Units a row of the weights grid holds at this size, and units a page holds."""
        width, height = self.content_size.width, self.content_size.height
        side = 0 if width < NARROW else 26  # the unit's panel: beside the grid, or below it
        columns = max(1, (width - side) // PICTURE_WIDTH) if width else 4
        rows = max(1, (height - 5) // PICTURE_HEIGHT) if height else 2
        return columns, columns * rows

    def on_resize(self) -> None:
        self.set_class(0 < self.content_size.width < NARROW, "-narrow")
        self._draw_weights()

    def _status(self, words: str) -> None:
        if self.is_mounted:
            self.query_one("#inside-status", Static).update(Text(words))

    # Drawing ----------------------------------------------------------------------------

    def _draw_all(self) -> None:
        if not self.is_mounted:
            return
        self._draw_heading()
        self._draw_weights()
        self._draw_attribution()
        self._draw_map()
        self._draw_training()

    def _draw_heading(self) -> None:
        if not self.is_mounted:
            return
        text = Text()
        for key, section in zip("wamt", SECTIONS, strict=True):
            style = "bold reverse" if section == self.section else ""
            text.append(f" {key} {TITLES[section]} ", style)
        self.query_one("#inside-heading", Static).update(text)

    def _draw_weights(self) -> None:
        if not self.is_mounted:
            return
        units, side = (
            self.query_one("#inside-units", Static),
            self.query_one("#inside-unit-side", Static),
        )
        layer = self._layer
        if layer is None:
            units.update(
                Text(
                    "The first layer's units appear here." if self._run else self._no_run_hint,
                    style="dim",
                )
            )
            side.update("")
            return
        what = "units" if layer.kind == "dense" else "filters"
        columns, size = self._grid()
        if self._unit // size != self._page:  # the grid's size changed
            self._page = self._unit // size
        text = Text()
        why = " (outgoing weight norm)" if self.content_size.width >= NARROW else ""
        text.append(
            f"{layer.layer}: {len(layer.units)} {what}, most important first{why}; "
            f"page {self._page + 1} of {layer.pages(size)}\n",
            "bold",
        )
        page = layer.page(self._page, size)
        scale = layer.scale if layer.kind == "dense" else None
        pictures = []
        for unit in page:
            picture = unit.picture
            if layer.kind == "conv":
                factor = max(1, -(-12 // max(picture.shape)))
                picture = np.kron(picture, np.ones((factor, factor), dtype=picture.dtype))
            pictures.append(signed_picture(picture, scale, self._glyphs).split("\n"))
        for start in range(0, len(page), columns):
            row_units = page[start : start + columns]
            row_pictures = pictures[start : start + columns]
            width = max(line.cell_len for lines in row_pictures for line in lines) + 2
            line = Text()
            for place, unit in enumerate(row_units):
                chosen = self._page * size + start + place == self._unit
                label = f"{'▶' if chosen else ' '}#{unit.index} {unit.importance:.2f}"
                line.append(label.ljust(width), "bold reverse" if chosen else "")
            text.append_text(line)
            text.append("\n")
            for row in range(max(len(lines) for lines in row_pictures)):
                line = Text()
                for lines in row_pictures:
                    part = lines[row] if row < len(lines) else Text()
                    line.append_text(part)
                    line.append(" " * (width - part.cell_len))
                text.append_text(line)
                text.append("\n")
        if not self._glyphs:
            text.append(
                "red above zero, blue below; o: glyphs (# * + . above, % = - , below)", "dim"
            )
        units.update(text)
        side.update(self._unit_side())

    def _unit_side(self) -> Text:
        text = Text()
        layer = self._layer
        if layer is not None and self._unit < len(layer.units):
            unit = layer.units[self._unit]
            text.append(f"Unit {unit.index}\n", "bold")
            text.append(f"outgoing weight norm {unit.importance:.3f}\n")
            if self._excited is not None and self._excited[0] == unit.index and self._data:
                text.append("The test digits that excite it most:\n")
                for index in self._excited[1][:3]:
                    text.append(f"#{index} (label {int(self._data.y_test[index])})\n")
                    text.append_text(grey_digit(self._data.x_test[index]))
                    text.append("\n")
            elif self._data is not None:
                text.append("Enter: the test digits that excite it most\n", "dim")
        for item in self._maps[:2]:
            text.append(f"\n{item.layer}: feature maps of digit {self._digit}\n", "bold")
            for channel in item.maps[:4]:
                text.append_text(signed_picture(channel, glyphs=self._glyphs))
                text.append("\n")
        return text

    def _draw_attribution(self) -> None:
        if not self.is_mounted:
            return
        where = self.query_one("#inside-where", Static)
        if self._run is None or self._data is None:
            where.update(
                Text(
                    self._no_run_hint
                    if self._run is None
                    else "No test digits loaded: nothing to attribute.",
                    style="dim",
                )
            )
            return
        index = self._digit
        label, prediction = int(self._data.y_test[index]), self._prediction(index)
        target = self._target if self._target is not None else prediction
        text = Text()
        name = "integrated gradients" if self._method == "ig" else "plain gradients"
        text.append(
            f"Test digit {index}: label {label}, predicted "
            f"{'?' if prediction is None else prediction}; {name} toward {target}\n",
            "bold",
        )
        found = self._attribution
        digit = grey_digit(self._data.x_test[index]).split("\n")
        if found is None:
            picture = [Text("computing…", style="dim")]
        else:
            picture = list(
                overlay(self._data.x_test[index], found.values, self._glyphs).split("\n")
            )
        text.append(
            "the digit".ljust(30) + "where it looks (red raised the score, blue lowered it)\n"
        )
        for row in range(max(len(digit), len(picture))):
            text.append_text(digit[row] if row < len(digit) else Text(" " * 28))
            text.append("  ")
            if row < len(picture):
                text.append_text(picture[row])
            text.append("\n")
        if found is not None:
            check = found.completeness
            kind = "sum" if found.method == "ig" else "first-order estimate"
            text.append(
                f"Completeness: {kind} {check.total:+.4f} against f(digit) - f(black) "
                f"{check.difference:+.4f} "
            )
            text.append(
                "holds" if check.holds else "is off",
                "green" if check.holds else "yellow",
            )
            steps = f", {found.steps} steps" if found.method == "ig" else ""
            text.append(f" ({check.error:.1%}{steps})\n")
            text.append(
                f"probability of {found.target}: {found.score:.3f} "
                f"(a black digit: {found.baseline_score:.3f})\n"
            )
        text.append(
            "n/b: next/previous digit  . , : another class  p: predicted  g: IG/gradient", "dim"
        )
        where.update(text)

    def _draw_map(self) -> None:
        if not self.is_mounted:
            return
        scatter = self.query_one(ScatterMap)
        side = self.query_one("#inside-map-side", Static)
        found = self._current_map()
        if found is None:
            scatter.show(None, None, None)
            side.update(
                Text(
                    self._no_run_hint
                    if self._run is None
                    else "The map appears here."
                    if self._data
                    else "No test digits loaded.",
                    style="dim",
                )
            )
            return
        mask = self._shown(found)
        if self._picked is not None and not mask[self._picked]:
            self._picked = None
        scatter.show(found, mask, self._picked)
        projection = found.projection
        text = Text()
        shown = "t-SNE" if projection.method == "tsne" else "PCA"
        if self.projection == "tsne" and projection.method == "pca":
            shown += " (t-SNE coming)"
        text.append(f"{shown}\n", "bold")
        text.append(f"neighbour agreement {projection.neighbour_agreement:.3f}\n")
        other = self._maps_by.get("pca" if projection.method == "tsne" else "tsne")
        if other is not None:
            text.append(
                f"({other.projection.method.upper()}: "
                f"{other.projection.neighbour_agreement:.3f})\n",
                "dim",
            )
        what = "all classes" if self._class_filter is None else f"class {self._class_filter}"
        text.append(
            f"{what}{', mistakes only' if self._mistakes_only else ''}: "
            f"{int(mask.sum()):,} digits\n"
        )
        legend = Text()
        for cls, colour in enumerate(CLASS_COLOURS):
            legend.append(f"{cls}", Style.parse(f"bold {colour}"))
            legend.append(" ")
        text.append_text(legend)
        text.append("\n")
        if self._picked is not None and self._data is not None:
            index = self._picked
            label, prediction = int(found.labels[index]), int(found.predictions[index])
            mark = "" if label == prediction else "  WRONG"
            text.append(f"\n#{index}: label {label}, predicted {prediction}{mark}\n", "bold")
            text.append_text(grey_digit(self._data.x_test[index]))
            text.append("\nEnter: open it in Samples\n", "dim")
        text.append("arrows/click: pick  f: class  x: mistakes  s: PCA/t-SNE", "dim")
        side.update(text)

    def _draw_training(self) -> None:
        if not self.is_mounted:
            return
        self._training_stale = False
        box = self.query_one("#inside-dynamics", Static)
        epochs = self._dynamics
        if not epochs:
            box.update(
                Text(
                    "Training now: each layer's column appears at each epoch's end."
                    if self._live
                    else self._no_run_hint
                    if self._run is None
                    else "Reading the run…"
                    if self._model is None and not self._problem
                    else "No training dynamics: this run was saved without them.",
                    style="dim",
                )
            )
            return
        text = Text()
        if self._live:
            text.append("The training running now, live. ", "bold reverse")
        text.append(
            f"At each epoch's end (epochs 1 to {epochs[-1].epoch}), a column: weights and "
            "activations (value up, share of the fullest bin as the glyph and colour)\n",
            "bold",
        )
        names = [layer.layer for layer in epochs[0].layers]
        for place, name in enumerate(names):
            series = [item.layers[place] for item in epochs if place < len(item.layers)]
            weights = self._heat([layer.weights for layer in series])
            activations = self._heat([layer.activations for layer in series])
            text.append(f"\n{name}\n", "bold")
            width = max(line.cell_len for line in weights) + 3
            text.append("weights".ljust(width) + "activations\n", "dim")
            for left, right in zip(weights, activations, strict=True):
                text.append_text(left)
                text.append(" " * (width - left.cell_len))
                text.append_text(right)
                text.append("\n")
            dead = [layer.dead_share for layer in series]
            if any(share is not None for share in dead):
                text.append(
                    "dead ReLU  " + "  ".join("-" if d is None else f"{d:.0%}" for d in dead) + "\n"
                )
            text.append(
                "grad norm  " + "  ".join(f"{layer.gradient_norm:.3g}" for layer in series) + "\n"
            )
        box.update(text)

    @staticmethod
    def _heat(histograms: list[Any]) -> list[Text]:
        grid, low, high = heat_grid(histograms, HEAT_ROWS)
        lines = []
        for row in grid[::-1]:
            line = Text()
            for share in row:
                level = min(int(share * len(HEAT_RAMP)), len(HEAT_RAMP) - 1)
                colour = _heat_colour(float(share))
                line.append(HEAT_RAMP[level] * 2, Style.parse(f"{colour}"))
            lines.append(line)
        lines.append(Text(f"{low:+.2g}..{high:+.2g}", style="dim"))
        return lines


def _heat_colour(share: float) -> str:
    """Dark blue (an empty bin) through to bright yellow (the fullest)."""
    share = min(1.0, max(0.0, share))
    red, green, blue = round(40 + 215 * share), round(60 + 170 * share), round(120 - 80 * share)
    return f"#{red:02x}{green:02x}{blue:02x}"


__all__ = ["NEGATIVE_RAMP", "POSITIVE_RAMP", "InsideView", "OpenSample", "ScatterMap"]
