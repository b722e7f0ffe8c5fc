"""The main screen: the tabs in their frame, and what the tabs ask of each other (open,
compare, delete or name a run; the engine's events handed to the tabs that show them)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

from textual import on
from textual.app import App, ComposeResult
from textual.screen import Screen
from textual.widget import MountError, Widget
from textual.widgets import Header, TabbedContent, TabPane

from mnist_tui.core.config import TrainConfig
from mnist_tui.core.engine.evaluation import Evaluation
from mnist_tui.core.engine.heap import resume_collection
from mnist_tui.core.events import (
    OUTCOME_TEXT,
    BatchProgress,
    ControlApplied,
    EpochDynamics,
    EpochEnd,
    EvaluationStarted,
    RunSaved,
    TrainingFinished,
    TrainingStarted,
    plural,
)
from mnist_tui.core.runs.store import RunError, RunInfo, RunStore, RunSummary
from mnist_tui.core.sweeps.worker import TrialEnded
from mnist_tui.ui.messages import (
    BrowseDisagreements,
    CompareReady,
    EngineEvent,
    NoRun,
    RunReady,
    SweepEnded,
    SweepProgress,
)
from mnist_tui.ui.screens.annotate import AnnotateScreen, AnnotationEdit
from mnist_tui.ui.screens.compare import CompareScreen
from mnist_tui.ui.screens.dialogs import ConfirmScreen, ErrorScreen
from mnist_tui.ui.screens.export import ExportScreen
from mnist_tui.ui.session import control_news
from mnist_tui.ui.tabs import TABS, Pane, TabContext, find_tab, tab_hint
from mnist_tui.ui.tabs.draw_view import DrawView
from mnist_tui.ui.tabs.inside import InsideView, OpenSample
from mnist_tui.ui.tabs.results_view import ResultsView
from mnist_tui.ui.tabs.runs_view import RunsView
from mnist_tui.ui.tabs.samples_view import SampleViewer
from mnist_tui.ui.tabs.setup_form import ConfigForm
from mnist_tui.ui.tabs.sweep_view import SweepView
from mnist_tui.ui.tabs.training_view import TrainingView
from mnist_tui.ui.widgets.footer import KeysFooter
from mnist_tui.ui.widgets.status_bar import StatusBar

if TYPE_CHECKING:
    from mnist_tui.ui.app import MnistApp

PaneWidget = TypeVar("PaneWidget", bound=Widget)


class Panes:
    """Each tab's widget, built from :data:`~mnist_tui.ui.tabs.TABS`, and a typed
    accessor for each that others reach."""

    def __init__(self, context: TabContext) -> None:
        self._by_id: dict[str, Widget] = {tab.id: tab.make(context) for tab in TABS}

    def pane_widget(self, tab: str) -> Widget:
        """The widget of ``tab``, to mount."""
        return self._by_id[tab]

    def pane(self, tab: str) -> Pane:
        """The widget of ``tab``, as a pane (it can take the focus)."""
        widget: Any = self._by_id[tab]
        return widget  # type: ignore[no-any-return]

    def _of(self, cls: type[PaneWidget]) -> PaneWidget:
        """The tab widget of class ``cls``."""
        return next(pane for pane in self._by_id.values() if isinstance(pane, cls))

    @property
    def form(self) -> ConfigForm:
        """The Setup tab's form."""
        return self._of(ConfigForm)

    @property
    def training_view(self) -> TrainingView:
        """The Training tab's widget."""
        return self._of(TrainingView)

    @property
    def results_view(self) -> ResultsView:
        """The Results tab's widget."""
        return self._of(ResultsView)

    @property
    def viewer(self) -> SampleViewer:
        """The Samples tab's widget."""
        return self._of(SampleViewer)

    @property
    def runs_view(self) -> RunsView:
        """The Runs tab's widget."""
        return self._of(RunsView)

    @property
    def sweep_view(self) -> SweepView:
        """The Sweep tab's widget."""
        return self._of(SweepView)

    @property
    def draw_view(self) -> DrawView:
        """The Draw tab's widget."""
        return self._of(DrawView)

    @property
    def inside_view(self) -> InsideView:
        """The Inside tab's widget."""
        return self._of(InsideView)


