"""The mnist-tui Textual app: the frame around the tabs (:mod:`mnist_tui.ui.tabs`), and
where the engine's messages are handed to the widgets that show them."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from textual import events, on, work
from textual.actions import SkipAction
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.reactive import reactive
from textual.screen import Screen
from textual.widget import MountError, Widget
from textual.widgets import Header, Input, TabbedContent, TabPane
from textual.worker import Worker, WorkerState

from mnist_tui.core.config import TrainConfig
from mnist_tui.core.data.mnist import DataError, MnistData, load_mnist
from mnist_tui.core.engine.evaluation import Evaluation
from mnist_tui.core.engine.heap import freeze_long_lived
from mnist_tui.core.events import (
    OUTCOME_TEXT,
    BatchProgress,
    ControlApplied,
    EpochEnd,
    EvaluationStarted,
    RunSaved,
    TrainingFinished,
    TrainingStarted,
    plural,
)
from mnist_tui.core.runs.annotations import AnnotationError
from mnist_tui.core.runs.store import RunError, RunInfo, RunStore
from mnist_tui.core.sweeps.worker import TrialEnded
from mnist_tui.ui import commands, session, terminal_guard
from mnist_tui.ui.commands import action_name
from mnist_tui.ui.messages import (
    BrowseDisagreements,
    CompareReady,
    DataFailed,
    DataLoaded,
    DataStatus,
    EngineEvent,
    EngineReady,
    NoRun,
    RunReady,
    SweepEnded,
    SweepProgress,
)
from mnist_tui.ui.preferences import load_preferences, save_preference
from mnist_tui.ui.screens.annotate import AnnotateScreen, AnnotationEdit
from mnist_tui.ui.screens.compare import CompareScreen
from mnist_tui.ui.screens.dialogs import ConfirmScreen, ErrorScreen, HelpScreen
from mnist_tui.ui.screens.export import ExportScreen
from mnist_tui.ui.screens.rate import RateScreen
from mnist_tui.ui.session import Session
from mnist_tui.ui.signals import QuitSignals
from mnist_tui.ui.tabs import TABS, Pane, TabContext, find_tab, tab_hint, tab_keys
from mnist_tui.ui.tabs.draw_view import DrawView
from mnist_tui.ui.tabs.results_view import ResultsView
from mnist_tui.ui.tabs.runs_view import RunsView
from mnist_tui.ui.tabs.samples_view import SampleViewer
from mnist_tui.ui.tabs.setup_form import ConfigForm
from mnist_tui.ui.tabs.sweep_view import SweepView
from mnist_tui.ui.tabs.training_view import TrainingView
from mnist_tui.ui.widgets.footer import KeysFooter
from mnist_tui.ui.widgets.status_bar import StatusBar

FINISHED = frozenset({WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED})
PaneWidget = TypeVar("PaneWidget", bound=Widget)


class MnistApp(App[None]):
    """Train and inspect MNIST models from the terminal."""

    CSS_PATH = "app.tcss"
    AUTO_FOCUS = "#preset"
    TITLE = "mnist-tui"
    SUB_TITLE = "train and inspect MNIST models"

    training: reactive[bool] = reactive(False, init=False, bindings=True)
    """A training runs (Train is off, Stop on, the form locked while shown)."""
    sweeping: reactive[bool] = reactive(False, init=False, bindings=True)
    """A sweep runs (Train is off, Stop on; the Sweep tab shows it live)."""
    data: reactive[MnistData | None] = reactive(None, init=False, always_update=True, bindings=True)
    """The loaded, verified MNIST (``None`` until it is loaded)."""
    data_status: reactive[str] = reactive("Loading MNIST…", init=False)
    """What the loader says while MNIST loads (or why it could not)."""
    device: reactive[str] = reactive("TensorFlow not loaded yet", init=False)
    """Where TensorFlow trains, once it is imported."""
    form_valid: reactive[bool] = reactive(True, init=False, bindings=True)
    """Every field of the form holds a valid value."""
    shown_run: reactive[RunInfo | None] = reactive(None, init=False, always_update=True)
    """The run whose results, digits and curves are on show."""
    paused: reactive[bool] = reactive(False, init=False, bindings=True)
    """The running training waits between steps (the engine confirmed the pause)."""

    BINDINGS = [
        Binding(
            "ctrl+t",
            "train",
            "Train",
            priority=True,
            id="app.train",
            tooltip="Train a model with the settings in the form",
        ),
        Binding(
            "ctrl+s",
            "stop",
            "Stop",
            priority=True,
            id="app.stop",
            tooltip="Stop training now; what was learned is evaluated and saved",
        ),
        Binding("f1", "help", "Help", id="app.help", tooltip="Keys and what they do"),
        Binding(
            "ctrl+a",
            "select_all",
            "Select all",
            show=False,
            priority=True,
            id="app.select_all",
            tooltip="In a text field: select all of it, so what is typed replaces it",
        ),
        Binding(
            "ctrl+q",
            "quit",
            "Quit",
            priority=True,
            id="app.quit",
            tooltip="Quit (a running training is stopped and saved first)",
        ),
        Binding(
            "escape",
            "leave_field",
            "Leave field",
            show=False,
            id="app.leave_field",
            tooltip=f"Leave the text field for its tab's keys ({tab_keys()} switch tabs)",
        ),
        *[
            Binding(
                tab.key,
                f"show_tab('{tab.id}')",
                tab.title,
                show=False,
                id=f"app.tab.{tab.id}",
                tooltip=f"Show the {tab.title} tab",
            )
            for tab in TABS
        ],
    ]

    def __init__(
        self,
        config: TrainConfig | None = None,
        data_path: str | None = None,
        runs_dir: Path | None = None,
        data_loader: Callable[[Callable[[str], None]], MnistData] | None = None,
    ) -> None:
        super().__init__()
        terminal_guard.install()  # nothing on screen acts on the terminal
        self._initial_config = config or TrainConfig()
        self._data_path = data_path
        self._data_loader = data_loader
        self.store = RunStore(runs_dir)
        self.session: Session | None = None
        """The training or sweep running, or the last one (``None`` before the first)."""
        self._quit_session: Session | None = None
        """The training or sweep that ran when the app began to quit."""
        self._animation_level = self.animation_level
        self._evaluation: Evaluation | None = None
        """The test results of :attr:`shown_run`."""
        self._opened_while_training = False
        """The user opened a saved run while a training ran: its end does not replace it."""
        self._browsed: tuple[list[RunInfo], list[Evaluation], str] | None = None
        """The compared runs whose disagreements the Samples tab shows, their results and
        the tab the comparison was opened from (escape goes back to it)."""
        self._stale_tabs: set[str] = {"runs"}
        """Tabs whose content is out of date; each is drawn when it is next shown."""
        self._quitting = False
        """Set when the app begins to quit."""
        self._signals = QuitSignals(self.quit_now)
        context = TabContext(self._initial_config, self.store.root)
        self._panes: dict[str, Widget] = {tab.id: tab.make(context) for tab in TABS}
        """Each tab's widget, by tab id: the first tab's is composed with the app's first
        frame, the others' mounted just after it (:meth:`_mount_later_tabs`)."""
        self.tabs_mounted = False
        """Every tab's widget is mounted (:meth:`_mount_later_tabs`)."""
        self._train_when_mounted = False
        """Train was asked for before the tabs were mounted."""

    # --- layout ------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header()
        first, *later = TABS
        with TabbedContent(initial=first.id, id="tabs"):
            with TabPane(f"{first.key} {first.title}", id=first.id):
                yield self._panes[first.id]
            for tab in later:  # filled after the first frame
                yield TabPane(f"{tab.key} {tab.title}", id=tab.id)
        self.sweep_view.data_bind(running=MnistApp.sweeping)
        status = StatusBar(id="status-bar")
        status.runs_root = str(self.store.root)
        yield status.data_bind(
            MnistApp.data, MnistApp.data_status, MnistApp.device, MnistApp.training, MnistApp.paused
        )
        yield KeysFooter()

    async def _mount_later_tabs(self) -> None:
        """Put each tab's widget into its pane, once the first frame is on screen.

        The tabs after the first are about half of the app's widgets: mounted with the
        first frame, they made the user wait about 0.3 s longer for it. Until they are
        mounted (:attr:`tabs_mounted`), nothing reaches into them. Cycle collection,
        which ``mnist-tui`` keeps off while it starts, is on again from here.
        """
        gc.enable()
        for tab in TABS[1:]:
            if not self.is_running:  # it is closing (a quit signal at start)
                return
            try:
                await self.query_one(f"#{tab.id}", TabPane).mount(self._panes[tab.id])
            except MountError:  # it began closing during the mount
                return
        self.tabs_mounted = True
        if self._train_when_mounted:
            self.action_train()
            return
        shown = self.query_one(TabbedContent).active
        if shown != TABS[0].id:  # shown before its widget was there
            self._draw_tab(shown)
            self.pane(shown).focus_main()

    def _pane(self, cls: type[PaneWidget]) -> PaneWidget:
        """The tab widget of class ``cls``."""
        return next(pane for pane in self._panes.values() if isinstance(pane, cls))

    @property
    def form(self) -> ConfigForm:
        """The Setup tab's form."""
        return self._pane(ConfigForm)

    @property
    def training_view(self) -> TrainingView:
        """The Training tab's widget."""
        return self._pane(TrainingView)

    @property
    def results_view(self) -> ResultsView:
        """The Results tab's widget."""
        return self._pane(ResultsView)

    @property
    def viewer(self) -> SampleViewer:
        """The Samples tab's widget."""
        return self._pane(SampleViewer)

    @property
    def runs_view(self) -> RunsView:
        """The Runs tab's widget."""
        return self._pane(RunsView)

    @property
    def sweep_view(self) -> SweepView:
        """The Sweep tab's widget."""
        return self._pane(SweepView)

    @property
    def draw_view(self) -> DrawView:
        """The Draw tab's widget."""
        return self._pane(DrawView)

    def pane(self, tab: str) -> Pane:
        """The widget of ``tab``."""
        widget: Any = self._panes[tab]
        return widget  # type: ignore[no-any-return]

    def on_mount(self) -> None:
        theme = load_preferences().get("theme")
        if theme in self.available_themes:
            self.theme = theme  # the one chosen last time
        self._signals.take()
        self.load_data()
        self.call_after_refresh(self._mount_later_tabs)

    def watch_theme(self, theme: str) -> None:
        """Remember a theme the user picks (command palette), for the next start."""
        try:
            save_preference("theme", theme)
        except OSError as exc:
            self.notify(
                f"The theme could not be remembered: {exc}", severity="warning", markup=False
            )

    def on_unmount(self) -> None:
        self._quitting = True
        self._signals.give_back()

    def watch_training(self, training: bool) -> None:
        self._sync_form_lock()

    # --- data and engine ---------------------------------------------------------------------

    @work(
        thread=True,
        exclusive=True,
        exit_on_error=False,
        group="data",
        description="Loading MNIST and TensorFlow",
    )
    def load_data(self) -> None:
        """Load and verify MNIST, then import TensorFlow, off the UI thread."""

        def say(text: str) -> None:
            self.post_message(DataStatus(text))

        try:
            if self._data_loader is not None:
                data = self._data_loader(say)
            else:
                data = load_mnist(self._data_path, progress=say)
        except DataError as exc:
            self.post_message(DataFailed(exc.explain()))
            return
        self.post_message(DataLoaded(data))
        say("Starting TensorFlow…")
        from mnist_tui.core.engine.training import describe_device  # the heavy import, done here

        device = describe_device()
        freeze_long_lived()  # TensorFlow and MNIST stay: no full collection walks them again
        self.post_message(EngineReady(device))

    @on(DataStatus)
    def _data_status(self, message: DataStatus) -> None:
        self.data_status = message.text

    @on(DataLoaded)
    def _data_loaded(self, message: DataLoaded) -> None:
        self.data = message.data

    @on(EngineReady)
    def _engine_ready(self, message: EngineReady) -> None:
        self.device = message.device

    @on(DataFailed)
    def _data_failed(self, message: DataFailed) -> None:
        self.data_status = "MNIST could not be loaded: training is off (F1 for help)"
        self.push_screen(ErrorScreen("MNIST could not be loaded", message.explanation))

    # --- training ----------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return None if self.why_not(action) else True

    def why_not(self, action: str) -> str | None:
        """Why ``action`` cannot run now, in a user's words; ``None`` when it can."""
        if action == "train":
            if self.training:
                return "A training is running: stop it first (ctrl+s)."
            if self.sweeping:
                return f"A sweep is running ({tab_hint('sweep')}): stop it first (ctrl+s)."
            if self.data is None:
                return "MNIST is not loaded yet: see the status line."
            if not self.form_valid:
                return "Fix the marked fields in Setup first."
        if action == "stop" and not (self.training or self.sweeping):
            return "Nothing is training: ctrl+t starts a run."
        if action in commands.STEERING:
            return self._why_not_steer(action)
        return None

    def _why_not_steer(self, action: str) -> str | None:
        if not self.training or self.session is None:
            return "Nothing is training: ctrl+t starts a run."
        if self.session.stopping:
            return "The training is stopping."
        if action == "toggle_early_stopping" and not self.session.config.validation_split:
            return "Early stopping needs a validation split: set one in Setup for a new run."
        return None

    def on_key(self, event: events.Key) -> None:
        """A key whose app binding is off now says why, instead of doing nothing (the
        Training tab's steering keys too, while that tab has the focus)."""
        bindings = [b for b in self.BINDINGS if isinstance(b, Binding)]
        if isinstance(self.focused, TrainingView):
            bindings += Binding.make_bindings(TrainingView.BINDINGS)
        for binding in bindings:
            if event.key in binding.key.split(","):
                reason = self.why_not(action_name(binding))
                if reason is not None:
                    event.stop()
                    self.notify(reason, title=binding.description, severity="warning", markup=False)
                return

    @on(ConfigForm.Changed)
    def _form_changed(self, message: ConfigForm.Changed) -> None:
        self.form_valid = message.config is not None
        if message.config is not None:  # what a sweep keeps fixed
            self.sweep_view.set_base(message.config)

    @on(SweepView.Start)
    def _sweep_start(self, message: SweepView.Start) -> None:
        reason = (
            "A training is running: let it end or stop it (ctrl+s) first."
            if self.training
            else None
            if self.data is not None
            else "MNIST is not loaded yet: see the status line."
        )
        if reason is not None or self.data is None:
            self.notify(reason or "", title="Sweep", severity="warning", markup=False)
            return
        if self.sweeping:
            return
        self.session = job = Session("sweep", self.form.config or self._initial_config)
        self.sweeping = True
        self.sweep_view.show_running(message.request)
        self.run_worker(
            partial(
                session.sweep,
                job,
                message.request,
                self.sweep_view.storage_url,
                self.data,
                self.store,
                self.post_message,
            ),
            thread=True,
            exclusive=True,
            exit_on_error=False,
            group="sweep",
            description="Sweep",
        )

    @on(SweepProgress)
    def _sweep_progress(self, message: SweepProgress) -> None:
        self.sweep_view.show_event(message.event)
        if isinstance(message.event, TrialEnded):
            self._stale_tabs.add("runs")  # each trial is a saved run

    @on(SweepEnded)
    def _sweep_ended(self, message: SweepEnded) -> None:
        self._stale_tabs.add("runs")
        self.sweeping = False
        self.sweep_view.show_finished(message.result, message.problem)

    @on(SweepView.Chosen)
    def _sweep_chosen(self, message: SweepView.Chosen) -> None:
        try:
            runs = [self.store.load(run_id) for run_id in message.run_ids]
        except RunError as exc:
            self.notify(
                f"The trial's run cannot be read: {exc}",
                title="Sweep",
                severity="warning",
                markup=False,
            )
            return
        if message.what == "best":
            self.form.set_config(runs[0].config)
            self.action_show_tab("setup")
            self.notify(
                f"Settings of the best trial, {runs[0].label}, loaded into the form", markup=False
            )
        elif self.data is not None:
            self.compare_runs(runs, self.data)

    @on(ConfigForm.TrainPressed)
    def _train_pressed(self) -> None:
        self.action_train()

    def action_train(self) -> None:
        """Train with the form's settings."""
        config = self.form.config
        reason = self.why_not("train") or (None if config else "Fix the marked fields first.")
        if reason is not None or config is None or self.data is None:
            self.notify(reason or "", title="Train", severity="warning", markup=False)
            return
        try:
            annotation = self.form.annotation
        except AnnotationError as exc:
            self.notify(
                f"The run's tags cannot be kept: {exc}",
                title="Train",
                severity="warning",
                markup=False,
            )
            return
        if not self.tabs_mounted:  # a key typed ahead at start: train once they are
            self._train_when_mounted = True
            return
        self.form.clear_run_words()
        self.session = job = Session("training", config)
        self.paused = False
        self._opened_while_training = False
        # No animations while TensorFlow wants both cores (the tab underline's slide is
        # many frames). The user's own level comes back afterwards.
        self._animation_level, self.animation_level = self.animation_level, "none"
        view = self.training_view
        view.reset()
        view.set_loss_floor(config.loss_floor)
        view.set_status(f"Starting: {config.summary()}, {plural(config.epochs, 'epoch')}…")
        self.results_view.follow_training(
            config.summary(), config.epochs, validation=config.validation_split > 0
        )
        self._stale_tabs.discard("results")  # about this run now, until it ends
        self.action_show_tab("training")
        # Only now: with the Setup tab gone, the form needs no locking (a restyle of
        # every field) before the run starts.
        self.training = True
        # The Training tab is drawn first: its first layout and paint would otherwise
        # compete for the GIL with the worker's model building and tracing.
        self.call_after_refresh(
            self.run_worker,
            partial(
                session.train,
                job,
                self.data,
                self.store,
                None if annotation.empty else annotation,
                self.post_message,
            ),
            thread=True,
            exclusive=True,
            exit_on_error=False,
            group="training",
            description="Training",
        )

    def action_stop(self) -> None:
        """Ask the training (or the sweep) to stop after the current batch."""
        job = self.session
        if job is None or not (self.training or self.sweeping) or not job.stop():
            return
        if self.sweeping:
            self.sweep_view.show_stopping()  # its thread saves the trial in training as stopped
        else:
            self.training_view.set_status("Stopping after this batch…")

    def action_pause(self) -> None:
        """Pause the training between steps, or let it carry on."""
        if self.why_not("pause") is not None or self.session is None:
            return
        control = self.session.control
        if control.paused:
            control.resume()
            self.training_view.set_status("Resuming…")
        else:
            control.pause()
            self.training_view.set_status("Pausing after this step…")

    def action_scale_rate(self, factor: float) -> None:
        """Multiply the learning rate by ``factor`` from the next step on."""
        if self.why_not("scale_rate") is None and self.session is not None:
            self.session.control.scale_learning_rate(factor)
            self._say_rate_change()

    def action_set_rate(self) -> None:
        """Ask for a new learning rate (a dialog checks it as the form does)."""
        job = self.session
        if self.why_not("set_rate") is not None or job is None:
            return

        def chosen(rate: float | None) -> None:
            if rate is not None and self.why_not("set_rate") is None and job is self.session:
                job.control.set_learning_rate(rate)
                self._say_rate_change()

        self.push_screen(RateScreen(job.learning_rate), chosen)

    def _say_rate_change(self) -> None:
        """The status says where the changes asked so far take the rate."""
        text = self.session.rate_change_text() if self.session is not None else None
        if text is not None:
            self.training_view.set_status(text)

    def action_stop_after_epoch(self) -> None:
        """End the run when this epoch ends (asked again: carry on)."""
        if self.why_not("stop_after_epoch") is None and self.session is not None:
            control = self.session.control
            control.set_stop_after_epoch(not control.stopping_after_epoch)

    def action_toggle_early_stopping(self) -> None:
        """Turn early stopping on or off for the rest of the run."""
        if self.why_not("toggle_early_stopping") is None and self.session is not None:
            control = self.session.control
            control.set_early_stopping(not control.early_stopping)

    def _control_applied(self, event: ControlApplied) -> None:
        """A change took effect: the progress line, the status and a notification say so."""
        view = self.training_view
        match event.kind:
            case "pause":
                self.paused = True
                view.set_paused(True)
                view.set_status("Paused: p resumes; ctrl+s stops and saves the run.")
                return
            case "resume":
                self.paused = False
                view.set_paused(False, event.value)
                view.set_status(f"Resumed after {event.value:.1f}s paused.")
                return
            case "learning_rate":
                text = f"Learning rate now {event.value:.3g} (from step {event.step:,})"
            case "stop_after_epoch":
                text = (
                    "The run stops when this epoch ends"
                    if event.value
                    else "The run carries on past this epoch"
                )
            case "early_stopping":
                text = f"Early stopping {'on' if event.value else 'off'}"
        view.set_status(f"{text}.")
        self.notify(text, title="Training", markup=False)

    @on(EngineEvent)
    def _engine_event(self, message: EngineEvent) -> None:
        view = self.training_view
        event = message.event
        if self.session is not None:
            self.session.observe(event)
        match event:
            case TrainingStarted():
                view.show_started(event)
                view.set_status(event.description)
            case BatchProgress():
                view.show_batch(event)
            case ControlApplied():
                self._control_applied(event)
            case EpochEnd():
                view.show_epoch(event)
                self._results_epoch(event)
            case TrainingFinished():
                view.show_finished(event.seconds)
                view.set_status(f"{event.summary}.")
            case EvaluationStarted():
                view.set_status(f"Evaluating on {event.samples:,} test digits and saving…")
            case RunSaved():
                view.set_status(
                    f"Run {OUTCOME_TEXT[event.outcome]}: test accuracy "
                    f"{event.test_accuracy:.2%}. Saved to {event.path}  "
                    f"({find_tab('results').key}: results, {find_tab('samples').key}: samples)"
                )
                if event.warning:
                    self.notify(
                        f"The run was {event.warning}.",
                        title="Run saved",
                        severity="warning",
                        markup=False,
                        timeout=12,
                    )

    @property
    def results_follow_training(self) -> bool:
        """The Results tab shows the running training's validation look (not a saved
        run's results): from its start until its run is ready, unless the user opened a
        saved run meanwhile."""
        return self.training and not self._opened_while_training

    def _results_epoch(self, event: EpochEnd) -> None:
        """The Results tab takes the epoch's validation look: drawn now if the tab is on
        show, else when it is next shown."""
        self.results_view.add_epoch(event)
        if event.val_confusion is None or not self.results_follow_training:
            return
        self._stale_tabs.add("results")
        if self.query_one(TabbedContent).active == "results":
            self._draw_tab("results")

    def _training_over(self, note: str | None = None) -> None:
        """The training ended; with a ``note``, without a run: the Results tab goes back
        to the run on show, or says ``note`` when there is none."""
        following = self.results_follow_training
        self.training = self.paused = False
        self.animation_level = self._animation_level
        if note is None or not following:
            return
        if self.shown_run is None or self._evaluation is None:
            self.results_view.clear(note)
        else:
            self._stale_tabs.add("results")
            self._draw_tab(self.query_one(TabbedContent).active)

    @on(NoRun)
    def _no_run(self, message: NoRun) -> None:
        self._training_over(message.reason)
        self.training_view.set_status(message.reason)

    @on(RunReady)
    def _run_ready(self, message: RunReady) -> None:
        run = message.run
        self._stale_tabs.add("runs")
        if message.fresh:
            self._training_over()
            if self._opened_while_training and self.shown_run is not None:
                # The user is looking at another run: the new one waits in Runs.
                self.notify(
                    f"{run.label}: test accuracy {run.test_accuracy:.2%}. Still "
                    f"showing {self.shown_run.label}; open the new run from "
                    f"{find_tab('runs').title} ({find_tab('runs').key}).",
                    title="Run saved",
                    markup=False,
                    timeout=8,
                )
                self._draw_tab(self.query_one(TabbedContent).active)
                return
        self._evaluation = message.evaluation
        self.shown_run = run
        self._stale_tabs |= {"results", "samples"}
        if message.fresh:
            self._draw_tab(self.query_one(TabbedContent).active)
        else:
            self.action_show_tab("results")

    def _draw_tab(self, tab: str) -> None:
        """Bring a tab up to date if it is stale.

        Tabs are drawn when shown, not when their data arrives: a hidden table filled at
        the end of a run would cost a layout pass while the user is looking elsewhere.
        """
        if not self.tabs_mounted:  # drawn once mounted
            return
        if tab == "draw":  # the run on show classifies; its model loads on first use
            if self.data is not None:
                self.draw_view.set_test_digits(self.data.x_test, self.data.y_test)
            self.draw_view.follow_run(self.shown_run, self.store)
            return
        if tab not in self._stale_tabs:
            return
        self._stale_tabs.discard(tab)
        run, evaluation = self.shown_run, self._evaluation
        if tab == "runs":
            self.refresh_runs()
        elif tab == "results" and self.results_follow_training:
            self.results_view.show_live()
        elif run is not None and evaluation is not None and self.data is not None:
            if tab == "results":
                self.results_view.show(evaluation, run_title(run), run.history)
            elif tab == "samples":
                self.viewer.show_samples(evaluation, self.data.x_test, title=run_title(run))

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group == "training" and event.state in FINISHED and not self._quitting:
            # What the run left (its model among it) is collected and the rest frozen,
            # once its results are on screen (the collection holds the GIL). Exiting
            # needs no collection: it would only add to the wait.
            self.call_after_refresh(freeze_long_lived, collect=True)
        if event.state != WorkerState.ERROR:
            return
        error = event.worker.error
        if event.worker.group == "training":
            self._training_over("Training failed: no results.")
            self.training_view.set_status("Training failed: see the message.")
        elif event.worker.group == "sweep":
            self.sweeping = False
        self.push_screen(
            ErrorScreen(f"{event.worker.description} failed", f"{type(error).__name__}: {error}")
        )

    # --- results, samples, runs ------------------------------------------------------------------

    @on(ResultsView.CellChosen)
    def _cell_chosen(self, message: ResultsView.CellChosen) -> None:
        self._draw_tab("samples")
        viewer = self.viewer
        mistakes = message.true_class != message.pred_class
        viewer.apply_filter(
            mistakes=mistakes,
            true_class=message.true_class,
            pred_class=message.pred_class,
            order="confidence" if mistakes else "index",
        )
        self.action_show_tab("samples")

    def refresh_runs(self) -> None:
        """Read the runs directory into the Runs tab."""
        runs, bad = self.store.list()
        self.runs_view.show_runs(
            str(self.store.root), runs, bad, shown=self.shown_run.run_id if self.shown_run else None
        )

    @on(RunsView.RefreshRequested)
    def _refresh_requested(self) -> None:
        self.refresh_runs()
        self.notify("Runs reloaded", markup=False)

    @on(RunsView.Chosen)
    def _run_chosen(self, message: RunsView.Chosen) -> None:
        run = message.run
        match message.what:
            case "settings":
                self.form.set_config(run.config)
                self.action_show_tab("setup")
                self.notify(f"Settings of {run.label} loaded into the form", markup=False)
            case "delete":
                self._confirm_delete(message.runs, message.note)
            case "annotate":
                self.push_screen(AnnotateScreen(run), self._annotated)
            case _ if self.data is None:
                self.notify(
                    "MNIST is not loaded yet, so runs cannot be opened.",
                    severity="warning",
                    markup=False,
                )
            case "compare":
                self.compare_runs(message.runs, self.data)
            case "export":
                self.push_screen(ExportScreen(run, self.store, self.data.x_test))
            case _:
                if self.training:
                    self._opened_while_training = True
                else:
                    self.training_view.set_loss_floor(run.config.loss_floor)
                    self.training_view.show_history(
                        list(run.history),
                        f"Saved run {run_title(run)}, test accuracy {run.test_accuracy:.2%}",
                        planned=run.config.epochs,
                        steps=run.steps,
                        train_samples=run.config.train_count(
                            len(self.data.x_train) if self.data else 0
                        ),
                    )
                self.open_run(run, self.data)

    def _confirm_delete(self, runs: list[RunInfo], note: str = "") -> None:
        def delete(answer: bool | None) -> None:
            if not answer:
                return
            failed = []
            for run in runs:
                try:
                    self.store.delete(run)
                except (RunError, OSError) as exc:
                    failed.append(str(exc))
                    continue
                if self.shown_run is not None and self.shown_run.path == run.path:
                    self._forget_shown_run(f"Run {run.label} was deleted.")
            if failed:
                self.push_screen(ErrorScreen("Could not delete every run", "\n".join(failed)))
            else:
                self.notify(f"Deleted {', '.join(run.label for run in runs)}", markup=False)
            self.refresh_runs()

        lines = "\n".join(
            f"{run.label}  {run.summary}  test accuracy {run.test_accuracy:.2%}" for run in runs
        )
        what, gone = (
            ("this run", "Its folder is")
            if len(runs) == 1
            else (f"these {len(runs)} runs", "Their folders are")
        )
        self.push_screen(
            ConfirmScreen(
                f"Delete {what}?\n{lines}\n\n"
                + (f"{note}\n" if note else "")
                + f"{gone} removed for good."
            ),
            delete,
        )

    def _annotated(self, edit: AnnotationEdit | None) -> None:
        if edit is None:
            return
        note = edit.annotation
        try:
            run = self.store.annotate(edit.run, name=note.name, note=note.note, tags=note.tags)
        except RunError as exc:
            self.push_screen(ErrorScreen("Could not name the run", str(exc)))
            return
        if self.shown_run is not None and self.shown_run.path == run.path:
            self.shown_run = run
            self._stale_tabs |= {"results", "samples"}
        self.notify(f"Saved the name, note and tags of {run.label}", markup=False)
        self.refresh_runs()

    @work(
        thread=True,
        exclusive=True,
        exit_on_error=False,
        group="compare",
        description="Comparing the runs",
    )
    def compare_runs(self, runs: list[RunInfo], data: MnistData) -> None:
        """Each run's test results (saved probabilities, else its model), then compare."""
        evaluations = [self.store.evaluation(run, data.x_test, data.y_test) for run in runs]
        self.post_message(CompareReady(runs, evaluations))

    @on(CompareReady)
    def _compare_ready(self, message: CompareReady) -> None:
        self._show_comparison(message.runs, message.evaluations)

    def _show_comparison(self, runs: list[RunInfo], evaluations: list[Evaluation]) -> None:
        self.push_screen(
            CompareScreen(runs, evaluations, len(self.data.x_train) if self.data else 0)
        )

    @on(BrowseDisagreements)
    def _browse_disagreements(self, message: BrowseDisagreements) -> None:
        """The compared runs' disagreements in the Samples tab (escape there goes back to
        the comparison, over the tab it was opened from)."""
        if self.data is None:
            return
        if isinstance(self.screen, CompareScreen):
            self.pop_screen()
        self._browsed = (message.runs, message.evaluations, self.query_one(TabbedContent).active)
        self._draw_tab("samples")  # the run on show is what leaving the comparison returns to
        self.viewer.show_disagreements(
            message.evaluations, [run.label for run in message.runs], self.data.x_test
        )
        self.action_show_tab("samples")

    @on(SampleViewer.ComparisonLeft)
    def _comparison_left(self) -> None:
        if self._browsed is None:
            return
        runs, evaluations, tab = self._browsed
        self._browsed = None
        self.action_show_tab(tab)
        self._show_comparison(runs, evaluations)

    def _forget_shown_run(self, note: str) -> None:
        """The run on show is gone: its curves, results and digits are taken down."""
        self.shown_run = self._evaluation = None
        self._stale_tabs.discard("samples")
        if not self.training:
            view = self.training_view
            view.reset()
            view.set_status(note)
        if not self.results_follow_training:  # else it shows the training, not that run
            self._stale_tabs.discard("results")
            self.results_view.clear(note)
        self.viewer.clear(note)

    @work(
        thread=True,
        exclusive=True,
        exit_on_error=False,
        group="open-run",
        description="Opening the run",
    )
    def open_run(self, run: RunInfo, data: MnistData) -> None:
        """Saved probabilities if present (instant), else load the model and evaluate."""
        evaluation = self.store.evaluation(run, data.x_test, data.y_test)
        self.post_message(RunReady(run, evaluation, fresh=False))

    # --- navigation, help, quit ------------------------------------------------------------------

    @on(TabbedContent.TabActivated)
    def _tab_activated(self, event: TabbedContent.TabActivated) -> None:
        tab = event.pane.id or ""
        self._sync_form_lock(tab)
        self._draw_tab(tab)
        focused = self.focused
        shown_in = (
            next((node for node in focused.ancestors if isinstance(node, TabPane)), None)
            if focused is not None
            else None
        )
        if self.tabs_mounted and (focused is None or shown_in not in (None, event.pane)):
            # The focus goes to the tab's main widget, never left on a hidden tab (the tab
            # bar keeps it, for arrow keys): closing a dialog hands the focus back, and
            # on a hidden tab that pulled its tab up again.
            self.pane(tab).focus_main()

    def _sync_form_lock(self, tab: str | None = None) -> None:
        """Lock the form while training runs, whenever it can be seen.

        Locking restyles every field, so it is done when the Setup tab is shown during
        training, not while the form is hidden.
        ``tab`` is the tab being shown: when the switch is under way, the tabbed
        content may still report the old one.
        """
        form = self.form
        shown = tab if tab is not None else self.query_one(TabbedContent).active
        locked = self.training and shown == "setup"
        if form.disabled != locked:
            form.set_locked(locked)

    def action_show_tab(self, tab: str) -> None:
        """Switch to a tab."""
        self.query_one(TabbedContent).active = tab
        if tab != TABS[0].id and self.tabs_mounted:  # the form keeps the field the user was in
            self.pane(tab).focus_main()

    def action_help(self) -> None:
        """Show the help screen."""
        self.push_screen(HelpScreen())

    def action_select_all(self) -> None:
        """Select all of the text field with the focus (Textual's ``ctrl+a`` goes to its
        start); elsewhere the key is not ours."""
        field = self.focused
        if not isinstance(field, Input):
            raise SkipAction()
        field.select_all()

    def action_leave_field(self) -> None:
        """Leave the text field with the focus for its tab's main widget, where the tab's
        keys act and digits switch tabs; elsewhere the key is not ours."""
        if not isinstance(self.focused, Input):
            raise SkipAction()
        self.pane(self.query_one(TabbedContent).active).focus_main()

    async def action_quit(self) -> None:
        """Quit; a running training is stopped first (and its run saved)."""
        self.quit_now()

    def quit_now(self, return_code: int = 0) -> None:
        """Exit with ``return_code``; a running training or sweep is told to stop.

        Its worker thread then evaluates and saves the stopped run: :meth:`run` returns
        only once that thread has ended (asyncio waits for its default executor), and
        :attr:`farewell` then says what it saved.
        """
        self._stop_for_good()
        self.exit(return_code=return_code)

    def on_exit_app(self) -> None:
        """A quit that is not ours (a served browser tab closed or its server stopped):
        a running training or sweep is still stopped, and its run saved."""
        self._stop_for_good()

    def _stop_for_good(self) -> None:
        self._quitting = True
        if self.session is not None and (self.training or self.sweeping):
            self._quit_session = self.session
            self.session.stop()

    @property
    def farewell(self) -> str | None:
        """What the command line prints once the app has ended: the run (or sweep) that a
        quit stopped, once its thread has saved it; else ``None``."""
        return self._quit_session.farewell if self._quit_session is not None else None

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """The palette's entries (:mod:`mnist_tui.ui.commands`)."""
        return commands.system_commands(self, screen, super().get_system_commands(screen))

    def browse_mistakes(self) -> None:
        """The misclassified digits of the run on show, most confident first."""
        self._draw_tab("samples")
        self.viewer.apply_filter(
            mistakes=True, true_class=None, pred_class=None, order="confidence"
        )
        self.action_show_tab("samples")


def run_title(run: RunInfo) -> str:
    """How every tab names the run on show: ``name (id)  summary  (status)``."""
    return f"{run.label}  {run.summary}  ({OUTCOME_TEXT[run.status]})"


if __name__ == "__main__":
    MnistApp().run()
