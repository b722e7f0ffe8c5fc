"""The Sweep tab: the studies run before (to reopen or resume), a search space to fill
in, and a live view of a study's trials."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.coordinate import Coordinate
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Button, DataTable, Input, Label, Select, Static

from mnist_tui.core.config import (
    FIELDS,
    SUMMARY_NAMES,
    ConfigError,
    TrainConfig,
    format_field,
)
from mnist_tui.core.events import BatchProgress, EpochEnd, plural
from mnist_tui.core.sweeps.insight import (
    MIN_TRIALS_FOR_IMPORTANCE,
    param_importances,
    quiet_optuna,
)
from mnist_tui.core.sweeps.space import DEFAULT_SPACES, SearchSpace
from mnist_tui.core.sweeps.storage import (
    PRUNERS,
    StudyView,
    SweepError,
    SweepSettings,
    SweepStorage,
    TrialView,
    newest_first,
    sqlite_file,
)
from mnist_tui.core.sweeps.worker import (
    SweepEvent,
    TrialEnded,
    TrialLost,
    TrialProgress,
    TrialStarted,
    WorkerResult,
)
from mnist_tui.ui.widgets.line_chart import LineChart, Series
from mnist_tui.ui.widgets.measured_table import MeasuredTable

SPACE_FIELDS = (
    "hidden_units",
    "conv_filters",
    "dropout",
    "activation",
    "optimizer",
    "learning_rate",
    "lr_schedule",
    "batch_size",
    "epochs",
)
"""The fields the tab lets a sweep search; every other one is fixed at the Setup form's
value (the validation split at 0.1 when the form has none)."""
SPARKS = "▁▂▃▄▅▆▇█"
STATE_MARKS = {
    "complete": "done",
    "pruned": "pruned",
    "running": "running",
    "stopped": "stopped",
    "failed": "failed",
    "waiting": "waiting",
}
MAX_TRIALS = 10_000
POLL_SECONDS = 1.0
"""How often the study is read from its storage while the tab follows it (trials of
other workers, on this machine or others, show up too)."""
FIRST_PARAMS = ("learning_rate",)
"""What a trial's settings name first: a narrow column cuts the end, never these."""
SPACE_HELP = "Search: a value, a range lo..hi (:log after it), or a|b|c"
PAST_CAPTION = "Past studies: Enter shows one, to resume it"


@dataclass(frozen=True)
class SweepRequest:
    """What the user asked to run: a study (new or resumed) and how long to search."""

    study: str
    space: SearchSpace
    pruner: str
    trials: int | None
    minutes: float | None


def sparkline(values: tuple[float, ...], low: float, high: float) -> str:
    """One block per value, scaled between ``low`` and ``high``."""
    span = high - low or 1.0
    return "".join(
        SPARKS[min(len(SPARKS) - 1, max(0, int((v - low) / span * len(SPARKS))))] for v in values
    )


def params_text(params: tuple[tuple[str, str], ...]) -> str:
    """``lr=0.014 units=128 drop=0.159``: a trial's drawn settings, short, the learning
    rate first (:data:`FIRST_PARAMS`)."""
    parts = []
    for name, value in sorted(params, key=lambda param: param[0] not in FIRST_PARAMS):
        short = SUMMARY_NAMES.get(
            name,
            "units" if name == "hidden_units" else "filters" if name == "conv_filters" else name,
        )
        try:
            number = float(value)
            value = value if number.is_integer() else f"{number:.3g}"
        except ValueError:
            pass
        parts.append(f"{short}={value}" if short else value)
    return " ".join(parts)


def best_so_far(trials: tuple[TrialView, ...]) -> tuple[Series, ...]:
    """The best validation accuracy after each finished trial, and each trial's own."""
    done = [t for t in trials if t.val_accuracy is not None and t.state in ("complete", "pruned")]
    if not done:
        return ()
    best, running = [], 0.0
    for trial in done:
        if trial.state == "complete":
            running = max(running, trial.val_accuracy or 0.0)
        best.append(running)
    xs = tuple(float(t.number) for t in done)
    return (
        Series(
            "trial",
            xs,
            tuple(t.val_accuracy or 0.0 for t in done),
            colour=1,
            dashed=True,
            marker="•",
        ),
        Series("best", xs, tuple(best)),
    )


