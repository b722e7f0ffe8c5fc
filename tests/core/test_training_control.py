"""Steering a running training: pause, learning-rate changes, how it ends (engine only)."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from mnist_tui.core.config import TrainConfig
from mnist_tui.core.data.mnist import MnistData
from mnist_tui.core.engine.control import TrainingControl
from mnist_tui.core.engine.training import TrainResult, train
from mnist_tui.core.events import (
    BatchProgress,
    ControlApplied,
    EpochEnd,
    TrainingEvent,
    TrainingStarted,
)
from mnist_tui.core.runs.record import RecordError, parse_run_record
from mnist_tui.core.runs.store import RUN_FILE, RunStore
from mnist_tui.core.session import train_evaluate_save

FAST = TrainConfig(
    hidden_units=(32,), batch_size=64, epochs=3, learning_rate=0.01, lr_schedule="constant"
)


@pytest.fixture(autouse=True)
def one_step_per_call_and_every_tick(monkeypatch: pytest.MonkeyPatch) -> None:
    """Many compiled calls and a progress event after each: steering has room to act."""
    from mnist_tui.core.engine import training

    monkeypatch.setattr(training, "TARGET_EXECUTION_FLOPS", 1)
    monkeypatch.setattr(training, "PROGRESS_INTERVAL", 0.0)


class Background:
    """``train`` in a thread of its own, its events collected as they come."""

    def __init__(
        self,
        config: TrainConfig,
        data: MnistData,
        control: TrainingControl,
        stop: threading.Event | None = None,
        on_event: Callable[[TrainingEvent], None] | None = None,
    ) -> None:
        self.events: list[TrainingEvent] = []
        self.result: TrainResult | None = None
        self.stop = stop or threading.Event()

        def sink(event: TrainingEvent) -> None:
            self.events.append(event)
            if on_event is not None:
                on_event(event)

        def work() -> None:
            self.result = train(
                config, data.x_train, data.y_train, sink, self.stop, control=control
            )

        self.thread = threading.Thread(target=work, daemon=True)
        self.thread.start()

    def of(self, kind: type) -> list[TrainingEvent]:
        return [event for event in list(self.events) if isinstance(event, kind)]

    def wait_for(self, condition: Callable[[], bool], timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, "condition not met in time"
            assert self.thread.is_alive() or condition(), "training ended first"
            time.sleep(0.01)

    def paused(self) -> bool:
        return any(isinstance(e, ControlApplied) and e.kind == "pause" for e in self.events)


def pause_at_first_progress(control: TrainingControl) -> Callable[[TrainingEvent], None]:
    asked: list[bool] = []

    def on_event(event: TrainingEvent) -> None:
        if isinstance(event, BatchProgress) and not asked:
            asked.append(True)
            control.pause()

    return on_event


def test_pause_blocks_progress_and_resume_continues(small_data: MnistData) -> None:
    control = TrainingControl()
    config = FAST.replace(epochs=1)
    began = time.perf_counter()
    run = Background(config, small_data, control, on_event=pause_at_first_progress(control))
    run.wait_for(run.paused)
    ticks = len(run.of(BatchProgress))
    time.sleep(0.8)
    assert len(run.of(BatchProgress)) == ticks  # no batch ran while paused
    assert run.thread.is_alive()
    control.resume()
    run.thread.join(60)
    wall = time.perf_counter() - began
    assert run.result is not None and run.result.finished.outcome == "completed"
    assert len(run.of(BatchProgress)) > ticks
    resumed = [e for e in run.of(ControlApplied) if e.kind == "resume"]
    assert len(resumed) == 1 and resumed[0].value >= 0.8
    epoch = run.of(EpochEnd)[0]
    assert isinstance(epoch, EpochEnd)
    assert run.result.finished.seconds <= wall - 0.75  # the pause is not training time
    assert epoch.seconds <= run.result.finished.seconds
    after = run.of(BatchProgress)[ticks:]
    assert all(isinstance(p, BatchProgress) and p.epoch_seconds < wall - 0.75 for p in after)
    assert [c.kind for c in run.result.finished.controls] == ["pause", "resume"]


def test_stop_while_paused_ends_promptly(small_data: MnistData) -> None:
    control = TrainingControl()
    run = Background(
        FAST.replace(epochs=20), small_data, control, on_event=pause_at_first_progress(control)
    )
    run.wait_for(run.paused)
    asked = time.perf_counter()
    run.stop.set()
    run.thread.join(10)
    assert not run.thread.is_alive()
    assert time.perf_counter() - asked < 2.0  # the wait wakes every 0.1 s
    assert run.result is not None and run.result.finished.outcome == "stopped"
    assert control.paused  # it ended without being resumed


def test_halving_the_rate_acts_at_the_next_call_and_is_saved(
    small_data: MnistData, tmp_path: Path
) -> None:
    control = TrainingControl()
    asked: list[BatchProgress] = []

    def halve_once(event: TrainingEvent) -> None:
        if isinstance(event, BatchProgress) and not asked:
            asked.append(event)
            control.scale_learning_rate(0.5)

    events: list[TrainingEvent] = []

    def sink(event: TrainingEvent) -> None:
        events.append(event)
        halve_once(event)

    session = train_evaluate_save(
        FAST.replace(epochs=1), small_data, RunStore(tmp_path), sink, control=control
    )
    result = session.result
    before = asked[0].point
    assert before is not None and before.learning_rate == pytest.approx(0.01)
    applied = [e for e in events if isinstance(e, ControlApplied)]
    assert len(applied) == 1 and applied[0].kind == "learning_rate"
    assert applied[0].value == pytest.approx(0.005)
    assert applied[0].step == before.step + 1  # the next compiled call (one step each)
    # The optimizer's own effective rate is halved, and so is the curve after the change.
    assert float(result.model.optimizer.learning_rate) == pytest.approx(0.005)
    later = [p for p in result.finished.steps if p.step > applied[0].step]
    assert later and all(p.learning_rate == pytest.approx(0.005) for p in later)
    assert result.finished.controls == tuple(applied)
    saved = json.loads((session.run.path / RUN_FILE).read_text())
    assert saved["controls"] == [
        {"step": applied[0].step, "kind": "learning_rate", "value": pytest.approx(0.005)}
    ]
    loaded = RunStore(tmp_path).load(session.run.run_id)
    assert loaded.controls == tuple(applied)


def test_a_cosine_schedule_is_scaled_not_replaced(small_data: MnistData) -> None:
    control = TrainingControl()
    config = FAST.replace(epochs=2, lr_schedule="cosine")
    control.set_learning_rate(0.002)  # applied after the first call
    run = Background(config, small_data, control)
    run.thread.join(60)
    assert run.result is not None
    applied = run.of(ControlApplied)[0]
    assert isinstance(applied, ControlApplied) and applied.value == pytest.approx(0.002)
    rates = [p.learning_rate for p in run.result.finished.steps if p.step > applied.step]
    assert rates[0] < 0.002 and rates == sorted(rates, reverse=True)  # still decaying


def test_stop_after_this_epoch_ends_at_its_boundary(small_data: MnistData) -> None:
    control = TrainingControl()

    def ask(event: TrainingEvent) -> None:
        if isinstance(event, BatchProgress) and event.step == 3 and event.epoch == 2:
            control.set_stop_after_epoch(True)

    run = Background(FAST.replace(epochs=6), small_data, control, on_event=ask)
    run.thread.join(60)
    assert run.result is not None
    finished = run.result.finished
    assert finished.outcome == "stopped" and finished.epochs_done == 2
    started_steps = finished.steps[-1].step
    assert started_steps == 2 * 19  # every step of epoch 2, none of epoch 3
    assert [(c.kind, c.value) for c in finished.controls] == [("stop_after_epoch", 1.0)]


def test_early_stopping_can_be_turned_on_and_off(small_data: MnistData) -> None:
    noisy = FAST.replace(epochs=40, validation_split=0.25, learning_rate=0.05)
    turned_on = TrainingControl(early_stopping=False)
    turned_on.set_early_stopping(True)
    run = Background(noisy, small_data, turned_on)
    run.thread.join(120)
    assert run.result is not None and run.result.finished.outcome == "early_stopped"
    assert run.result.finished.controls[0].kind == "early_stopping"

    turned_off = TrainingControl(early_stopping=True)
    turned_off.set_early_stopping(False)
    run = Background(noisy.replace(epochs=8, early_stopping_patience=1), small_data, turned_off)
    run.thread.join(120)
    assert run.result is not None and run.result.finished.outcome == "completed"
    assert run.result.finished.epochs_done == 8 and run.result.finished.kept_epoch is None


@pytest.fixture(scope="module")
def saved_run(small_data: MnistData, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run trained and saved without steering: its folder."""
    store = RunStore(tmp_path_factory.mktemp("runs"))
    return train_evaluate_save(FAST.replace(epochs=1), small_data, store, lambda _e: None).run.path


