"""Every saved run carries TensorBoard events, read back here with TensorBoard's own reader."""

from __future__ import annotations

import contextlib
import json
import math
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tensorboard import context
from tensorboard.backend.event_processing import (
    data_provider,
    event_accumulator,
    event_multiplexer,
    plugin_event_multiplexer,
)
from tensorboard.plugins import base_plugin
from tensorboard.plugins.hparams import api_pb2, backend_context, list_session_groups
from tensorboard.plugins.hparams import metadata as hparams_metadata
from tensorboard.util import tensor_util

from mnist_tui.core.config import TrainConfig
from mnist_tui.core.data.mnist import MnistData
from mnist_tui.core.events import EpochEnd, TrainingEvent
from mnist_tui.core.runs.record import SweepTrial
from mnist_tui.core.runs.store import RUN_FILE, RunError, RunStore
from mnist_tui.core.runs.tensorboard_events import TENSORBOARD_DIR, write_run_events
from mnist_tui.core.session import SessionResult, train_evaluate_save

CONFIG = TrainConfig(hidden_units=(16, 8), batch_size=32, epochs=2, validation_split=0.25)
EVERYTHING = {kind: 0 for kind in event_accumulator.DEFAULT_SIZE_GUIDANCE}
"""TensorBoard's size guidance that keeps every event."""


@contextlib.contextmanager
def _ticking() -> Iterator[None]:
    """Training ticks on its per-step curve every 8 steps (not every 0.2 seconds)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("mnist_tui.core.engine.training.PROGRESS_INTERVAL", 0.0)
        patch.setattr("mnist_tui.core.engine.training.steps_per_execution", lambda _config: 8)
        yield


def _train(data: MnistData, root: Path, config: TrainConfig, **options: Any) -> SessionResult:
    """A run trained and saved with a tick on the per-step curve every 8 steps."""
    with _ticking():
        return train_evaluate_save(config, data, RunStore(root), lambda _e: None, **options)


@pytest.fixture(scope="module")
def saved(small_data: MnistData, tmp_path_factory: pytest.TempPathFactory) -> SessionResult:
    """A sweep trial's run with a validation split, saved in a runs folder of its own."""
    return _train(
        small_data, tmp_path_factory.mktemp("runs"), CONFIG, sweep=SweepTrial("lr search", 3)
    )


def _events(folder: Path) -> event_accumulator.EventAccumulator:
    accumulator = event_accumulator.EventAccumulator(str(folder), size_guidance=EVERYTHING)
    accumulator.Reload()
    return accumulator


def _scalars(folder: Path, tag: str) -> list[tuple[int, float]]:
    """``(step, value)`` of one scalar tag (``tf.summary`` keeps scalars as tensors)."""
    return [
        (event.step, float(tensor_util.make_ndarray(event.tensor_proto)))
        for event in _events(folder).Tensors(tag)
    ]


def _hparams(folder: Path) -> Any:
    """The HParams plugin's session start info in ``folder``'s events."""
    content = _events(folder).PluginTagToContent(hparams_metadata.PLUGIN_NAME)
    return hparams_metadata.parse_session_start_info_plugin_data(
        content[hparams_metadata.SESSION_START_INFO_TAG]
    )


def _values(hparams: Any) -> dict[str, Any]:
    """HParams values (``google.protobuf.Value``s) as Python values."""
    return {name: getattr(value, str(value.WhichOneof("kind"))) for name, value in hparams.items()}


def _hparams_dashboard(runs_dir: Path) -> dict[str, tuple[dict[str, Any], dict[str, float]]]:
    """What TensorBoard's HParams dashboard lists for ``runs_dir``: each trial's name, its
    hyperparameters and its metrics (``group/tag``), from the plugin's own backend."""
    multiplexer = plugin_event_multiplexer.EventMultiplexer()
    multiplexer.AddRunsFromDirectory(str(runs_dir))
    multiplexer.Reload()
    provider = data_provider.MultiplexerDataProvider(multiplexer, str(runs_dir))
    backend = backend_context.Context(
        base_plugin.TBContext(data_provider=provider, multiplexer=multiplexer, logdir=str(runs_dir))
    )
    request = api_pb2.ListSessionGroupsRequest(
        start_index=0,
        slice_size=100,
        aggregation_type=api_pb2.AGGREGATION_AVG,
        allowed_statuses=[api_pb2.STATUS_UNKNOWN, api_pb2.STATUS_SUCCESS],
    )
    response = list_session_groups.Handler(context.RequestContext(), backend, "", request).run()
    return {
        group.name: (
            _values(group.hparams),
            {
                f"{metric.name.group}/{metric.name.tag}": metric.value
                for metric in group.metric_values
            },
        )
        for group in response.session_groups
    }


