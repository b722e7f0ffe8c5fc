"""TensorBoard event files for a saved run, so ``tensorboard --logdir saved_models`` shows
every run and sweep trial side by side.

A run's events live in ``<run>/tensorboard/``, laid out as Keras's TensorBoard callback
lays them out (TensorBoard names each folder holding events a run of its own):

- ``tensorboard/train`` and ``tensorboard/validation``: ``epoch_loss`` and
  ``epoch_accuracy`` at each epoch (x = the 1-based epoch), so train and validation
  overlay in one chart;
- ``tensorboard/train`` also: ``batch_loss``, ``batch_accuracy`` and
  ``batch_learning_rate`` at each tick of the per-step curve (x = the global step);
- ``tensorboard`` itself: ``test_loss`` and ``test_accuracy`` (x = epochs trained), the
  HParams plugin's session (the config's values, ``status``, and a sweep trial's
  ``study`` and ``trial``), so the HParams dashboard lists the run with its metrics, as a
  trial named after its folder (a copied run is a trial of its own); and, if the user
  steered the run, a ``controls`` text.

The summaries read exactly as those of ``tf.summary.scalar``, ``tf.summary.text`` and the
HParams plugin's ``hparams``; they are built here as protocol buffers and written with
``tf.summary``'s writer, one event per step, which costs a third as much
(benchmarks/tensorboard_cost.py).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

__all__ = ["TENSORBOARD_DIR", "write_run_events"]

TENSORBOARD_DIR = "tensorboard"
"""The folder inside a run that holds its TensorBoard events."""
STEP_TAGS = {
    "loss": "batch_loss",
    "accuracy": "batch_accuracy",
    "learning_rate": "batch_learning_rate",
}
"""The per-step curve's columns (``run.json``'s ``steps``) and their tags."""
HPARAMS_TAG = "_hparams_/session_start_info"
"""Where the HParams plugin looks for a session's hyperparameters."""

Events = list[tuple[int, Any]]
"""``(step, summary)`` pairs: what one writer writes, in order."""


def write_run_events(folder: Path, record: Mapping[str, Any]) -> None:
    """Write the TensorBoard events of the run whose ``run.json`` record is ``record``
    into ``folder/tensorboard/`` (see the module's docstring for what goes where).

    Every event file is closed on return (the caller fsyncs the run folder). Imports
    TensorFlow. A failure to write is an :class:`OSError`.
    """
    import tensorflow as tf

    summaries = _Summaries()
    history: list[Mapping[str, Any]] = list(record.get("history") or ())
    steps: Mapping[str, list[Any]] = record.get("steps") or {}
    train: Events = [
        (
            row["epoch"],
            summaries.scalars(
                "train", {"epoch_loss": row["loss"], "epoch_accuracy": row["accuracy"]}
            ),
        )
        for row in history
    ]
    for index, step in enumerate(steps.get("step") or ()):
        train.append(
            (
                step,
                summaries.scalars(
                    "train", {tag: steps[column][index] for column, tag in STEP_TAGS.items()}
                ),
            )
        )
    validation: Events = [
        (
            row["epoch"],
            summaries.scalars(
                "validation", {"epoch_loss": row["val_loss"], "epoch_accuracy": row["val_accuracy"]}
            ),
        )
        for row in history
        if row.get("val_loss") is not None
    ]
    test = record["test"]
    session: Events = [
        (
            len(history),
            summaries.scalars("", {"test_loss": test["loss"], "test_accuracy": test["accuracy"]}),
        ),
        (0, summaries.hparams(_hparams(record), _seconds(record.get("started")))),
    ]
    if record.get("controls"):
        session.append((0, summaries.text("controls", _controls_text(record["controls"]))))
    root = folder / TENSORBOARD_DIR
    try:
        for name, events in (("train", train), ("validation", validation), ("", session)):
            if events:
                _write(tf, root / name, events)
    except tf.errors.OpError as exc:
        raise OSError(f"could not write the TensorBoard events: {exc.message}") from exc


