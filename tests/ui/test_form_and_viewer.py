"""A new user's try (issue 10): typing into the form, seeing the focus, fields that do not
apply, the confusion matrix's cursor, ASCII digits and the viewer's caption."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.color import Color
from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets import Button, DataTable, Input, Select, Static
from textual.widgets._select import SelectCurrent

from mnist_tui.core.config import PRESETS, TrainConfig
from mnist_tui.core.data.mnist import MnistData
from mnist_tui.core.engine.evaluation import Evaluation, evaluate_probabilities
from mnist_tui.core.runs.store import RunStore
from mnist_tui.ui.app import MnistApp
from mnist_tui.ui.preferences import load_preferences
from mnist_tui.ui.tabs.samples_view import SampleViewer
from mnist_tui.ui.tabs.setup_form import ConfigForm
from tests.ui.conftest import wait_for, write_fixed_run
from tests.ui.test_snapshots import ready

SIZE = (120, 40)
AppFactory = Callable[..., MnistApp]
BLOCKS = set("▀▄█")


def text_of(app: App[Any], selector: str) -> str:
    return str(app.query_one(selector, Static).render())


async def type_into(pilot: Pilot[Any], field: str, text: str) -> Input:
    """Empty a form field, then type ``text`` into it one key at a time, as a user does."""
    widget = pilot.app.query_one(f"#field-{field}", Input)
    widget.focus()
    await pilot.pause()
    await pilot.press("end", "ctrl+u")
    for char in text:
        await pilot.press({",": "comma", ".": "full_stop"}.get(char, char))
    await pilot.pause()
    return widget


# --- 1. the form keeps what is typed ----------------------------------------------------


@pytest.mark.parametrize("preset", list(PRESETS))
@pytest.mark.parametrize("field", ["hidden_units", "conv_filters"])
async def test_a_typed_list_keeps_every_character(
    make_app: AppFactory, preset: str, field: str
) -> None:
    app = make_app(config=PRESETS[preset])
    async with app.run_test(size=SIZE) as pilot:
        assert app.query_one("#preset", Select).value == preset
        widget = await type_into(pilot, field, "128,64")
        assert widget.value == "128,64"
        config = app.query_one(ConfigForm).config
        assert config is not None
        if preset == "CNN" or field == "hidden_units":  # conv filters apply to a cnn only
            assert getattr(config, field) == (128, 64)
        assert app.query_one("#preset", Select).value == Select.NULL  # "custom"


@pytest.mark.parametrize(
    ("field", "typed", "value"),
    [
        ("learning_rate", "0.001", 0.001),
        ("learning_rate", "0.0105", 0.0105),  # passes through the preset's 0.01
        ("dropout", "0.205", 0.205),  # passes through the preset's 0.2
        ("epochs", "05", 5),  # the preset's 5, as typed
        ("batch_size", "2560", 2560),
    ],
)
async def test_a_typed_number_keeps_every_character(
    make_app: AppFactory, field: str, typed: str, value: float
) -> None:
    app = make_app(config=TrainConfig())
    async with app.run_test(size=SIZE) as pilot:
        widget = await type_into(pilot, field, typed)
        assert widget.value == typed
        config = app.query_one(ConfigForm).config
        assert config is not None and getattr(config, field) == value


async def test_a_preset_the_user_picks_fills_the_form(make_app: AppFactory) -> None:
    app = make_app(config=TrainConfig())
    async with app.run_test(size=SIZE) as pilot:
        await type_into(pilot, "hidden_units", "128,64")
        preset = app.query_one("#preset", Select)
        preset.focus()
        await pilot.press("enter")  # the list opens on "custom", the first entry
        for _ in range(list(PRESETS).index("CNN") + 1):
            await pilot.press("down")
        await pilot.press("enter")
        await pilot.pause()
        assert preset.value == "CNN"
        assert app.query_one(ConfigForm).config == PRESETS["CNN"]
        assert app.query_one("#field-hidden_units", Input).value == "128"


# --- 2. focus you can see ---------------------------------------------------------------


def _distance(a: Color, b: Color) -> int:
    return sum(abs(x - y) for x, y in zip(a.rgb, b.rgb, strict=True))


def look(widget: Widget) -> tuple[Any, ...]:
    """What sets a widget apart on screen: the kinds of its border and outline edges,
    its text style, and its background as painted (tints and opacity included)."""
    styles = widget.styles
    return (
        tuple(edge[0] for edge in styles.border),
        tuple(edge[0] for edge in styles.outline),
        str(styles.text_style),
        widget.background_colors[1],
    )


def clearly_apart(focused: tuple[Any, ...], blurred: tuple[Any, ...]) -> bool:
    """A border, an outline or a text style of its own, or a background far from the
    other's (a 5% tint, Textual's own focus cue on compact fields, is not)."""
    return focused[:3] != blurred[:3] or _distance(focused[3], blurred[3]) >= 120


@pytest.mark.parametrize("theme", ["textual-dark", "textual-light"])
async def test_the_focus_is_plain_to_see(
    make_app: AppFactory, tmp_path: Path, slice_data: MnistData, theme: str
) -> None:
    write_fixed_run(tmp_path / "runs", slice_data)
    app = make_app(config=TrainConfig())
    async with app.run_test(size=SIZE) as pilot:
        app.theme = theme
        await pilot.pause()

        def current(select_id: str) -> SelectCurrent:
            return app.query_one(f"#{select_id}", Select).query_one(SelectCurrent)

        selects = [
            "preset",
            "field-architecture",
            "field-activation",
            "field-optimizer",
            "field-lr_schedule",
        ]
        for focused_id in selects:
            app.query_one(f"#{focused_id}").focus()
            await pilot.pause()
            for other in selects:
                if other != focused_id:
                    assert clearly_apart(look(current(focused_id)), look(current(other))), (
                        focused_id,
                        other,
                    )
        units, dropout = (app.query_one(f"#field-{n}", Input) for n in ("hidden_units", "dropout"))
        units.focus()
        await pilot.pause()
        assert clearly_apart(look(units), look(dropout))
        button = app.query_one("#train-button", Button)
        blurred = look(button)
        button.focus()
        await pilot.pause()
        assert clearly_apart(look(button), blurred)

        await pilot.press("5", "enter")
        await wait_for(lambda: app.query_one("#tabs").active == "results", pilot)  # type: ignore[attr-defined]
        await pilot.pause()
        confusion = app.query_one("#confusion", DataTable)
        assert confusion.has_focus
        focused = look(confusion)
        app.query_one("#per-class").focus()
        await pilot.pause()
        assert clearly_apart(focused, look(confusion))

        await pilot.press("4")
        await pilot.pause()
        viewer = app.query_one(SampleViewer)
        assert viewer.has_focus
        focused = look(app.query_one("#digit-art"))
        app.query_one("#filter-mode").focus()
        await pilot.pause()
        assert clearly_apart(focused, look(app.query_one("#digit-art")))
        viewer.focus()
        await pilot.press("g")
        await pilot.pause()
        focused = look(app.query_one("#digit-grid"))
        app.query_one("#filter-mode").focus()
        await pilot.pause()
        assert clearly_apart(focused, look(app.query_one("#digit-grid")))


# --- 3. fields that do not apply --------------------------------------------------------


async def test_a_field_that_does_not_apply_is_dimmed_and_not_checked(make_app: AppFactory) -> None:
    app = make_app(config=TrainConfig())  # an mlp trained with adam
    async with app.run_test(size=SIZE) as pilot:
        form = app.query_one(ConfigForm)
        for name, note in (("conv_filters", "(cnn only)"), ("momentum", "(sgd, rmsprop only)")):
            row = app.query_one(f"#row-{name}")
            assert row.has_class("-inapplicable") and row.styles.opacity < 1
            assert note in text_of(app, f"#hint-{name}")
        assert not app.query_one("#row-hidden_units").has_class("-inapplicable")
        conv = await type_into(pilot, "conv_filters", "32,x")
        momentum = await type_into(pilot, "momentum", "2")
        assert app.query_one("#row-momentum").styles.opacity == 1  # dimmed unless in use
        assert app.query_one("#row-conv_filters").styles.opacity < 1
        for name, widget in (("conv_filters", conv), ("momentum", momentum)):
            assert "✗" not in text_of(app, f"#hint-{name}")
            assert not widget.has_class("-invalid")
            assert not app.query_one(f"#row-{name}").has_class("-invalid")
        assert text_of(app, "#form-error") == ""
        assert not app.query_one("#train-button", Button).disabled
        # Each takes its last valid value: "32" (on the way to "32,x") and the first 0.9.
        assert form.config == TrainConfig(conv_filters=(32,))

        app.query_one("#field-architecture", Select).value = "cnn"
        await pilot.pause()
        assert not app.query_one("#row-conv_filters").has_class("-inapplicable")
        assert "✗" in text_of(app, "#hint-conv_filters") and conv.has_class("-invalid")
        assert app.query_one("#train-button", Button).disabled and form.config is None
        app.query_one("#field-optimizer", Select).value = "sgd"
        await pilot.pause()
        assert text_of(app, "#hint-momentum") == "✗ must be in [0, 1), got 2"
        assert momentum.has_class("-invalid")
        assert text_of(app, "#form-error") == "Fix Conv filters, Momentum to train."

        app.query_one("#field-architecture", Select).value = "mlp"
        app.query_one("#field-optimizer", Select).value = "rmsprop"
        await pilot.pause()
        assert not conv.has_class("-invalid") and momentum.has_class("-invalid")
        assert text_of(app, "#form-error") == "Fix Momentum to train: must be in [0, 1), got 2."


async def test_each_list_field_gives_its_own_example(make_app: AppFactory) -> None:
    app = make_app(config=PRESETS["CNN"])
    async with app.run_test(size=SIZE) as pilot:
        conv, hidden = text_of(app, "#hint-conv_filters"), text_of(app, "#hint-hidden_units")
        assert "32,64" in conv and "256,128" not in conv
        assert "256,128" in hidden
        await type_into(pilot, "conv_filters", "32,x")
        await type_into(pilot, "hidden_units", "")
        conv, hidden = text_of(app, "#hint-conv_filters"), text_of(app, "#hint-hidden_units")
        assert conv.startswith("✗ ") and "e.g. 32,64" in conv and "256,128" not in conv
        assert hidden.startswith("✗ ") and "256,128" in hidden


# --- 4. the confusion matrix's cursor ---------------------------------------------------


async def test_the_confusion_cursor_names_its_cell(
    make_app: AppFactory, tmp_path: Path, slice_data: MnistData
) -> None:
    write_fixed_run(tmp_path / "runs", slice_data)
    counts = RunStore(tmp_path / "runs").list()[0][0].confusion
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(lambda: app.data is not None, pilot)
        await pilot.press("5", "enter")
        await wait_for(lambda: app.query_one("#tabs").active == "results", pilot)  # type: ignore[attr-defined]
        await pilot.pause()
        first = f"true 0 → predicted 0: {counts[0, 0]} correct, Enter to view"
        assert text_of(app, "#confusion-cell") == first
        await pilot.press("left", "home")  # the row labels never take the cursor
        assert text_of(app, "#confusion-cell") == first
        for _ in range(9):
            await pilot.press("down")
        for _ in range(4):
            await pilot.press("right")
        await pilot.pause()
        shown = counts[9, 4]
        digits = "digit" if shown == 1 else "digits"
        assert text_of(app, "#confusion-cell") == (
            f"true 9 → predicted 4: {shown} {digits}, Enter to view"
            if shown
            else "true 9 → predicted 4: none"
        )
        await pilot.press("end", "up")
        await pilot.pause()
        assert text_of(app, "#confusion-cell").startswith("true 8 → predicted 9: ")
        await pilot.press("home", "up", "enter")
        await pilot.pause()
        assert app.query_one("#tabs").active == "samples"  # type: ignore[attr-defined]
        viewer = app.query_one(SampleViewer)
        assert len(viewer.selection) == counts[7, 0]


# --- 5. ASCII digits --------------------------------------------------------------------


async def test_ascii_digits_are_a_key_away_and_remembered(
    make_app: AppFactory, tmp_path: Path, slice_data: MnistData
) -> None:
    write_fixed_run(tmp_path / "runs", slice_data)

    def drawn(app: MnistApp) -> set[str]:
        return set(text_of(app, "#digit-art")) | set(text_of(app, "#digit-grid"))

    async def open_samples(app: MnistApp, pilot: Pilot[Any]) -> None:
        await wait_for(lambda: app.data is not None, pilot)
        await pilot.press("5", "enter")
        await wait_for(lambda: app.query_one("#tabs").active == "results", pilot)  # type: ignore[attr-defined]
        await pilot.press("4")
        await pilot.pause()

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_samples(app, pilot)
        viewer = app.query_one(SampleViewer)
        assert drawn(app) & BLOCKS  # half-blocks at first
        binding = next(
            (b for b in viewer.BINDINGS if isinstance(b, Binding) and b.id == "viewer.ascii"), None
        )
        assert binding is not None and binding.description and binding.tooltip
        await pilot.press(binding.key)
        await pilot.pause()
        art = text_of(app, "#digit-art")
        assert not set(art) & BLOCKS and set(art) & set("@%#*+=")
        assert len(art.splitlines()) == 14 and max(len(line) for line in art.splitlines()) == 28
        assert load_preferences()["digits"] == "ascii"
        await pilot.press("g")
        await pilot.pause()
        grid = text_of(app, "#digit-grid")
        assert "✓" in grid or "→" in grid
        assert not set(grid) & BLOCKS and set(grid) & set("@%#*+=")
    again = make_app()
    async with again.run_test(size=SIZE) as pilot:
        await open_samples(again, pilot)
        assert not drawn(again) & BLOCKS and set(text_of(again, "#digit-art")) & set("@%#")
        await pilot.press("a")
        await pilot.pause()
        assert drawn(again) & BLOCKS
        assert load_preferences()["digits"] == "blocks"


# --- 6. the viewer names its run --------------------------------------------------------


def small_evaluation(count: int = 40) -> tuple[Evaluation, np.ndarray]:
    """Predictions for ``count`` made-up digits (every fifth one wrong) and their images."""
    rng = np.random.default_rng(3)
    labels = np.arange(count) % 10
    predicted = np.where(np.arange(count) % 5 == 0, (labels + 1) % 10, labels)
    probabilities = np.full((count, 10), 0.02, dtype=np.float32)
    probabilities[np.arange(count), predicted] = 0.82
    images = rng.integers(0, 256, size=(count, 28, 28)).astype(np.uint8)
    return evaluate_probabilities(probabilities, labels), images


class ViewerApp(App[None]):
    CSS_PATH = str(Path(__file__).parents[2] / "mnist_tui" / "ui" / "app.tcss")

    def compose(self) -> ComposeResult:
        yield SampleViewer(id="viewer")


async def test_the_viewer_names_the_run_it_shows() -> None:
    evaluation, images = small_evaluation()
    app = ViewerApp()
    async with app.run_test(size=SIZE) as pilot:
        viewer = app.query_one(SampleViewer)
        title = "[bold]night run[/] (20261124-120000-mlp-0001)  mlp 128  (completed)"
        viewer.show_samples(evaluation, images, title=title)
        await pilot.pause()
        caption = app.query_one("#viewer-title", Static)
        assert str(caption.render()) == title  # as written, never read as markup
        assert caption.region.height == 1
        assert caption.region.y < app.query_one("#digit-art").region.y
        await pilot.press("g")
        await pilot.pause()
        assert caption.region.y < app.query_one("#digit-grid").region.y
        viewer.show_samples(evaluation, images)
        await pilot.pause()
        assert str(caption.render()) == ""
        viewer.show_samples(evaluation, images, title="a")
        viewer.clear("Run a was deleted.")
        await pilot.pause()
        assert str(caption.render()) == ""


# --- pictures ---------------------------------------------------------------------------

Snap = Callable[..., bool]


@pytest.fixture
def default_app(slice_data: MnistData, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> MnistApp:
    """The app with a user's defaults over a saved run with fixed predictions."""
    monkeypatch.chdir(tmp_path)
    write_fixed_run(tmp_path / "runs", slice_data)
    return MnistApp(
        config=TrainConfig(), runs_dir=Path("runs"), data_loader=lambda _say: slice_data
    )


def test_setup_form_in_a_light_theme(snap_compare: Snap, default_app: MnistApp) -> None:
    """The focused field on $accent; conv filters and momentum dimmed, the bad conv
    filters value not marked (an mlp has none)."""

    async def focus_units(pilot: Pilot[Any]) -> None:
        pilot.app.theme = "textual-light"
        pilot.app.query_one("#field-conv_filters", Input).value = "32,x"
        await type_into(pilot, "hidden_units", "128,64")

    assert snap_compare(default_app, terminal_size=(110, 24), run_before=ready(focus_units))


def test_ascii_digits(snap_compare: Snap, default_app: MnistApp) -> None:
    """The Samples tab in ASCII, on a mistake, under the run's name."""

    async def ascii_mistake(pilot: Pilot[Any]) -> None:
        await pilot.press("5", "enter")
        await wait_for(lambda: pilot.app.query_one("#tabs").active == "results", pilot)  # type: ignore[attr-defined]
        await pilot.press("4", "m", "right", "a")

    assert snap_compare(default_app, terminal_size=(110, 30), run_before=ready(ascii_mistake))