def _record(run: SessionResult) -> dict[str, Any]:
    record: dict[str, Any] = json.loads((run.run.path / RUN_FILE).read_text())
    return record


def test_epoch_scalars_are_the_history_for_train_and_validation(saved: SessionResult) -> None:
    events = saved.run.path / TENSORBOARD_DIR
    history = _record(saved)["history"]
    assert len(history) == 2
    for folder, prefix in (("train", ""), ("validation", "val_")):
        for name in ("loss", "accuracy"):
            expected = [(row["epoch"], row[f"{prefix}{name}"]) for row in history]
            got = _scalars(events / folder, f"epoch_{name}")
            assert [step for step, _value in got] == [1, 2]
            assert [value for _step, value in got] == pytest.approx(
                [value for _step, value in expected], rel=1e-6
            )


def test_the_step_curve_and_learning_rate_are_there(saved: SessionResult) -> None:
    train = saved.run.path / TENSORBOARD_DIR / "train"
    steps = _record(saved)["steps"]
    assert len(steps["step"]) >= 3
    for column, tag in (
        ("loss", "batch_loss"),
        ("accuracy", "batch_accuracy"),
        ("learning_rate", "batch_learning_rate"),
    ):
        got = _scalars(train, tag)
        assert [step for step, _value in got] == steps["step"]
        assert [value for _step, value in got] == pytest.approx(steps[column], rel=1e-6)
    rates = [value for _step, value in _scalars(train, "batch_learning_rate")]
    assert rates[-1] < rates[0]  # the cosine schedule


def test_test_metrics_and_the_config_as_hparams(saved: SessionResult) -> None:
    session = saved.run.path / TENSORBOARD_DIR
    for tag, expected in (
        ("test_accuracy", saved.evaluation.accuracy),
        ("test_loss", saved.evaluation.loss),
    ):
        [(step, value)] = _scalars(session, tag)
        assert step == 2 and value == pytest.approx(expected, rel=1e-6)
    values = _values(_hparams(session).hparams)
    assert values["hidden_units"] == "16,8"
    assert values["batch_size"] == 32 and values["epochs"] == 2
    assert values["learning_rate"] == pytest.approx(CONFIG.learning_rate)
    assert values["validation_split"] == pytest.approx(0.25)
    assert values["optimizer"] == "adam" and values["architecture"] == "mlp"
    assert set(CONFIG.to_dict()) <= set(values)
    assert values["status"] == "completed"
    assert values["study"] == "lr search" and values["trial"] == 3


def test_tensorboard_sees_each_saved_run_under_its_folder_name(saved: SessionResult) -> None:
    runs_dir = saved.run.path.parent
    multiplexer = event_multiplexer.EventMultiplexer(size_guidance=EVERYTHING)
    multiplexer.AddRunsFromDirectory(str(runs_dir))
    multiplexer.Reload()
    run = f"{saved.run.run_id}/{TENSORBOARD_DIR}"
    assert set(multiplexer.Runs()) == {run, f"{run}/train", f"{run}/validation"}
    assert "epoch_accuracy" in multiplexer.Runs()[f"{run}/validation"]["tensors"]


def test_the_hparams_dashboard_lists_each_run_with_its_test_accuracy(
    saved: SessionResult, tmp_path: Path
) -> None:
    original = saved.run.path
    shutil.copytree(original, tmp_path / original.name)
    shutil.copytree(original, tmp_path / "20990101-000000-mlp-copy")  # a copy is its own trial
    trials = _hparams_dashboard(tmp_path)
    assert set(trials) == {
        f"{original.name}/{TENSORBOARD_DIR}",
        f"20990101-000000-mlp-copy/{TENSORBOARD_DIR}",
    }
    for hparams, metrics in trials.values():
        assert hparams["study"] == "lr search" and hparams["trial"] == 3
        assert hparams["hidden_units"] == "16,8" and hparams["status"] == "completed"
        assert metrics["/test_accuracy"] == pytest.approx(saved.evaluation.accuracy, rel=1e-6)
        last = saved.run.history[-1]
        assert metrics["validation/epoch_accuracy"] == pytest.approx(last.val_accuracy, rel=1e-6)
        assert metrics["train/epoch_loss"] == pytest.approx(last.loss, rel=1e-6)


