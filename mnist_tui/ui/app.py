"""The mnist-tui Textual app: what is app-wide (the data, the running training or sweep,
the run on show, quitting, the theme, the palette); the tabs are its main screen's
(:mod:`mnist_tui.ui.screens.main`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path
from typing import Any

from textual import events, on, work
from textual.actions import SkipAction
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Input
from textual.worker import Worker, WorkerState

from mnist_tui.core.config import TrainConfig
from mnist_tui.core.data.mnist import DataError, MnistData, load_mnist
from mnist_tui.core.engine.heap import freeze_long_lived
from mnist_tui.core.runs.annotations import AnnotationError
from mnist_tui.core.runs.store import RunInfo, RunStore
from mnist_tui.ui import commands, session, terminal_guard
from mnist_tui.ui.commands import action_name
from mnist_tui.ui.messages import (
    BrowseDisagreements,
    DataFailed,
    DataLoaded,
    DataStatus,
    EngineReady,
)
from mnist_tui.ui.preferences import load_preferences, save_preference
from mnist_tui.ui.screens.dialogs import ErrorScreen, HelpScreen
from mnist_tui.ui.screens.main import MainScreen
from mnist_tui.ui.screens.rate import RateScreen
from mnist_tui.ui.session import Session
from mnist_tui.ui.signals import QuitSignals
from mnist_tui.ui.tabs import tab_hint
from mnist_tui.ui.tabs.sweep_view import SweepRequest
from mnist_tui.ui.tabs.training_view import TrainingView

FINISHED = frozenset({WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED})


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

    BINDINGS = commands.APP_BINDINGS

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
        self._quitting = False
        """Set when the app begins to quit."""
        self._signals = QuitSignals(self.quit_now)
        self.main = MainScreen(self._initial_config, self.store)
        """The screen of the tabs (the app's default screen)."""

    def get_default_screen(self) -> MainScreen:
        return self.main

    @property
    def tabs_mounted(self) -> bool:
        """Every tab's widget is mounted (they are, just after the first frame)."""
        return self.main.tabs_mounted

    def on_mount(self) -> None:
        theme = load_preferences().get("theme")
        if theme in self.available_themes:
            self.theme = theme  # the one chosen last time
        self._signals.take()
        self.load_data()

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

    # --- data --------------------------------------------------------------------------------

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

    # --- what can run now ----------------------------------------------------------------------

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
            if not self.training or self.session is None:
                return "Nothing is training: ctrl+t starts a run."
            return self.session.why_not_steer(action)
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

    # --- a training or a sweep -----------------------------------------------------------------

    def action_train(self) -> None:
        """Train with the form's settings."""
        main = self.main
        config = main.panes.form.config
        reason = self.why_not("train") or (None if config else "Fix the marked fields first.")
        if reason is not None or config is None or self.data is None:
            self.notify(reason or "", title="Train", severity="warning", markup=False)
            return
        try:
            annotation = main.panes.form.annotation
        except AnnotationError as exc:
            self.notify(
                f"The run's tags cannot be kept: {exc}",
                title="Train",
                severity="warning",
                markup=False,
            )
            return
        if not main.tabs_mounted:  # a key typed ahead at start: train once they are
            main.train_when_mounted = True
            return
        self.session = job = Session("training", config)
        self.paused = False
        # No animations while TensorFlow wants both cores (the tab underline's slide is
        # many frames). The user's own level comes back afterwards.
        self._animation_level, self.animation_level = self.animation_level, "none"
        main.training_starts(config)
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
                main.post_message,
            ),
            thread=True,
            exclusive=True,
            exit_on_error=False,
            group="training",
            description="Training",
        )

    def training_ended(self) -> None:
        """The training's thread is done with it: Train is on again, animations back."""
        self.training = self.paused = False
        self.animation_level = self._animation_level

    def start_sweep(self, request: SweepRequest, storage_url: str) -> None:
        """Run a sweep (the Sweep tab's Start), unless something keeps it from starting."""
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
        main = self.main
        self.session = job = Session("sweep", main.panes.form.config or self._initial_config)
        self.sweeping = True
        main.panes.sweep_view.show_running(request)
        self.run_worker(
            partial(
                session.sweep, job, request, storage_url, self.data, self.store, main.post_message
            ),
            thread=True,
            exclusive=True,
            exit_on_error=False,
            group="sweep",
            description="Sweep",
        )

    def action_stop(self) -> None:
        """Ask the training (or the sweep) to stop after the current batch."""
        job = self.session
        if job is None or not (self.training or self.sweeping) or not job.stop():
            return
        if self.sweeping:
            # Its thread saves the trial in training as stopped.
            self.main.panes.sweep_view.show_stopping()
        else:
            self.main.panes.training_view.set_status("Stopping after this batch…")

    def _steered(self, action: str) -> Session | None:
        """The training to steer with ``action``, if it can be now."""
        return self.session if self.why_not(action) is None else None

    def _say(self, status: str | None) -> None:
        if status is not None:
            self.main.panes.training_view.set_status(status)

    def action_pause(self) -> None:
        """Pause the training between steps, or let it carry on."""
        if job := self._steered("pause"):
            self._say(job.toggle_pause())

    def action_scale_rate(self, factor: float) -> None:
        """Multiply the learning rate by ``factor`` from the next step on."""
        if job := self._steered("scale_rate"):
            self._say(job.scale_rate(factor))

    def action_set_rate(self) -> None:
        """Ask for a new learning rate (a dialog checks it as the form does)."""
        if (job := self._steered("set_rate")) is None:
            return

        def chosen(rate: float | None) -> None:
            if rate is not None and self._steered("set_rate") is job:
                self._say(job.set_rate(rate))

        self.push_screen(RateScreen(job.learning_rate), chosen)

    def action_stop_after_epoch(self) -> None:
        """End the run when this epoch ends (asked again: carry on)."""
        if job := self._steered("stop_after_epoch"):
            job.toggle_stop_after_epoch()

    def action_toggle_early_stopping(self) -> None:
        """Turn early stopping on or off for the rest of the run."""
        if job := self._steered("toggle_early_stopping"):
            job.toggle_early_stopping()

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
            self.main.training_over("Training failed: no results.")
            self.main.panes.training_view.set_status("Training failed: see the message.")
        elif event.worker.group == "sweep":
            self.sweeping = False
        self.push_screen(
            ErrorScreen(f"{event.worker.description} failed", f"{type(error).__name__}: {error}")
        )

    @on(BrowseDisagreements)
    def _browse_disagreements(self, message: BrowseDisagreements) -> None:
        """The Compare screen's disagreements, browsed in the Samples tab."""
        self.main.browse_disagreements(message)

    # --- keys anywhere, help, quit -------------------------------------------------------------

    def action_show_tab(self, tab: str) -> None:
        """Switch to a tab."""
        self.main.show_tab(tab)

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
        self.main.panes.pane(self.main.active_tab).focus_main()

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