@pytest.mark.parametrize(
    ("controls", "problem"),
    [
        ("pause", "controls must be a list"),
        ([{"step": 1, "kind": "explode", "value": 0}], "controls[0].kind"),
        ([{"step": -1, "kind": "pause", "value": 0}], "controls[0].step"),
        ([{"step": 1, "kind": "learning_rate", "value": float("inf")}], "controls[0].value"),
        ([{"step": 1, "kind": "pause", "value": 0, "extra": 1}], "unknown key"),
        ([{"step": 1, "kind": "pause", "value": 0}] * 1001, "more than 1,000"),
    ],
)
def test_the_record_refuses_bad_controls(saved_run: Path, controls: object, problem: str) -> None:
    record = json.loads((saved_run / RUN_FILE).read_text())
    assert record["controls"] == []
    record["controls"] = controls
    with pytest.raises(RecordError, match=re.escape(problem)):
        parse_run_record(record, saved_run)


def test_a_pause_first_reports_the_step_it_stops_at(
    small_data: MnistData, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Progress is throttled, yet the paused view must show exactly where training is."""
    from mnist_tui.core.engine import training

    monkeypatch.setattr(training, "PROGRESS_INTERVAL", 1000.0)
    control = TrainingControl()

    def pause_at_once(event: TrainingEvent) -> None:
        if isinstance(event, TrainingStarted):
            control.pause()

    run = Background(FAST.replace(epochs=2), small_data, control, on_event=pause_at_once)
    run.wait_for(run.paused)
    shown = run.of(BatchProgress)
    assert len(shown) == 1 and isinstance(shown[0], BatchProgress)
    assert (shown[0].epoch, shown[0].step) == (1, 1)
    run.stop.set()
    run.thread.join(10)
