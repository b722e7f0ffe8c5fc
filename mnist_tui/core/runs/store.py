"""Saved runs: ``<runs-dir>/<run-id>/`` with ``model.keras``, ``run.json`` and predictions.

A run folder is built under a hidden temporary name and renamed into place only when
every file is written, so a crash or a full disk never leaves a run that looks
complete but is not.
"""

from __future__ import annotations

import contextlib
import os
import platform
import secrets
import shutil
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from mnist_tui.core.config import TrainConfig
from mnist_tui.core.engine.evaluation import (
    NUM_CLASSES,
    Evaluation,
    check_probabilities,
    evaluate_probabilities,
)
from mnist_tui.core.errors import MnistTuiError
from mnist_tui.core.events import ControlApplied, EpochEnd, StepPoint
from mnist_tui.core.files import strict_json
from mnist_tui.core.files.atomic import fsync_tree, owner_tag, remove_orphans
from mnist_tui.core.files.bounded_io import MIB, is_plain_file, read_npy_bounded, read_text_bounded
from mnist_tui.core.paths import default_runs_dir
from mnist_tui.core.runs.annotations import (
    ANNOTATION_FILE,
    Annotation,
    AnnotationError,
    update_annotation,
    write_annotation,
)
from mnist_tui.core.runs.index import RunIndex, RunKey, RunSummary, run_key
from mnist_tui.core.runs.record import (
    FORMAT_VERSION,
    MAX_RECORD_BYTES,
    RecordError,
    RunInfo,
    SweepTrial,
    loads_record,
    parse_run_record,
    steps_columns,
)

__all__ = ["BadRun", "RunError", "RunInfo", "RunStore", "RunSummary"]

RUN_FILE = "run.json"
MODEL_FILE = "model.keras"
PROBABILITIES_FILE = "test_probabilities.npy"
MAX_PROBABILITIES_BYTES = 256 * MIB
MODEL_INPUT_SHAPE = (28, 28)
MAX_MODEL_EXPANSION = 8
"""A model archive may unpack to at most this many times its size (plus 64 MiB)."""


class RunError(MnistTuiError):
    """A run is missing, corrupt or could not be written."""


@dataclass(frozen=True)
class BadRun:
    """A folder in the runs directory that is not a readable run."""

    path: Path
    reason: str


Summaries = tuple[list[RunSummary], list[BadRun]]
"""Readable runs' summaries, newest first, and the folders that are not runs."""
Folders = tuple[list[Path], list[BadRun]]
"""Run folders to read, and the entries that are not run folders."""


def new_run_id(config: TrainConfig, now: datetime | None = None) -> str:
    """``20261124-013501-mlp-3fa2``: sortable by time, unique, readable."""
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{config.architecture}-{secrets.token_hex(2)}"


def library_versions() -> dict[str, str]:
    """Versions of the libraries that shaped a run."""
    import keras
    import tensorflow as tf

    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
    }