def test_a_stopped_run_has_events_and_its_delete_leaves_nothing(
    small_data: MnistData, tmp_path: Path
) -> None:
    stop = threading.Event()

    def stop_after_first_epoch(event: TrainingEvent) -> None:
        if isinstance(event, EpochEnd):
            stop.set()

    with _ticking():
        store = RunStore(tmp_path / "runs")
        session = train_evaluate_save(
            CONFIG.replace(epochs=20, validation_split=0.0),
            small_data,
            store,
            stop_after_first_epoch,
            stop,
        )
    run = session.run
    assert run.status == "stopped" and run.epochs_done == 1
    events = run.path / TENSORBOARD_DIR
    assert sorted(path.name for path in events.iterdir() if path.is_dir()) == ["train"]
    assert [step for step, _value in _scalars(events / "train", "epoch_loss")] == [1]
    assert _scalars(events, "test_accuracy")[0][0] == 1
    assert _hparams(events).hparams["status"].string_value == "stopped"
    assert "study" not in _hparams(events).hparams
    store.delete(run)
    assert not list(store.root.iterdir())


def test_events_that_cannot_be_written_leave_no_run(
    small_data: MnistData, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tensorflow as tf

    def disk_full(*_args: Any) -> None:
        raise tf.errors.ResourceExhaustedError(None, None, "No space left on device")

    monkeypatch.setattr("mnist_tui.core.runs.tensorboard_events._write", disk_full)
    with pytest.raises(RunError, match="TensorBoard events: No space left"):
        _train(small_data, tmp_path, CONFIG.replace(epochs=1, validation_split=0.0))
    assert not list(tmp_path.iterdir())  # neither a run nor its staging folder


def test_a_run_without_events_still_lists_and_opens(saved: SessionResult, tmp_path: Path) -> None:
    copy = tmp_path / saved.run.run_id
    shutil.copytree(saved.run.path, copy)
    shutil.rmtree(copy / TENSORBOARD_DIR)
    store = RunStore(tmp_path)
    runs, bad = store.list()
    assert [run.run_id for run in runs] == [saved.run.run_id] and not bad
    assert store.load_model(runs[0]) is not None


def test_the_users_changes_are_a_text_and_a_diverged_loss_is_nan(
    saved: SessionResult, tmp_path: Path
) -> None:
    record = _record(saved)
    record["controls"] = [
        {"step": 7, "kind": "learning_rate", "value": 0.001},
        {"step": 9, "kind": "pause", "value": 1.5},
    ]
    record["history"][-1]["loss"] = None  # as run.json holds a diverged loss
    write_run_events(tmp_path, record)
    events = tmp_path / TENSORBOARD_DIR
    text = _events(events).Tensors("controls")[0].tensor_proto.string_val[0].decode()
    assert "| 7 | learning_rate | 0.001 |" in text and "| 9 | pause | 1.5 |" in text
    assert math.isnan(_scalars(events / "train", "epoch_loss")[-1][1])


def test_the_events_read_as_those_of_tf_summary_and_the_hparams_plugin(
    saved: SessionResult, tmp_path: Path
) -> None:
    import tensorflow as tf
    from tensorboard.plugins.hparams import api as hp

    record = _record(saved)
    record["controls"] = [{"step": 7, "kind": "pause", "value": 1.5}]
    write_run_events(tmp_path / "ours", record)
    ours = _events(tmp_path / "ours" / TENSORBOARD_DIR)
    session = _hparams(tmp_path / "ours" / TENSORBOARD_DIR)
    writer = tf.summary.create_file_writer(str(tmp_path / "reference"))
    with writer.as_default():
        tf.summary.scalar("test_accuracy", record["test"]["accuracy"], step=2)
        tf.summary.text("controls", ours.Tensors("controls")[0].tensor_proto.string_val[0], step=0)
        hp.hparams(_values(session.hparams), start_time_secs=session.start_time_secs)
    writer.close()
    reference = _events(tmp_path / "reference")
    for tag in ("test_accuracy", "controls"):
        assert ours.SummaryMetadata(tag) == reference.SummaryMetadata(tag)
        mine, theirs = ours.Tensors(tag)[0], reference.Tensors(tag)[0]
        assert mine.step == theirs.step
        assert (
            tensor_util.make_ndarray(mine.tensor_proto).tolist()
            == tensor_util.make_ndarray(theirs.tensor_proto).tolist()
        )
    expected = _hparams(tmp_path / "reference")
    expected.group_name = ""  # theirs: a hash of the values; ours: none, so the folder's name
    assert session == expected
