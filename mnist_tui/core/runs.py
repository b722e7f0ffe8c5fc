"""Saved runs: ``<runs-dir>/<run-id>/`` with ``model.keras``, ``run.json`` and predictions.

A run folder is built under a hidden temporary name and renamed into place only when
every file is written, so a crash or a full disk never leaves a run that looks
complete but is not.
"""

from __future__ import annotations

import json
import os
import platform
import secrets
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from mnist_tui.core.config import ConfigError, TrainConfig
from mnist_tui.core.evaluation import Evaluation, evaluate_probabilities
from mnist_tui.core.events import EpochEnd

RUNS_DIR_ENV = "MNIST_TUI_RUNS_DIR"
RUN_FILE = "run.json"
MODEL_FILE = "model.keras"
PROBABILITIES_FILE = "test_probabilities.npy"
FORMAT_VERSION = 1


class RunError(Exception):
    """A run is missing, corrupt or could not be written."""


def default_runs_dir() -> Path:
    """``$MNIST_TUI_RUNS_DIR`` or ``./saved_models``."""
    return Path(os.environ.get(RUNS_DIR_ENV) or "saved_models").expanduser()


@dataclass(frozen=True)
class RunInfo:
    """One saved run as read from its ``run.json``."""

    run_id: str
    path: Path
    config: TrainConfig
    status: str
    """``completed``, ``stopped`` or ``early_stopped``."""
    created: str
    """ISO-8601 UTC time the run was saved."""
    history: tuple[EpochEnd, ...]
    test_loss: float
    test_accuracy: float
    confusion: np.ndarray
    train_seconds: float
    param_count: int
    device: str
    data: dict[str, Any] = field(default_factory=dict)
    """The whole ``run.json``."""

    @property
    def epochs_done(self) -> int:
        """Whole epochs trained."""
        return len(self.history)

    @property
    def model_path(self) -> Path:
        """The Keras model file."""
        return self.path / MODEL_FILE


@dataclass(frozen=True)
class BadRun:
    """A folder in the runs directory that is not a readable run."""

    path: Path
    reason: str


def new_run_id(config: TrainConfig, now: datetime | None = None) -> str:
    """``20261124-013501-mlp-3fa2``: sortable by time, unique, readable."""
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{config.architecture}-{secrets.token_hex(2)}"


def library_versions() -> dict[str, str]:
    """Versions of the libraries that shaped a run."""
    import keras
    import tensorflow as tf

    return {"python": platform.python_version(), "tensorflow": tf.__version__,
            "keras": keras.__version__, "numpy": np.__version__}