class RunStore:
    """The runs directory: save, list, load and delete runs."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root is not None else default_runs_dir()
        self._runs: dict[str, tuple[RunKey, RunInfo]] = {}
        """Runs read in full, kept while their files are unchanged (:func:`run_key`)."""
        self._index: RunIndex | None = None

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
        annotation: Annotation | None = None,
        steps: tuple[StepPoint, ...] = (),
        sweep: SweepTrial | None = None,
        controls: tuple[ControlApplied, ...] = (),
    ) -> RunInfo:
        """Write a complete run folder atomically and return it as read back; ``sweep``
        names the sweep trial the run is (``run.json``'s ``sweep``), ``controls`` the
        user's changes during training (``run.json``'s ``controls``)."""
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
            "steps": steps_columns(steps),
            "controls": [vars(applied) for applied in controls],
            "test": evaluation.metrics_dict(),
            "train_seconds": train_seconds,
            "param_count": param_count,
            "device": device,
            "dataset": dataset,
            "versions": library_versions(),
        }
        if sweep is not None:
            record["sweep"] = sweep.to_dict()
        staging = Path(
            tempfile.mkdtemp(prefix=f".{run_id}.{owner_tag()}", suffix=".partial", dir=self.root)
        )
        try:
            from mnist_tui.core.engine.models import portable_model  # Keras, loaded by now

            portable_model(model, config).save(staging / MODEL_FILE)
            np.save(staging / PROBABILITIES_FILE, evaluation.probabilities.astype(np.float32))
            (staging / RUN_FILE).write_text(strict_json.dumps(record, indent=2), encoding="utf-8")
            if annotation is not None:
                write_annotation(staging, annotation)
            from mnist_tui.core.runs.tensorboard_events import write_run_events

            write_run_events(staging, record)
            fsync_tree(staging)
            os.rename(staging, self.root / run_id)
        except BaseException as exc:
            shutil.rmtree(staging, ignore_errors=True)
            if isinstance(exc, OSError):
                raise RunError(f"could not save the run in {self.root}: {exc}") from exc
            raise
        return self.load(run_id)

    def list(self) -> tuple[list[RunInfo], list[BadRun]]:
        """Readable runs, newest first, and the folders that are not runs (with reasons).

        Orphaned temporaries of killed processes are removed first. Hidden entries and
        plain files are ignored; a symbolic link is reported, never followed. A run read
        before by this store is not read again while its files are unchanged
        (:func:`~mnist_tui.core.runs.index.run_key`).
        """
        folders, bad = self._folders()
        runs: list[RunInfo] = []
        kept: dict[str, tuple[RunKey, RunInfo]] = {}
        for folder in folders:
            key = run_key(folder, RUN_FILE)
            known = self._runs.get(folder.name)
            try:
                run = known[1] if known and key and known[0] == key else self._read(folder)
            except RunError as exc:
                bad.append(BadRun(folder, str(exc)))
                continue
            runs.append(run)
            if key is not None:
                kept[folder.name] = (key, run)
        self._runs = kept
        runs.sort(key=lambda run: (run.created, run.run_id), reverse=True)
        return runs, bad

    def summaries(self) -> Summaries:
        """What :meth:`list` finds, as summaries (no history, curves or matrices), newest
        first: quick at any size, since each run's summary is kept in the runs folder's
        index (:mod:`~mnist_tui.core.runs.index`) while its files are unchanged, and read
        in full only when they change."""
        folders, bad = self._folders()
        if self._index is None:
            self._index = RunIndex(self.root)
            self._index.load()
        index = self._index
        runs: list[RunSummary] = []
        for folder in folders:
            key = run_key(folder, RUN_FILE)
            summary = index.get(folder.name, key) if key is not None else None
            if summary is None:
                try:
                    summary = RunSummary.of(self._read(folder))
                except RunError as exc:
                    bad.append(BadRun(folder, str(exc)))
                    continue
                if key is not None:
                    index.put(folder.name, key, summary)
            runs.append(summary)
        if self.root.is_dir():
            index.keep_only({folder.name for folder in folders})
            index.save()
        runs.sort(key=lambda run: (run.created, run.run_id), reverse=True)
        return runs, bad

    def _folders(self) -> Folders:
        """The run folders to read, sorted, and what is not a run folder (with reasons)."""
        bad: list[BadRun] = []
        if not self.root.is_dir():
            if self.root.exists():
                bad.append(BadRun(self.root, f"{self.root} is a file, not a runs folder"))
            return [], bad
        remove_orphans(self.root)
        try:
            with os.scandir(self.root) as scan:
                entries = sorted(scan, key=lambda entry: entry.name)
        except OSError as exc:
            return [], [BadRun(self.root, f"cannot read {self.root}: {exc}")]
        folders: list[Path] = []
        for entry in entries:
            if entry.name.startswith("."):
                continue
            folder = self.root / entry.name
            try:
                if entry.is_symlink():
                    bad.append(BadRun(folder, f"{entry.name}: a symbolic link (not followed)"))
                elif entry.is_dir(follow_symlinks=False):
                    folders.append(folder)
            except OSError:
                continue
        return folders, bad

    def resolve(self, run_ref: str) -> Path:
        """The folder of a run given its id, ``latest``, its name, a unique prefix of an
        id or a name, or a path, tried in that order (an exact name before any prefix).

        A bare reference is looked up in the runs folder only; a path (it holds a ``/``)
        is taken as given. Empty, hidden and dot names are refused; a reference that fits
        several runs is a :class:`RunError` naming them.
        """
        ref = run_ref.strip()
        if not ref or ref in (".", "..") or ref.startswith("."):
            raise RunError(
                f"{run_ref!r} is not a run id or name: give one, a unique prefix "
                "of either, 'latest' or a run folder's path"
            )
        if os.sep in ref or (os.altsep and os.altsep in ref):
            candidate = Path(ref).expanduser()
            if (candidate / RUN_FILE).is_file():
                return candidate
            raise RunError(f"{ref} is not a run folder (no {RUN_FILE})")
        folder = self.root / ref
        if folder.is_symlink():
            raise RunError(f"{ref} is a symbolic link (not followed): not a run here")
        if (folder / RUN_FILE).is_file():
            return folder
        runs, _bad = self.summaries()
        if ref == "latest" and runs:
            return runs[0].path
        folded = ref.casefold()
        for matches in (
            [run for run in runs if run.name == ref],
            [run for run in runs if run.run_id.startswith(ref)],
            [run for run in runs if run.name.casefold().startswith(folded)],
        ):
            if len(matches) == 1:
                return matches[0].path
            if matches:
                raise RunError(
                    f"{ref!r} fits {len(matches)} runs: {_candidates(matches)}; "
                    "give more of the name or id"
                )
        raise RunError(
            f"no run {ref!r} in {self.root} (give its name or id, a unique prefix "
            "of either, 'latest' or a run folder's path)"
        )

    def load(self, run_ref: str) -> RunInfo:
        """Read one run's record (no model load)."""
        return self._read(self.resolve(run_ref))

    def load_model(self, run: RunInfo) -> Any:
        """The run's Keras model, loaded in Keras's safe mode and checked to be a digit
        classifier: 28x28 in, 10 classes out. Anything else is a :class:`RunError`."""
        import keras

        path = run.model_path
        if not is_plain_file(path):
            raise RunError(f"{run.run_id} has no {MODEL_FILE} (or it is not a plain file)")
        self._check_model_archive(run)
        try:
            model = keras.models.load_model(path, safe_mode=True, compile=False)
        except Exception as exc:
            if "safe_mode" in str(exc) or "safe mode" in str(exc).lower():
                raise RunError(
                    f"{run.run_id}: {MODEL_FILE} was refused: it asks to run code "
                    "(a Lambda layer or custom object), which mnist-tui never "
                    "loads. Train the run again instead."
                ) from None
            raise RunError(
                f"{run.run_id}: {MODEL_FILE} could not be loaded ({_first_line(exc)})"
            ) from exc
        inputs = tuple(getattr(model, "input_shape", ()) or ())[1:]
        outputs = tuple(getattr(model, "output_shape", ()) or ())[1:]
        if inputs != MODEL_INPUT_SHAPE or outputs != (NUM_CLASSES,):
            raise RunError(
                f"{run.run_id}: {MODEL_FILE} is not an MNIST digit classifier "
                f"(it takes {inputs or '?'} and gives {outputs or '?'}; expected "
                f"{MODEL_INPUT_SHAPE} and ({NUM_CLASSES},))"
            )
        return model

    def _check_model_archive(self, run: RunInfo) -> None:
        path = run.model_path
        if not zipfile.is_zipfile(path):  # Keras would call it "File not found"
            raise RunError(
                f"{run.run_id}: {MODEL_FILE} is damaged (not a .keras archive: "
                "truncated or overwritten)"
            )
        try:
            with zipfile.ZipFile(path) as archive:
                unpacked = sum(item.file_size for item in archive.infolist())
        except (OSError, zipfile.BadZipFile) as exc:
            raise RunError(f"{run.run_id}: {MODEL_FILE} is damaged ({exc})") from None
        if unpacked > 64 * MIB + MAX_MODEL_EXPANSION * path.stat().st_size:
            raise RunError(
                f"{run.run_id}: {MODEL_FILE} would unpack to {unpacked:,} bytes "
                "(an archive bomb, not a saved model)"
            )

    def load_evaluation(self, run: RunInfo, y_test: np.ndarray) -> Evaluation | None:
        """The saved test probabilities as an :class:`Evaluation`, if present and sound.

        The file's header is checked before anything is allocated: it must hold
        ``(len(y_test), 10)`` floats; then its values (:func:`check_probabilities`:
        finite, in [0, 1], rows summing to 1). ``None`` means "evaluate the model instead".
        """
        path = run.path / PROBABILITIES_FILE
        if not is_plain_file(path):
            return None
        try:
            with path.open("rb") as handle:
                probabilities = read_npy_bounded(
                    handle,
                    name=PROBABILITIES_FILE,
                    max_bytes=MAX_PROBABILITIES_BYTES,
                    shape=(len(y_test), NUM_CLASSES),
                    dtypes=("float32", "float64"),
                )
            check_probabilities(probabilities)
            return evaluate_probabilities(probabilities, y_test)
        except (OSError, ValueError):
            return None

    def evaluation(
        self, run: RunInfo, x_test: np.ndarray, y_test: np.ndarray, *, fresh: bool = False
    ) -> Evaluation:
        """The run's results on the test digits: its saved probabilities (instant, no
        TensorFlow) unless ``fresh`` or unusable, else its model loaded and evaluated."""
        saved = None if fresh else self.load_evaluation(run, y_test)
        if saved is not None:
            return saved
        from mnist_tui.core.engine.evaluation import evaluate_model  # TensorFlow

        return evaluate_model(self.load_model(run), x_test, y_test)

    def annotate(
        self,
        run: RunInfo,
        name: str | None = None,
        note: str | None = None,
        tags: Sequence[str] | None = None,
    ) -> RunInfo:
        """Change a run's name, note or tags (``None`` keeps one) and return it read back.

        Only ``annotation.json`` is written (atomically): never the run's record, model
        or metrics. The change applies to the file as it is now, under a lock, so
        changes made at once (other processes, a stale ``run``) all land. Raises
        :class:`RunError` for a value that cannot be kept.
        """
        folder = run.path
        if folder.is_symlink() or not (folder / RUN_FILE).is_file():
            raise RunError(f"{run.run_id} is not a run folder")
        try:
            update_annotation(folder, name, note, tags)
        except AnnotationError as exc:
            raise RunError(f"{run.run_id}: {exc}") from None
        except OSError as exc:
            raise RunError(f"{run.run_id}: could not write {ANNOTATION_FILE}: {exc}") from exc
        return self._read(folder)

    def delete(self, run: RunInfo | str) -> Path:
        """Remove one run folder directly inside the runs folder, and nothing else.

        The folder is the one resolved here (never a path or id read from a file); a
        symbolic link, or anything that is not a run folder directly inside the runs
        folder, is refused. It is renamed aside first, so a crash leaves no half run;
        if it cannot be removed whole, what is left is put back and :class:`RunError`
        says why.
        """
        folder = run.path if isinstance(run, RunInfo) else self.resolve(run)
        self._check_deletable(folder)
        trash = self.root / f".{folder.name}.{owner_tag()}.deleting"
        try:
            os.rename(folder, trash)
        except OSError as exc:
            raise RunError(f"could not delete {folder.name}: {exc.strerror or exc}") from exc
        failures: list[str] = []

        def failed(_function: Any, path: str, info: Any) -> None:
            error = info[1]
            failures.append(f"{Path(path).name}: {getattr(error, 'strerror', None) or error}")

        # run.json goes last: a delete that fails half-way leaves a run that still
        # lists (with what is missing named) and can be deleted again.
        for item in sorted(trash.iterdir(), key=lambda path: path.name == RUN_FILE):
            if item.is_dir() and not item.is_symlink():
                shutil.rmtree(item, onerror=failed)  # onexc is Python 3.12+
            else:
                try:
                    os.unlink(item)
                except OSError as exc:
                    failed(os.unlink, str(item), (type(exc), exc, None))
            if failures:
                break
        else:
            with contextlib.suppress(OSError):
                os.rmdir(trash)
        if failures or trash.exists():
            with contextlib.suppress(OSError):
                os.rename(trash, folder)
            raise RunError(
                f"could not delete {folder.name} ({'; '.join(failures[:3])}); "
                "what could not be removed is still in the runs folder"
            )
        return folder

    def _check_deletable(self, folder: Path) -> None:
        if folder.is_symlink():
            raise RunError(f"{folder.name} is a symbolic link: not deleted")
        try:
            inside = folder.resolve(strict=True).parent == self.root.resolve(strict=True)
        except (OSError, RuntimeError):
            inside = False
        if not inside or folder.name.startswith(".") or not (folder / RUN_FILE).is_file():
            raise RunError(f"{folder} is not a run folder inside {self.root}: not deleted")

    def _read(self, folder: Path) -> RunInfo:
        path = folder / RUN_FILE
        if not is_plain_file(path):
            if not path.exists() and not path.is_symlink():
                raise RunError(f"{folder.name}: no {RUN_FILE} (not a run)")
            raise RunError(
                f"{folder.name}: {RUN_FILE} is not a plain file (a link, FIFO or device: not read)"
            )
        try:
            text = read_text_bounded(path, MAX_RECORD_BYTES)
        except (OSError, ValueError) as exc:
            raise RunError(f"{folder.name}: {RUN_FILE} is unreadable ({exc})") from None
        try:
            return parse_run_record(loads_record(text), folder)
        except RecordError as exc:
            raise RunError(f"{folder.name}: {RUN_FILE} is invalid: {exc}") from None


def _candidates(runs: Sequence[RunSummary], most: int = 5) -> str:
    """``a (id1), b (id2) and 3 more``: the runs a reference fits, on one line."""
    names = ", ".join(run.label for run in runs[:most])
    return names if len(runs) <= most else f"{names} and {len(runs) - most} more"


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0][:300] if lines else type(exc).__name__