def _write(tf: Any, logdir: Path, events: Events) -> None:
    """One event file in ``logdir``, flushed once, when the writer closes."""
    writer = tf.summary.create_file_writer(
        str(logdir), max_queue=len(events) + 1, flush_millis=10**9
    )
    try:
        with writer.as_default():
            for step, summary in events:
                tf.summary.experimental.write_raw_pb(summary.SerializeToString(), step=step)
    finally:
        writer.close()


class _Summaries:
    """Builds ``Summary`` protocol buffers as TensorBoard's plugins do; a tag's metadata
    (which plugin reads it) goes with its first value in each folder, as theirs does."""

    def __init__(self) -> None:
        from tensorflow.core.framework import summary_pb2, tensor_pb2, types_pb2

        self._summary_pb2 = summary_pb2
        self._tensor_pb2 = tensor_pb2
        self._types_pb2 = types_pb2
        self._described: set[tuple[str, str]] = set()

    def scalars(self, folder: str, values: Mapping[str, Any]) -> Any:
        """``tf.summary.scalar``'s values: float32 scalars for the ``scalars`` plugin."""
        summary = self._summary_pb2.Summary()
        for tag, value in values.items():
            entry = summary.value.add(tag=tag)
            entry.tensor.dtype = self._types_pb2.DT_FLOAT
            entry.tensor.float_val.append(math.nan if value is None else float(value))
            if (folder, tag) not in self._described:
                self._described.add((folder, tag))
                entry.metadata.plugin_data.plugin_name = "scalars"
        return summary

    def text(self, tag: str, markdown: str) -> Any:
        """``tf.summary.text``'s value: one string for the ``text`` plugin."""
        summary = self._summary_pb2.Summary()
        entry = summary.value.add(tag=tag)
        entry.tensor.dtype = self._types_pb2.DT_STRING
        entry.tensor.string_val.append(markdown.encode("utf-8"))
        entry.metadata.plugin_data.plugin_name = "text"
        return summary

    def hparams(
        self, values: Mapping[str, bool | int | float | str], start_time_secs: float
    ) -> Any:
        """The HParams plugin's ``hparams(values, start_time_secs=...)``, with no trial
        id: the plugin then names the trial after the folder the events are in."""
        from tensorboard.plugins.hparams import plugin_data_pb2

        data = plugin_data_pb2.HParamsPluginData(version=0)
        session = data.session_start_info
        session.start_time_secs = start_time_secs
        for name, value in sorted(values.items()):
            if isinstance(value, bool):
                session.hparams[name].bool_value = value
            elif isinstance(value, (int, float)):
                session.hparams[name].number_value = value
            else:
                session.hparams[name].string_value = value
        summary = self._summary_pb2.Summary()
        entry = summary.value.add(tag=HPARAMS_TAG)
        entry.metadata.plugin_data.plugin_name = "hparams"
        entry.metadata.plugin_data.content = data.SerializeToString()
        entry.tensor.dtype = self._types_pb2.DT_FLOAT  # the plugin's empty tensor
        entry.tensor.tensor_shape.dim.add(size=0)
        return summary


def _hparams(record: Mapping[str, Any]) -> dict[str, bool | int | float | str]:
    """The config's values as HParams values (a list becomes ``"32,64"``), the run's
    status, and a sweep trial's study and trial number."""
    values: dict[str, bool | int | float | str] = {}
    for name, value in record["config"].items():
        if isinstance(value, (list, tuple)):
            values[name] = ",".join(str(item) for item in value)
        elif isinstance(value, (bool, int, float, str)):
            values[name] = value
    values["status"] = str(record["status"])
    sweep = record.get("sweep")
    if sweep is not None:
        values["study"] = str(sweep["study"])
        values["trial"] = int(sweep["trial"])
    return values


def _controls_text(controls: list[Mapping[str, Any]]) -> str:
    """The user's changes during training as a Markdown table."""
    rows = [f"| {row['step']} | {row['kind']} | {row['value']:g} |" for row in controls]
    return "\n".join(["| step | change | value |", "|---:|---|---:|", *rows])


def _seconds(stamp: Any) -> float:
    """An ISO-8601 time as seconds since the epoch (now, as the plugin's default, if
    there is none)."""
    try:
        return datetime.fromisoformat(stamp).timestamp()
    except (TypeError, ValueError):
        return time.time()