class RunStore:
    """The runs directory: save, list, load and delete runs."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root is not None else default_runs_dir()

    def ensure_writable(self) -> None:
        """Create the runs directory if needed and check a file can be written there.

        Called before a run trains too, so that a folder that cannot take the run is
        reported at once rather than after the training it would have lost.
        """
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RunError(f"cannot create the runs directory {self.root}: {exc}") from exc
        try:
            with tempfile.TemporaryFile(dir=self.root):
                pass
        except OSError as exc:
            raise RunError(f"cannot write in the runs directory {self.root}: {exc}") from exc

    def save(
        self,
        *,
        model: Any,
        config: TrainConfig,
        status: str,
        history: tuple[EpochEnd, ...],
        evaluation: Evaluation,
        train_seconds: float,
        param_count: int,
        device: str,
        dataset: dict[str, Any],
        started: datetime,
    ) -> RunInfo:
        """Write a complete run folder atomically and return it as read back."""
        self.ensure_writable()
        run_id = new_run_id(config)
        record = {
            "format": FORMAT_VERSION,
            "run_id": run_id,
            "status": status,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "started": started.astimezone(UTC).isoformat(timespec="seconds"),
            "config": config.to_dict(),
            "history": [vars(row) for row in history],
            "test": evaluation.metrics_dict(),
            "train_seconds": train_seconds,
            "param_count": param_count,
            "device": device,
            "dataset": dataset,
            "versions": library_versions(),
        }
        staging = Path(tempfile.mkdtemp(prefix=f".{run_id}.", suffix=".partial", dir=self.root))
        try:
            model.save(staging / MODEL_FILE)
            np.save(staging / PROBABILITIES_FILE, evaluation.probabilities.astype(np.float32))
            (staging / RUN_FILE).write_text(json.dumps(record, indent=2), encoding="utf-8")
            for item in staging.iterdir():
                with item.open("rb") as handle:
                    os.fsync(handle.fileno())
            os.rename(staging, self.root / run_id)
        except BaseException as exc:
            shutil.rmtree(staging, ignore_errors=True)
            if isinstance(exc, OSError):
                raise RunError(f"could not save the run in {self.root}: {exc}") from exc
            raise
        return self.load(run_id)

    def list(self) -> tuple[list[RunInfo], list[BadRun]]:
        """Readable runs, newest first, and the folders that are not runs."""
        runs: list[RunInfo] = []
        bad: list[BadRun] = []
        if not self.root.is_dir():
            if self.root.exists():
                bad.append(BadRun(self.root, f"{self.root} is a file, not a runs folder"))
            return runs, bad
        for folder in sorted(self.root.iterdir()):
            if not folder.is_dir() or folder.name.startswith("."):
                continue
            try:
                runs.append(self._read(folder))
            except RunError as exc:
                bad.append(BadRun(folder, str(exc)))
        runs.sort(key=lambda run: (run.created, run.run_id), reverse=True)
        return runs, bad

    def resolve(self, run_ref: str) -> Path:
        """The folder of a run given its id, a unique id prefix, ``latest`` or a path."""
        candidate = Path(run_ref).expanduser()
        if (candidate / RUN_FILE).is_file():
            return candidate
        folder = self.root / run_ref
        if (folder / RUN_FILE).is_file():
            return folder
        runs, _bad = self.list()
        if run_ref == "latest" and runs:
            return runs[0].path
        matches = [run for run in runs if run.run_id.startswith(run_ref)]
        if len(matches) == 1:
            return matches[0].path
        if len(matches) > 1:
            raise RunError(f"{run_ref!r} matches {len(matches)} runs; give more of the id")
        raise RunError(f"no run {run_ref!r} in {self.root}")

    def load(self, run_ref: str) -> RunInfo:
        """Read one run's record (no model load)."""
        return self._read(self.resolve(run_ref))

    def load_model(self, run: RunInfo) -> Any:
        """The run's Keras model, loaded in Keras's safe mode."""
        import keras

        if not run.model_path.is_file():
            raise RunError(f"{run.run_id} has no {MODEL_FILE}")
        if not zipfile.is_zipfile(run.model_path):  # Keras would call it "File not found"
            raise RunError(f"{run.run_id}: {MODEL_FILE} is damaged (not a .keras archive: "
                           "truncated or overwritten)")
        try:
            return keras.models.load_model(run.model_path, safe_mode=True, compile=False)
        except Exception as exc:
            raise RunError(f"{run.run_id}: {MODEL_FILE} could not be loaded ({exc})") from exc

    def load_evaluation(self, run: RunInfo, y_test: np.ndarray) -> Evaluation | None:
        """The saved test probabilities as an :class:`Evaluation`, if present and sound."""
        path = run.path / PROBABILITIES_FILE
        try:
            probabilities = np.load(path, allow_pickle=False)
            return evaluate_probabilities(probabilities, y_test)
        except (OSError, ValueError):
            return None

    def delete(self, run_ref: str) -> Path:
        """Remove a run folder (renamed aside first, so a crash leaves no half run)."""
        folder = self.resolve(run_ref)
        trash = folder.with_name(f".{folder.name}.deleting")
        os.rename(folder, trash)
        shutil.rmtree(trash, ignore_errors=True)
        return folder

    def _read(self, folder: Path) -> RunInfo:
        path = folder / RUN_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise RunError(f"{folder.name}: no {RUN_FILE} (not a run)") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise RunError(f"{folder.name}: {RUN_FILE} is unreadable ({exc})") from exc
        try:
            test = data["test"]
            return RunInfo(
                run_id=str(data["run_id"]),
                path=folder,
                config=TrainConfig.from_dict(data["config"]),
                status=str(data["status"]),
                created=str(data["created"]),
                history=tuple(EpochEnd(**row) for row in data["history"]),
                test_loss=float(test["loss"]),
                test_accuracy=float(test["accuracy"]),
                confusion=np.asarray(test["confusion_matrix"], dtype=np.int64),
                train_seconds=float(data.get("train_seconds", 0.0)),
                param_count=int(data.get("param_count", 0)),
                device=str(data.get("device", "")),
                data=data,
            )
        except (KeyError, TypeError, ValueError, ConfigError) as exc:
            raise RunError(f"{folder.name}: {RUN_FILE} is incomplete or invalid ({exc})") from exc