class MainScreen(Screen[None]):
    """The header, the tabs, the status bar and the footer; the tabs' messages to each
    other go through here. What is app-wide (the data, the running training or sweep,
    the run on show) is the app's (:class:`~mnist_tui.ui.app.MnistApp`)."""

    def __init__(self, config: TrainConfig, store: RunStore) -> None:
        super().__init__()
        self.store = store
        self._evaluation: Evaluation | None = None
        """The test results of the app's ``shown_run``."""
        self._opened_while_training = False
        """The user opened a saved run while a training ran: its end does not replace it."""
        self._browsed: tuple[list[RunInfo], list[Evaluation], str] | None = None
        """The compared runs whose disagreements the Samples tab shows, their results and
        the tab the comparison was opened from (escape goes back to it)."""
        self._stale_tabs: set[str] = {"runs"}
        """Tabs whose content is out of date; each is drawn when it is next shown."""
        self.panes = Panes(TabContext(config, store.root))
        """Each tab's widget: the first tab's is composed with the first frame, the
        others' mounted just after it (:meth:`_mount_later_tabs`)."""
        self.tabs_mounted = False
        """Every tab's widget is mounted (:meth:`_mount_later_tabs`)."""
        self.train_when_mounted = False
        """Train was asked for before the tabs were mounted."""

    @property
    def mnist(self) -> MnistApp:
        """The app, typed."""
        return cast("MnistApp", self.app)

    # --- layout ------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header()
        first, *later = TABS
        with TabbedContent(initial=first.id, id="tabs"):
            with TabPane(f"{first.key} {first.title}", id=first.id):
                yield self.panes.pane_widget(first.id)
            for tab in later:  # filled after the first frame
                yield TabPane(f"{tab.key} {tab.title}", id=tab.id)
        status = StatusBar(id="status-bar")
        status.runs_root = str(self.store.root)
        yield status
        yield KeysFooter()

    def on_mount(self) -> None:
        app = self.mnist
        status = self.query_one(StatusBar)
        # Bound as ``data_bind`` binds a widget its parent composes: the app's reactives
        # are set, the bar and the Sweep tab follow.
        for name in ("data", "data_status", "device", "training", "paused"):
            self.watch(app, name, follower(status, name))
        self.watch(app, "sweeping", follower(self.panes.sweep_view, "running"))
        self.watch(app, "training", lambda _training: self.sync_form_lock(), init=False)
        self.call_after_refresh(self._mount_later_tabs)

    async def _mount_later_tabs(self) -> None:
        """Put each tab's widget into its pane, once the first frame is on screen.

        The tabs after the first are about half of the app's widgets: mounted with the
        first frame, they made the user wait about 0.3 s longer for it. Until they are
        mounted (:attr:`tabs_mounted`), nothing reaches into them. Cycle collection,
        which ``mnist-tui`` keeps off while it starts, is on again from here.
        """
        resume_collection()
        for tab in TABS[1:]:
            if not self.app.is_running:  # it is closing (a quit signal at start)
                return
            try:
                await self.query_one(f"#{tab.id}", TabPane).mount(self.panes.pane_widget(tab.id))
            except MountError:  # it began closing during the mount
                return
        self.tabs_mounted = True
        if self.train_when_mounted:
            self.mnist.action_train()
            return
        shown = self.active_tab
        if shown != TABS[0].id:  # shown before its widget was there
            self.draw_tab(shown)
            self.panes.pane(shown).focus_main()

    @property
    def active_tab(self) -> str:
        """The id of the tab on show."""
        return self.query_one(TabbedContent).active

    # --- tabs ----------------------------------------------------------------------------------

    def show_tab(self, tab: str) -> None:
        """Switch to a tab."""
        self.query_one(TabbedContent).active = tab
        if tab != TABS[0].id and self.tabs_mounted:  # the form keeps the field the user was in
            self.panes.pane(tab).focus_main()

    @on(TabbedContent.TabActivated)
    def _tab_activated(self, event: TabbedContent.TabActivated) -> None:
        tab = event.pane.id or ""
        self.sync_form_lock(tab)
        self.draw_tab(tab)
        focused = self.app.focused
        shown_in = (
            next((node for node in focused.ancestors if isinstance(node, TabPane)), None)
            if focused is not None
            else None
        )
        if self.tabs_mounted and (focused is None or shown_in not in (None, event.pane)):
            # The focus goes to the tab's main widget, never left on a hidden tab (the tab
            # bar keeps it, for arrow keys): closing a dialog hands the focus back, and
            # on a hidden tab that pulled its tab up again.
            self.panes.pane(tab).focus_main()

    def sync_form_lock(self, tab: str | None = None) -> None:
        """Lock the form while training runs, whenever it can be seen.

        Locking restyles every field, so it is done when the Setup tab is shown during
        training, not while the form is hidden.
        ``tab`` is the tab being shown: when the switch is under way, the tabbed
        content may still report the old one.
        """
        form = self.panes.form
        shown = tab if tab is not None else self.active_tab
        locked = self.mnist.training and shown == "setup"
        if form.disabled != locked:
            form.set_locked(locked)

    def draw_tab(self, tab: str) -> None:
        """Bring a tab up to date if it is stale.

        Tabs are drawn when shown, not when their data arrives: a hidden table filled at
        the end of a run would cost a layout pass while the user is looking elsewhere.
        """
        if not self.tabs_mounted:  # drawn once mounted
            return
        app = self.mnist
        if tab == "draw":  # the run on show classifies; its model loads on first use
            if app.data is not None:
                self.panes.draw_view.set_test_digits(app.data.x_test, app.data.y_test)
            self.panes.draw_view.follow_run(app.shown_run, self.store)
            return
        if tab == "inside":  # the run on show's model, read in a worker when it changes
            self.panes.inside_view.follow_run(app.shown_run, self.store, app.data)
            return
        if tab not in self._stale_tabs:
            return
        self._stale_tabs.discard(tab)
        run, evaluation = app.shown_run, self._evaluation
        if tab == "runs":
            self.refresh_runs()
        elif tab == "results" and self.results_follow_training:
            self.panes.results_view.show_live()
        elif run is not None and evaluation is not None and app.data is not None:
            if tab == "results":
                self.panes.results_view.show(evaluation, run_title(run), run.history)
            elif tab == "samples":
                self.panes.viewer.show_samples(evaluation, app.data.x_test, title=run_title(run))

    # --- a training, on its way ----------------------------------------------------------------

    def training_starts(self, config: TrainConfig) -> None:
        """A training is about to start: the tabs get ready to show it."""
        self.panes.form.clear_run_words()
        self._opened_while_training = False
        view = self.panes.training_view
        view.reset()
        view.set_loss_floor(config.loss_floor)
        view.set_status(f"Starting: {config.summary()}, {plural(config.epochs, 'epoch')}…")
        self.panes.results_view.follow_training(
            config.summary(), config.epochs, validation=config.validation_split > 0
        )
        self.panes.inside_view.clear_dynamics()  # its training section follows this one
        self._stale_tabs.discard("results")  # about this run now, until it ends
        self.show_tab("training")

    @on(ConfigForm.Changed)
    def _form_changed(self, message: ConfigForm.Changed) -> None:
        self.mnist.form_valid = message.config is not None
        if message.config is not None:  # what a sweep keeps fixed
            self.panes.sweep_view.set_base(message.config)

    @on(ConfigForm.TrainPressed)
    def _train_pressed(self) -> None:
        self.mnist.action_train()

    @on(EngineEvent)
    def _engine_event(self, message: EngineEvent) -> None:
        view = self.panes.training_view
        event = message.event
        app = self.mnist
        if app.session is not None:
            app.session.observe(event)
        match event:
            case TrainingStarted():
                view.show_started(event)
                view.set_status(event.description)
            case BatchProgress():
                view.show_batch(event)
            case ControlApplied():
                status, note = control_news(event)
                if event.kind == "pause":
                    app.paused = True
                    view.set_paused(True)
                elif event.kind == "resume":
                    app.paused = False
                    view.set_paused(False, event.value)
                view.set_status(status)
                if note is not None:
                    self.notify(note, title="Training", markup=False)
            case EpochEnd():
                view.show_epoch(event)
                self._results_epoch(event)
            case EpochDynamics():
                self.panes.inside_view.add_dynamics(event)
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
        return self.mnist.training and not self._opened_while_training

    def _results_epoch(self, event: EpochEnd) -> None:
        """The Results tab takes the epoch's validation look: drawn now if the tab is on
        show, else when it is next shown."""
        self.panes.results_view.add_epoch(event)
        if event.val_confusion is None or not self.results_follow_training:
            return
        self._stale_tabs.add("results")
        if self.active_tab == "results":
            self.draw_tab("results")

    def training_over(self, note: str | None = None) -> None:
        """The training ended; with a ``note``, without a run: the Results tab goes back
        to the run on show, or says ``note`` when there is none."""
        following = self.results_follow_training
        self.mnist.training_ended()
        self.panes.inside_view.training_ended()
        if note is not None and self.active_tab == "inside":  # no new run: the one on show
            self.draw_tab("inside")
        if note is None or not following:
            return
        if self.mnist.shown_run is None or self._evaluation is None:
            self.panes.results_view.clear(note)
        else:
            self._stale_tabs.add("results")
            self.draw_tab(self.active_tab)

    @on(NoRun)
    def _no_run(self, message: NoRun) -> None:
        self.training_over(message.reason)
        self.panes.training_view.set_status(message.reason)

    @on(RunReady)
    def _run_ready(self, message: RunReady) -> None:
        run, app = message.run, self.mnist
        self._stale_tabs.add("runs")
        if message.fresh:
            self.training_over()
            if self._opened_while_training and app.shown_run is not None:
                # The user is looking at another run: the new one waits in Runs.
                self.notify(
                    f"{run.label}: test accuracy {run.test_accuracy:.2%}. Still "
                    f"showing {app.shown_run.label}; open the new run from "
                    f"{find_tab('runs').title} ({find_tab('runs').key}).",
                    title="Run saved",
                    markup=False,
                    timeout=8,
                )
                self.draw_tab(self.active_tab)
                return
        self._evaluation = message.evaluation
        app.shown_run = run
        self._stale_tabs |= {"results", "samples"}
        if message.fresh:
            self.draw_tab(self.active_tab)
        else:
            self.show_tab("results")

    # --- a sweep -------------------------------------------------------------------------------

    @on(SweepView.Start)
    def _sweep_start(self, message: SweepView.Start) -> None:
        self.mnist.start_sweep(message.request, self.panes.sweep_view.storage_url)

    @on(SweepProgress)
    def _sweep_progress(self, message: SweepProgress) -> None:
        self.panes.sweep_view.show_event(message.event)
        if isinstance(message.event, TrialEnded):
            self._stale_tabs.add("runs")  # each trial is a saved run

    @on(SweepEnded)
    def _sweep_ended(self, message: SweepEnded) -> None:
        self._stale_tabs.add("runs")
        self.mnist.sweeping = False
        self.panes.sweep_view.show_finished(message.result, message.problem)

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
            self.panes.form.set_config(runs[0].config)
            self.show_tab("setup")
            self.notify(
                f"Settings of the best trial, {runs[0].label}, loaded into the form", markup=False
            )
        else:
            self.compare_runs(runs)

    # --- results, samples, runs ----------------------------------------------------------------

    @on(ResultsView.CellChosen)
    def _cell_chosen(self, message: ResultsView.CellChosen) -> None:
        mistakes = message.true_class != message.pred_class
        self._browse_samples(
            mistakes=mistakes,
            true_class=message.true_class,
            pred_class=message.pred_class,
            order="confidence" if mistakes else "index",
        )

    def browse_mistakes(self) -> None:
        """The misclassified digits of the run on show, most confident first."""
        self._browse_samples(mistakes=True, true_class=None, pred_class=None, order="confidence")

    def _browse_samples(self, **filters: Any) -> None:
        self.draw_tab("samples")
        self.panes.viewer.apply_filter(**filters)
        self.show_tab("samples")

    @on(SampleViewer.InsideAsked)
    def _inside_asked(self, message: SampleViewer.InsideAsked) -> None:
        """Where the run on show's model looks in a digit of Samples (or of a comparison's
        disagreements): the Inside tab, on that digit's attribution."""
        shown = self.mnist.shown_run
        if shown is None:
            self.notify(
                f"No run on show: open one ({tab_hint('runs')}) to see where its model looks.",
                title="Inside",
                severity="warning",
                markup=False,
            )
            return
        if self.panes.viewer.comparing:
            self.notify(
                f"Inside shows the model of the run on show, {shown.label}.",
                title="Inside",
                markup=False,
            )
        self.draw_tab("inside")  # it follows the run on show first: the digit is that run's
        self.panes.inside_view.show_digit(message.index)
        self.show_tab("inside")

    @on(OpenSample)
    def _open_sample(self, message: OpenSample) -> None:
        """A digit picked on the Inside tab's map, opened in Samples (a comparison browsed
        there is left: the digits are the run on show's)."""
        self._browsed = None
        self.draw_tab("samples")
        self.panes.viewer.show_index(message.index)
        self.show_tab("samples")

    def refresh_runs(self) -> None:
        """Read the runs directory into the Runs tab (each run's summary: a run is read in
        full only when it is opened, compared, exported or named)."""
        runs, bad = self.store.summaries()
        shown = self.mnist.shown_run
        self.panes.runs_view.show_runs(
            str(self.store.root), runs, bad, shown=shown.run_id if shown else None
        )

    @on(RunsView.RefreshRequested)
    def _refresh_requested(self) -> None:
        self.refresh_runs()
        self.notify("Runs reloaded", markup=False)

    def _read(self, runs: list[RunSummary]) -> list[RunInfo] | None:
        """The listed runs read in full; ``None``, said, when one can no longer be read."""
        try:
            return [self.store.load(str(run.path)) for run in runs]
        except RunError as exc:
            self.notify(
                f"The run cannot be read: {exc}", title="Runs", severity="warning", markup=False
            )
            self._stale_tabs.add("runs")
            self.refresh_runs()
            return None

    @on(RunsView.Chosen)
    def _run_chosen(self, message: RunsView.Chosen) -> None:
        data = self.mnist.data
        match message.what:
            case "settings":
                run = message.run
                self.panes.form.set_config(run.config)
                self.show_tab("setup")
                self.notify(f"Settings of {run.label} loaded into the form", markup=False)
                return
            case "delete":
                self._confirm_delete(message.runs, message.note)
                return
            case "annotate":
                if read := self._read(message.runs):
                    self.app.push_screen(AnnotateScreen(read[0]), self._annotated)
                return
            case _ if data is None:
                self.notify(
                    "MNIST is not loaded yet, so runs cannot be opened.",
                    severity="warning",
                    markup=False,
                )
                return
        read = self._read(message.runs)
        if not read:
            return
        if message.what == "compare":
            self.compare_runs(read)
        elif message.what == "export":
            self.app.push_screen(ExportScreen(read[0], self.store, data.x_test))
        else:
            self._open(read[0])

    def _open(self, run: RunInfo) -> None:
        """Show a saved run: its curves at once, its results once read."""
        data = self.mnist.data
        if data is None:
            return
        if self.mnist.training:
            self._opened_while_training = True
        else:
            self.panes.training_view.set_loss_floor(run.config.loss_floor)
            self.panes.training_view.show_history(
                list(run.history),
                f"Saved run {run_title(run)}, test accuracy {run.test_accuracy:.2%}",
                planned=run.config.epochs,
                steps=run.steps,
                train_samples=run.config.train_count(len(data.x_train)),
            )

        def open_run() -> None:
            """Saved probabilities if present (instant), else load the model and evaluate."""
            evaluation = self.store.evaluation(run, data.x_test, data.y_test)
            self.post_message(RunReady(run, evaluation, fresh=False))

        in_thread(self.app, open_run, "open-run", "Opening the run")

    def _confirm_delete(self, runs: list[RunSummary], note: str = "") -> None:
        def delete(answer: bool | None) -> None:
            if not answer:
                return
            failed = []
            shown = self.mnist.shown_run
            for run in runs:
                try:
                    self.store.delete(self.store.load(str(run.path)))
                except (RunError, OSError) as exc:
                    failed.append(str(exc))
                    continue
                if shown is not None and shown.path == run.path:
                    self._forget_shown_run(f"Run {run.label} was deleted.")
            if failed:
                self.app.push_screen(ErrorScreen("Could not delete every run", "\n".join(failed)))
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
        self.app.push_screen(
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
            self.app.push_screen(ErrorScreen("Could not name the run", str(exc)))
            return
        shown = self.mnist.shown_run
        if shown is not None and shown.path == run.path:
            self.mnist.shown_run = run
            self._stale_tabs |= {"results", "samples"}
        self.notify(f"Saved the name, note and tags of {run.label}", markup=False)
        self.refresh_runs()

    def _forget_shown_run(self, note: str) -> None:
        """The run on show is gone: its curves, results and digits are taken down."""
        self.mnist.shown_run = self._evaluation = None
        self._stale_tabs.discard("samples")
        if not self.mnist.training:
            view = self.panes.training_view
            view.reset()
            view.set_status(note)
        if not self.results_follow_training:  # else it shows the training, not that run
            self._stale_tabs.discard("results")
            self.panes.results_view.clear(note)
        self.panes.viewer.clear(note)

    # --- comparisons ---------------------------------------------------------------------------

    def compare_runs(self, runs: list[RunInfo]) -> None:
        """Each run's test results (saved probabilities, else its model), then compare."""
        data = self.mnist.data
        if data is None:
            return

        def compare() -> None:
            evaluations = [self.store.evaluation(run, data.x_test, data.y_test) for run in runs]
            self.post_message(CompareReady(runs, evaluations))

        in_thread(self.app, compare, "compare", "Comparing the runs")

    @on(CompareReady)
    def _compare_ready(self, message: CompareReady) -> None:
        self._show_comparison(message.runs, message.evaluations)

    def _show_comparison(self, runs: list[RunInfo], evaluations: list[Evaluation]) -> None:
        data = self.mnist.data
        self.app.push_screen(CompareScreen(runs, evaluations, len(data.x_train) if data else 0))

    def browse_disagreements(self, message: BrowseDisagreements) -> None:
        """The compared runs' disagreements in the Samples tab (escape there goes back to
        the comparison, over the tab it was opened from)."""
        data = self.mnist.data
        if data is None:
            return
        if isinstance(self.app.screen, CompareScreen):
            self.app.pop_screen()
        self._browsed = (message.runs, message.evaluations, self.active_tab)
        self.draw_tab("samples")  # the run on show is what leaving the comparison returns to
        self.panes.viewer.show_disagreements(
            message.evaluations, [run.label for run in message.runs], data.x_test
        )
        self.show_tab("samples")

    @on(SampleViewer.ComparisonLeft)
    def _comparison_left(self) -> None:
        if self._browsed is None:
            return
        runs, evaluations, tab = self._browsed
        self._browsed = None
        self.show_tab(tab)
        self._show_comparison(runs, evaluations)


def in_thread(app: App[Any], body: Callable[[], None], group: str, description: str) -> None:
    """Run ``body`` in a thread worker of the app's, whose one handler reports a failure
    (``body`` reports through a ``post_message``)."""
    app.run_worker(
        body, thread=True, exclusive=True, exit_on_error=False, group=group, description=description
    )


def follower(widget: Widget, name: str) -> Callable[[object], None]:
    """Sets ``widget``'s reactive ``name`` to each value it is given."""

    def follow(value: object) -> None:
        setattr(widget, name, value)

    return follow


def run_title(run: RunInfo) -> str:
    """How every tab names the run on show: ``name (id)  summary  (status)``."""
    return f"{run.label}  {run.summary}  ({OUTCOME_TEXT[run.status]})"