def study_summary(study: StudyView) -> str:
    """``7 trials: 4 done, 2 pruned, 1 running · best #3: 97.9% validation (97.7% test)``."""
    counts = [
        f"{study.count(state)} {STATE_MARKS[state]}"
        for state in ("complete", "pruned", "running", "stopped", "failed")
        if study.count(state)
    ]
    text = plural(len(study.trials), "trial") + (f": {', '.join(counts)}" if counts else "")
    best = study.best
    if best is not None and best.val_accuracy is not None:
        test = f" ({best.test_accuracy:.2%} test)" if best.test_accuracy is not None else ""
        text += f" · best #{best.number}: {best.val_accuracy:.2%} validation{test}"
    return text


def study_row(study: StudyView, shown: str) -> tuple[str, ...]:
    """A past study's row: ``▶`` if on show, its name, its trials, its best accuracy."""
    best = study.best
    return (
        "▶" if study.name == shown else "",
        study.name,
        str(len(study.trials)),
        _percent(best.val_accuracy if best is not None else None),
    )


class SweepView(Vertical, can_focus=True):
    """Reopen a past study, or set up a sweep (architecture, trials or minutes, pruner,
    each field's spec), and watch the study: the trials table, the best accuracy so far
    and which settings mattered. It asks the app to start and stop
    (:class:`SweepView.Start`), runs it and hands its events to :meth:`show_event`; the
    study comes from its storage (:meth:`show_study`)."""

    DEFAULT_CSS = """
    #sweep-setup {
        width: 46;
        padding-right: 1;
    }

    #sweep-past {
        height: auto;
        margin-bottom: 1;
    }

    SweepView.-no-studies #sweep-past {
        display: none;
    }

    #sweep-past-caption {
        color: $text-muted;
    }

    #sweep-studies {
        height: auto;
        max-height: 6;
    }

    .sweep-row {
        height: 1;
    }

    .sweep-label {
        width: 14;
        color: $text-muted;
    }

    .sweep-row Input, .sweep-row Select {
        width: 1fr;
    }

    .sweep-help {
        color: $text-muted;
        margin: 1 0;
    }

    .sweep-hint {
        color: $error;
        margin-left: 14;
    }

    .sweep-hint.-empty, SweepView .-unused {
        display: none;
    }

    #sweep-error {
        color: $error;
        height: auto;
        margin: 1 0;
    }

    #sweep-live {
        padding-left: 1;
    }

    #sweep-status {
        height: 2;
    }

    #sweep-chart {
        height: 12;
    }

    SweepView.-short #sweep-chart {
        height: 8;
    }

    SweepView.-narrow #sweep-setup {
        width: 1fr;
    }

    SweepView.-narrow #sweep-live, SweepView.-narrow.-live #sweep-setup {
        display: none;
    }

    SweepView.-narrow.-live #sweep-live {
        display: block;
    }

    #sweep-trials-table {
        height: 1fr;
    }

    #sweep-importance {
        height: auto;
        max-height: 8;
    }
    """

    BINDINGS = [
        Binding(
            "ctrl+r",
            "start",
            "Run sweep",
            id="sweep.start",
            tooltip="Start the sweep (or run more trials of the past study named)",
        ),
        # Only in a narrow terminal, where it is the way to the other half: before b and c,
        # which the footer drops first.
        Binding(
            "e",
            "toggle_setup",
            "Space/trials",
            id="sweep.toggle",
            tooltip="A narrow terminal shows the space or the trials: switch",
        ),
        Binding(
            "b",
            "best",
            "Best → form",
            id="sweep.best",
            tooltip="Load the best trial's settings into the Setup form",
        ),
        Binding(
            "c",
            "compare_top",
            "Compare top",
            id="sweep.compare",
            tooltip="Compare the best trials (up to 6) side by side",
        ),
    ]

    NARROW = 100
    """Columns under which the space and the trials take turns on the screen."""
    SHORT = 32
    """Rows under which the best-so-far chart gets smaller."""

    running: reactive[bool] = reactive(False, init=False, bindings=True)
    """A sweep is running in this app (bound to the app's ``sweeping``)."""

    @dataclass
    class Start(Message):
        """The user asked to run ``request``."""

        request: SweepRequest

    @dataclass
    class Chosen(Message):
        """The user asked for ``what`` (``best`` or ``compare``) of the study's trials,
        given by their saved runs' ids, best first."""

        run_ids: list[str]
        what: str

    @dataclass
    class StudyRead(Message):
        """The study as just read from its storage (posted from the poll thread)."""

        study: StudyView
        importances: list[tuple[str, float]]

    @dataclass
    class StudiesRead(Message):
        """Every study in the storage, the one that ran last first, or why they could not
        be read (posted from a thread)."""

        studies: list[StudyView]
        problem: str

    def __init__(
        self, base: TrainConfig, study_name: str, storage_url: str, *, id: str | None = None
    ) -> None:
        super().__init__(id=id, classes="-no-studies")
        self._base = base
        self._default_name = study_name
        self._url = storage_url
        self._study: StudyView | None = None
        self._followed = ""
        """The study on show, read from storage (the one last run or opened here)."""
        self._importances: list[tuple[str, float]] = []
        self._reader: SweepStorage | None = None
        self._reader_lock = threading.Lock()
        self._progress = ""
        self._known: dict[str, StudyView] = {}
        """The studies in the storage, by name, as last listed."""
        self._space_of = ""
        """The past study whose own space the fields show (locked), or ``""``."""

    def compose(self) -> ComposeResult:
        with Horizontal(id="sweep-columns"):
            with VerticalScroll(id="sweep-setup"):
                with Vertical(id="sweep-past"):
                    yield Static(PAST_CAPTION, id="sweep-past-caption", markup=False)
                    yield MeasuredTable(id="sweep-studies", cursor_type="row")
                with Horizontal(classes="sweep-row"):
                    yield Label("Study", classes="sweep-label")
                    yield Input(self._default_name, id="sweep-study", compact=True)
                with Horizontal(classes="sweep-row"):
                    yield Label("Architecture", classes="sweep-label")
                    yield Select(
                        [("mlp", "mlp"), ("cnn", "cnn")],
                        value=self._base.architecture,
                        allow_blank=False,
                        compact=True,
                        id="sweep-architecture",
                    )
                with Horizontal(classes="sweep-row"):
                    yield Label("Trials", classes="sweep-label")
                    yield Input("20", id="sweep-trials", type="integer", compact=True)
                with Horizontal(classes="sweep-row"):
                    yield Label("Minutes", classes="sweep-label")
                    yield Input(
                        "", placeholder="no limit", id="sweep-minutes", type="number", compact=True
                    )
                with Horizontal(classes="sweep-row"):
                    yield Label("Pruner", classes="sweep-label")
                    yield Select(
                        [(p, p) for p in PRUNERS],
                        value="median",
                        allow_blank=False,
                        compact=True,
                        id="sweep-pruner",
                    )
                yield Static(SPACE_HELP, id="sweep-space-help", classes="sweep-help", markup=False)
                for name in SPACE_FIELDS:
                    with Horizontal(classes="sweep-row", id=f"sweep-row-{name}"):
                        yield Label(FIELDS[name].label, classes="sweep-label")
                        yield Input(id=f"sweep-field-{name}", classes="sweep-field", compact=True)
                    yield Static("", id=f"sweep-hint-{name}", classes="sweep-hint", markup=False)
                yield Static("", id="sweep-error", markup=False)
                yield Button("Run sweep (ctrl+r)", id="sweep-run", variant="primary", compact=True)
            with Vertical(id="sweep-live"):
                yield Static(self._idle_text(), id="sweep-status", markup=False)
                yield LineChart(
                    "validation accuracy",
                    x_label="trial",
                    bounds=(0.0, 1.0),
                    whole_x=True,
                    id="sweep-chart",
                )
                yield MeasuredTable(id="sweep-trials-table", cursor_type="row", zebra_stripes=True)
                yield Static("", id="sweep-importance", markup=False)

    @property
    def storage_url(self) -> str:
        """Where the tab's studies live (an Optuna storage URL)."""
        return self._url

    def on_mount(self) -> None:
        table = self.query_one("#sweep-trials-table", DataTable)
        table.add_columns("#", "state", "val", "test", "s", "val by epoch", "settings")
        studies = self.query_one("#sweep-studies", DataTable)
        studies.add_column("", width=1)  # ▶ on the study on show
        studies.add_columns("study", "trials", "best")
        self._fill_defaults()
        self.set_interval(POLL_SECONDS, self._poll)

    def on_show(self) -> None:
        """The tab is on show: list the studies again (a sweep elsewhere may have run)."""
        self.list_studies()

    def focus_main(self) -> None:
        """Put the focus where the tab's keys act, never in a text field (so digits still
        switch tabs): the trials table once a study is on show, else the past studies,
        else the Run button."""
        trials_shown = not self.has_class("-narrow") or self.has_class("-live")
        studies = self.query_one("#sweep-studies", DataTable)
        button = self.query_one("#sweep-run", Button)
        if (self.running or self._followed) and trials_shown:
            self.query_one("#sweep-trials-table").focus()
        elif studies.row_count and not self.running:
            studies.focus()
        elif not button.disabled and not self.running:
            button.focus()
        else:
            self.focus()

    def on_unmount(self) -> None:
        if self._reader is not None:
            self._reader.close()

    # --- running ---------------------------------------------------------------------

    def show_running(self, request: SweepRequest) -> None:
        """The app runs ``request`` now (a new study, or more trials of an old one): follow
        its study, live."""
        self._follow(request.study)
        self._progress = ""
        self.add_class("-live")
        known = request.study in self._known
        self.show_status(
            f"Study {request.study}: {'running more trials' if known else 'starting'}…"
        )
        self.query_one("#sweep-trials-table").focus()  # b and c work from there

    def show_stopping(self) -> None:
        """The app asked the sweep to stop: the trial in training is saved as stopped."""
        self.show_status(f"Study {self._followed}: stopping after saving the trial in training…")

    def show_event(self, event: SweepEvent) -> None:
        """An event of the running sweep's worker: the status line says where it is."""
        match event:
            case TrialStarted():
                params = " ".join(f"{name}={value}" for name, value in event.params)
                self._progress = f"trial #{event.number} ({params})"
            case TrialProgress(event=BatchProgress() as batch):
                self._progress = (
                    f"trial #{event.number}: epoch {batch.epoch}, "
                    f"{batch.step / max(1, batch.steps):.0%}, "
                    f"acc {batch.accuracy:.3f}"
                )
            case TrialProgress(event=EpochEnd() as epoch) if epoch.val_accuracy is not None:
                self._progress = (
                    f"trial #{event.number}: epoch {epoch.epoch} "
                    f"validation {epoch.val_accuracy:.2%}"
                )
            case TrialEnded():
                self._progress = f"trial #{event.number} {STATE_MARKS.get(event.state)}" + (
                    f": {event.reason}" if event.reason else ""
                )
                self._poll()
            case TrialLost():
                self._progress = (
                    f"trial #{event.number} of {event.worker} lost its worker: marked failed"
                )
        self._show_status_line()

    def show_finished(self, result: WorkerResult | None, problem: str) -> None:
        """The sweep ended (the app's ``sweeping`` is off): its result, or why it could
        not go on."""
        if problem:
            self._progress = problem
        elif result is not None:
            self._progress = (
                f"{'stopped' if result.stopped else 'finished'}: "
                f"{plural(len(result.trials), 'trial')} run here"
            )
        self._poll()
        self._show_status_line()
        self.list_studies()

    def _poll(self) -> None:
        """Read the followed study again (in a thread), when the tab is on screen."""
        if self._followed and (self.running or self.is_on_screen):
            self._read_study(self._followed)

    def _open_reader(self) -> SweepStorage:
        """The storage, opened once for reading (by the poll and list threads)."""
        with self._reader_lock:
            if self._reader is None:
                self._reader = SweepStorage(self._url, create=False)
            return self._reader

    @work(
        thread=True,
        exclusive=True,
        exit_on_error=False,
        group="sweep-poll",
        description="Read the study",
    )
    def _read_study(self, name: str) -> None:
        quiet_optuna()
        try:
            reader = self._open_reader()
            study = reader.study(name)
            importances = param_importances(reader, name)
        except SweepError as exc:
            self.post_message(self.StudyRead(StudyView(name, None, str(exc), ()), []))
            return
        self.post_message(self.StudyRead(study, importances))

    @on(StudyRead)
    def _study_read(self, message: StudyRead) -> None:
        if message.study.name == self._followed:  # not one left a moment ago
            self.show_study(message.study, message.importances)

    def _show_status_line(self) -> None:
        if not self._followed:
            self.show_status(self._idle_text())
            return
        summary = study_summary(self._study) if self._study is not None else "reading…"
        lines = [f"Study {self._followed}: {summary}"]
        if self._progress:
            lines.append(("Running " if self.running else "Last: ") + self._progress)
        self.show_status("\n".join(lines))

    def _idle_text(self) -> str:
        if self._known:
            return (
                "No study on show: Enter on a past study opens it, or set a space and press ctrl+r."
            )
        return "No sweep yet: set the space and press ctrl+r."

    # --- past studies ----------------------------------------------------------------

    def list_studies(self) -> None:
        """Read the studies in the storage again (in a thread) into the past studies."""
        file = sqlite_file(self._url)
        if file is not None and not file.exists():  # no sweep yet: nothing to import
            self.post_message(self.StudiesRead([], ""))
        else:
            self._list_studies()

    @work(
        thread=True,
        exclusive=True,
        exit_on_error=False,
        group="sweep-list",
        description="List the studies",
    )
    def _list_studies(self) -> None:
        quiet_optuna()
        try:
            studies = newest_first(self._open_reader().studies())
        except SweepError as exc:
            self.post_message(self.StudiesRead([], str(exc)))
            return
        self.post_message(self.StudiesRead(studies, ""))

    @on(StudiesRead)
    def _studies_read(self, message: StudiesRead) -> None:
        self._known = {study.name: study for study in message.studies}
        table = self.query_one("#sweep-studies", DataTable)
        chosen = table.cursor_row
        table.clear()
        for study in message.studies:
            # Text, not str: a study's name is shown as written, never as markup.
            table.add_row(
                *(Text(cell, end="") for cell in study_row(study, self._followed)), key=study.name
            )
        if table.row_count:
            table.move_cursor(row=min(chosen, table.row_count - 1))
        caption = self.query_one("#sweep-past-caption", Static)
        caption.update(
            f"Past studies unreadable: {message.problem}" if message.problem else PAST_CAPTION
        )
        self.set_class(not message.studies and not message.problem, "-no-studies")
        self._study_named()
        if not self._followed:
            self._show_status_line()
        if (
            table.row_count
            and not self._followed
            and self.app.focused is self.query_one("#sweep-run")
        ):
            table.focus()  # where arriving on the tab would have put it, had they been known

    @on(DataTable.RowSelected, "#sweep-studies")
    def _study_chosen(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is not None:
            self.open_study(event.row_key.value)

    def open_study(self, name: str) -> None:
        """Show past study ``name`` (its trials, chart and importances) and put its name in
        the Study field, so that ctrl+r runs more of its trials."""
        self.query_one("#sweep-study", Input).value = name
        self._study_named(name)
        self.add_class("-live")
        self.focus_main()

    def _study_named(self, name: str | None = None) -> None:
        """The Study field names ``name`` (else what it holds): a past study is shown,
        and the fields show its own space, locked (a resume searches it); another name
        unlocks them."""
        if name is None:
            name = self.query_one("#sweep-study", Input).value.strip()
        known = self._known.get(name)
        if known is not None and not self.running:
            self._follow(name)
        space_of = name if known is not None and known.settings is not None else ""
        if space_of != self._space_of:
            self._space_of = space_of
            self._show_space(known.settings if known is not None and space_of else None)
        self._validate()

    def _follow(self, name: str) -> None:
        """Show study ``name`` from now on: read at once, then every second while shown."""
        if name == self._followed:
            return
        self._followed = name
        self._study, self._importances, self._progress = None, [], ""
        self.query_one("#sweep-chart", LineChart).set_data(())
        self.query_one("#sweep-trials-table", DataTable).clear()
        self._show_status_line()
        self._show_importances()
        table = self.query_one("#sweep-studies", DataTable)
        for row, key in enumerate(table.rows):
            table.update_cell_at(Coordinate(row, 0), Text("▶" if key.value == name else "", end=""))
        self._read_study(name)
        self.refresh_bindings()

    def _show_space(self, settings: SweepSettings | None) -> None:
        """Show a past study's own space in the fields, locked; ``None`` unlocks them (what
        they hold stays, to start a new study from)."""
        architecture = self.query_one("#sweep-architecture", Select)
        pruner = self.query_one("#sweep-pruner", Select)
        if settings is not None:
            texts = settings.space.texts()
            with self.prevent(Select.Changed):  # the architecture's defaults stay out
                architecture.value = settings.space.architecture
                pruner.value = settings.pruner
            for name in SPACE_FIELDS:
                self.query_one(f"#sweep-field-{name}", Input).value = texts.get(name, "")
            self._mark_unused(settings.space.architecture)
        for widget in (
            architecture,
            pruner,
            *(self.query_one(f"#sweep-field-{name}") for name in SPACE_FIELDS),
        ):
            widget.disabled = settings is not None
        self.query_one("#sweep-space-help", Static).update(
            SPACE_HELP
            if settings is None
            else f"Study {self._space_of}'s own space (a new name starts a new study):"
        )
        button = self.query_one("#sweep-run", Button)
        button.label = "Run sweep (ctrl+r)" if settings is None else "Run more trials (ctrl+r)"
        button.refresh(layout=True)  # a longer label widens the button

    # --- the space -------------------------------------------------------------------

    def set_base(self, base: TrainConfig) -> None:
        """The Setup form's config: the values every unsearched field keeps (checked
        against the space from when the tab is mounted)."""
        self._base = base
        if self.is_mounted:
            self._validate()

    def _fill_defaults(self) -> None:
        """Each field's default spec for the architecture chosen (the form's value when
        the architecture does not search it)."""
        architecture = self._architecture()
        defaults = DEFAULT_SPACES[architecture]
        base = self._base.replace(architecture=architecture)
        for name in SPACE_FIELDS:
            text = defaults.get(name, format_field(name, getattr(base, name)))
            self.query_one(f"#sweep-field-{name}", Input).value = text
        self._mark_unused(architecture)
        self._validate()

    def _mark_unused(self, architecture: str) -> None:
        """Hide the fields ``architecture`` has no use for."""
        for name in SPACE_FIELDS:
            unused = name == "conv_filters" and architecture != "cnn"
            for part in ("row", "hint"):
                self.query_one(f"#sweep-{part}-{name}").set_class(unused, "-unused")

    def _architecture(self) -> str:
        return str(self.query_one("#sweep-architecture", Select).value)

    @on(Select.Changed, "#sweep-architecture")
    def _architecture_changed(self) -> None:
        self._fill_defaults()

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        if event.input.id == "sweep-study":
            self._study_named()
        else:
            self._validate()

    def _given(self) -> dict[str, Any]:
        given: dict[str, Any] = {"architecture": self._architecture()}
        for name in SPACE_FIELDS:
            if name != "conv_filters" or given["architecture"] == "cnn":
                given[name] = self.query_one(f"#sweep-field-{name}", Input).value.strip()
        return given

    def request(self) -> SweepRequest | None:
        """The sweep the form describes, or ``None`` while something in it is wrong (the
        reasons show beside the fields)."""
        return self._validate()

    def _validate(self) -> SweepRequest | None:
        errors: dict[str, str] = {}
        space: SearchSpace | None = None
        study = self.query_one("#sweep-study", Input).value.strip()
        known = self._known.get(study)
        pruner = str(self.query_one("#sweep-pruner", Select).value)
        if known is not None and known.settings is not None:  # a resume searches its own
            space, pruner = known.settings.space, known.settings.pruner
        else:
            try:
                space = SearchSpace.build(self._base.to_dict(), self._given())
            except ConfigError as exc:
                errors = dict(exc.errors)
        trials_text = self.query_one("#sweep-trials", Input).value.strip()
        minutes_text = self.query_one("#sweep-minutes", Input).value.strip()
        trials = int(trials_text) if trials_text.lstrip("-").isdigit() else None
        minutes = _positive(minutes_text)
        general = []
        if trials is None or not 1 <= trials <= MAX_TRIALS:
            general.append(f"Trials: a whole number from 1 to {MAX_TRIALS:,}.")
        if minutes_text and minutes is None:
            general.append("Minutes: a number above 0, or blank for no limit.")
        if not study:
            general.append("Study: give it a name (a new one starts it, an old one resumes).")
        elif known is not None and known.settings is None:
            general.append(
                f"Study: {study} cannot be resumed here ({known.problem}); give a new name."
            )
        for name in SPACE_FIELDS:
            hint = self.query_one(f"#sweep-hint-{name}", Static)
            reason = errors.pop(name, "")
            hint.update(reason)
            hint.set_class(not reason, "-empty")
        general += [
            f"{FIELDS[name].label if name in FIELDS else name}: {why}"
            for name, why in errors.items()
        ]
        self.query_one("#sweep-error", Static).update("\n".join(general))
        self.query_one("#sweep-run", Button).disabled = bool(general) or space is None
        if general or space is None:
            return None
        return SweepRequest(study=study, space=space, pruner=pruner, trials=trials, minutes=minutes)

    # --- actions ---------------------------------------------------------------------

    def action_start(self) -> None:
        """Ask the app to run the sweep the form describes."""
        request = self._validate()
        if request is None:
            self.notify(
                "Fix what is marked in the sweep's settings first.",
                title="Sweep",
                severity="warning",
                markup=False,
            )
        elif not self.running:
            self.post_message(self.Start(request))

    @on(Button.Pressed, "#sweep-run")
    def _run_pressed(self) -> None:
        self.action_start()

    def _ranked_runs(self) -> list[str]:
        """Run ids of the complete trials, best validation accuracy first."""
        if self._study is None:
            return []
        done = [
            t
            for t in self._study.trials
            if t.state == "complete" and t.val_accuracy is not None and t.run_id
        ]
        done.sort(key=lambda t: (-(t.val_accuracy or 0.0), t.number))
        return [t.run_id for t in done if t.run_id]

    def action_best(self) -> None:
        """Ask for the best trial's settings in the form."""
        ranked = self._ranked_runs()
        if ranked:
            self.post_message(self.Chosen(ranked[:1], "best"))
        else:
            self.notify("No finished trial yet.", severity="warning", markup=False)

    def action_compare_top(self) -> None:
        """Ask to compare the best trials (2 to 6)."""
        ranked = self._ranked_runs()
        if len(ranked) >= 2:
            self.post_message(self.Chosen(ranked[:6], "compare"))
        else:
            self.notify(
                "Two finished trials are needed to compare.", severity="warning", markup=False
            )

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Start only when idle; best and compare only once trials have finished."""
        if action == "start":
            return not self.running or None
        if action in ("best", "compare_top"):
            return bool(self._ranked_runs()) or None
        if action == "toggle_setup":
            return self.has_class("-narrow") and bool(self._followed)
        return True

    def action_toggle_setup(self) -> None:
        """In a narrow terminal: show the space, or the study's trials (the focus goes
        with them, never left on a hidden widget)."""
        self.toggle_class("-live")
        self.focus_main()

    def on_resize(self) -> None:
        self.set_class(self.size.width < self.NARROW, "-narrow")
        short = self.size.height < self.SHORT
        if short != self.has_class("-short"):
            self.set_class(short, "-short")
            self._show_importances()
        self.refresh_bindings()

    def watch_running(self, running: bool) -> None:
        self.query_one("#sweep-setup").disabled = running

    # --- the study -------------------------------------------------------------------

    def show_study(self, study: StudyView, importances: list[tuple[str, float]]) -> None:
        """Show ``study`` as read from its storage, and the settings' importances (empty
        until enough trials are complete)."""
        self._study, self._importances = study, importances
        if study.problem:
            self._progress = study.problem
        self._show_status_line()
        self.query_one("#sweep-chart", LineChart).set_data(best_so_far(study.trials))
        self._fill_table(study)
        self._show_importances()
        self.refresh_bindings()

    def show_status(self, text: str) -> None:
        """A line about the sweep (started, stopped, failed), shown as written."""
        self.query_one("#sweep-status", Static).update(text)

    def _fill_table(self, study: StudyView) -> None:
        table = self.query_one("#sweep-trials-table", DataTable)
        curves = [v for t in study.trials for v in t.val_curve]
        low, high = (min(curves), max(curves)) if curves else (0.0, 1.0)
        best = study.best
        row = table.cursor_row
        table.clear()
        for trial in study.trials:
            mark = "*" if best is not None and trial.number == best.number else ""
            cells = (
                f"{mark}{trial.number}",
                STATE_MARKS.get(trial.state, trial.state),
                _percent(trial.val_accuracy),
                _percent(trial.test_accuracy),
                f"{trial.seconds:.0f}" if trial.seconds is not None else "",
                sparkline(trial.val_curve, low, high),
                params_text(trial.params),
            )
            # Text, not str: what a storage holds is shown as written, never as markup.
            table.add_row(*(Text(cell, end="") for cell in cells), key=str(trial.number))
        if table.row_count:
            table.move_cursor(row=min(row, table.row_count - 1))

    def _show_importances(self) -> None:
        widget = self.query_one("#sweep-importance", Static)
        widget.update(self._importances_text())

    def _importances_text(self) -> str | Content:
        """Which settings mattered, or how many more complete trials that needs."""
        if not self._followed:
            return ""
        complete = self._study.count("complete") if self._study is not None else 0
        if not self._importances:
            if complete < MIN_TRIALS_FOR_IMPORTANCE:
                return (
                    f"Which settings matter shows from {MIN_TRIALS_FOR_IMPORTANCE} "
                    f"complete trials ({complete} so far)."
                )
            return "Which settings matter: none of those searched differs among the trials."
        trials = plural(complete, "complete trial")
        if self.has_class("-short"):  # one line: the rows go to the trials
            shares = " · ".join(f"{name} {share:.2f}" for name, share in self._importances)
            return f"Mattered ({trials}): {shares}"
        width = 20
        lines = [f"Which settings mattered ({trials}, Optuna's PED-ANOVA):"]
        for name, share in self._importances:
            bar = "█" * round(share * width)
            lines.append(f"  {name:<14} {bar:<{width}} {share:.2f}")
        return Content("\n".join(lines))


def _percent(value: float | None) -> str:
    return f"{value:.2%}" if value is not None else ""


def _positive(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if 0 < value < 1e6 else None
