"""A run's model exported for other runtimes (SavedModel, ONNX, LiteRT), each verified
against the Keras model on the test digits before it is put in place.

An export is a folder: the model file(s), ``contract.json`` (the input and output the
exported model expects and gives, and the verification's figures) and a ``README.md``
saying the same for a person. It is built under a hidden temporary name beside its
destination and renamed into place only once it has been verified.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from mnist_tui.core.config import TrainConfig
from mnist_tui.core.data.inputs import as_float_images
from mnist_tui.core.errors import MnistTuiError
from mnist_tui.core.files import strict_json
from mnist_tui.core.files.atomic import fsync_tree, owner_tag

ExportFormat = Literal["savedmodel", "onnx", "tflite"]
FORMATS: tuple[ExportFormat, ...] = ("savedmodel", "onnx", "tflite")
MODEL_FILES: dict[ExportFormat, str] = {
    "savedmodel": "saved_model.pb",
    "onnx": "model.onnx",
    "tflite": "model.tflite",
}
"""The model's file inside an export's folder (a SavedModel is the folder itself)."""
RUNTIMES: dict[ExportFormat, str] = {
    "savedmodel": "tf.saved_model.load",
    "onnx": "onnxruntime",
    "tflite": "the LiteRT interpreter (ai_edge_litert)",
}
CONTRACT_FILE = "contract.json"
README_FILE = "README.md"
MAX_DIFFERENCE = 1e-4
"""The exported model's probabilities may differ from Keras's by at most this much."""
MAX_DISAGREEMENTS = 1
"""Test digits on which the exported model's prediction may differ from Keras's."""
BATCH = 1000
SCALE = (
    "float32 grey levels / 255: 0.0 is paper (black), 1.0 full ink (white); "
    "a white digit on black, as MNIST's"
)
PREPROCESSING = (
    "as MNIST's digits were made: the ink cropped, scaled to fit 20x20 "
    "keeping its aspect, centred by mass in 28x28 (mnist-tui predict does this)"
)

Progress = Callable[[str], None]


class ExportError(MnistTuiError):
    """An export could not be made, written or verified; nothing was left in place."""


@dataclass(frozen=True)
class Verification:
    """How the exported model, run by its own runtime, agrees with the Keras model."""

    digits: int
    agree: int
    """Test digits on which both predict the same class."""
    max_difference: float
    """The largest absolute difference between their probabilities."""

    @property
    def passed(self) -> bool:
        return (
            self.digits - self.agree <= MAX_DISAGREEMENTS and self.max_difference <= MAX_DIFFERENCE
        )

    def summary(self) -> str:
        return (
            f"agrees on {self.agree:,} of {self.digits:,} test digits; probabilities "
            f"within {self.max_difference:.1e} (limits: {MAX_DISAGREEMENTS} disagreement, "
            f"{MAX_DIFFERENCE:g})"
        )


@dataclass(frozen=True)
class Tensor:
    """One input or output of an exported model, as its runtime names it."""

    name: str
    shape: tuple[int | None, ...]
    dtype: str


@dataclass(frozen=True)
class ExportResult:
    """A verified export in place."""

    format: ExportFormat
    path: Path
    model_file: Path
    input: Tensor
    output: Tensor
    verification: Verification
    seconds: float
    size: int
    """Bytes of the export's folder."""

    def contract(self, run_id: str) -> dict[str, Any]:
        """What ``contract.json`` holds."""
        return {
            "run_id": run_id,
            "format": self.format,
            "model": self.model_file.name if self.format != "savedmodel" else ".",
            "runtime": RUNTIMES[self.format],
            "input": {
                **dataclasses.asdict(self.input),
                "scale": SCALE,
                "preprocessing": PREPROCESSING,
            },
            "output": {
                **dataclasses.asdict(self.output),
                "meaning": "probabilities of the digits 0-9 (softmax; argmax is the prediction)",
            },
            "verified": dataclasses.asdict(self.verification),
        }


def inference_model(model: Any, config: TrainConfig) -> Any:
    """``model`` without its training-only layers (the random shifts and rotations of
    augmentation), for export: the same predictions, in a graph that every converter
    takes."""
    import keras

    from mnist_tui.core.engine.models import build_model

    if config.augment != "on":
        return model
    plain = build_model(dataclasses.replace(config, augment="off"))
    random = (keras.layers.RandomTranslation, keras.layers.RandomRotation)
    sources = [layer for layer in model.layers if layer.weights and not isinstance(layer, random)]
    targets = [layer for layer in plain.layers if layer.weights]
    if len(sources) != len(targets):
        raise ExportError("the model's layers do not match its settings")
    for source, target in zip(sources, targets, strict=True):
        target.set_weights(source.get_weights())
    return plain


def export_model(
    model: Any,
    config: TrainConfig,
    run_id: str,
    fmt: ExportFormat,
    out: Path,
    x_test: np.ndarray,
    progress: Progress = lambda _: None,
) -> ExportResult:
    """Export ``model`` (a run's, trained with ``config``) as ``fmt`` into the new folder
    ``out``, verified on the uint8 digits ``x_test`` against the model's own predictions.

    ``out`` must not exist (nothing is ever replaced). The folder is built beside it
    under a hidden temporary name and renamed into place once verified; on any failure
    it is removed and :class:`ExportError` says why. ``progress`` hears each stage.
    """
    began = time.perf_counter()
    out = Path(out)
    check_destination(out)
    parent = out.parent
    try:
        staging = Path(
            tempfile.mkdtemp(
                prefix=f".{out.name[:64]}.{owner_tag()}", suffix=".partial", dir=parent
            )
        )
    except OSError as exc:
        raise ExportError(f"cannot write in {parent}: {exc.strerror or exc}") from None
    try:
        progress("converting")
        exported = inference_model(model, config)
        exported.predict_on_batch(np.zeros((1, 28, 28), np.float32))  # converters want it built
        model_file = staging / MODEL_FILES[fmt]
        with _quiet_converters():
            exported.export(
                str(staging if fmt == "savedmodel" else model_file),
                format="tf_saved_model"
                if fmt == "savedmodel"
                else "onnx"
                if fmt == "onnx"
                else "litert",
                verbose=False,
            )
        progress(f"verifying on {len(x_test):,} test digits with {RUNTIMES[fmt]}")
        runner, tensor_in, tensor_out = _runtime(fmt, staging, model_file)
        verification = verify(model, runner, x_test)
        if not verification.passed:
            raise ExportError(
                f"the {fmt} export does not agree with the Keras model: {verification.summary()}"
            )
        result = ExportResult(
            format=fmt,
            path=out,
            model_file=out / model_file.name,
            input=tensor_in,
            output=tensor_out,
            verification=verification,
            seconds=0.0,
            size=0,
        )
        contract = result.contract(run_id)
        (staging / CONTRACT_FILE).write_text(
            strict_json.dumps(contract, indent=2) + "\n", encoding="utf-8"
        )
        (staging / README_FILE).write_text(readme(contract), encoding="utf-8")
        fsync_tree(staging)
        os.rename(staging, out)
    except BaseException as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(exc, ExportError):
            raise
        if isinstance(exc, OSError):
            raise ExportError(f"could not write {out}: {exc.strerror or exc}") from None
        if isinstance(exc, Exception):
            raise ExportError(f"the {fmt} export failed: {_first_line(exc)}") from exc
        raise
    size = sum(item.stat().st_size for item in out.rglob("*") if item.is_file())
    return dataclasses.replace(result, seconds=time.perf_counter() - began, size=size)


def check_destination(out: Path) -> None:
    """Refuse, as :class:`ExportError`, an ``out`` that exists (a file, a folder, a link,
    a FIFO or a device: nothing is ever replaced) or whose parent is not a folder."""
    if out.exists() or out.is_symlink():
        raise ExportError(
            f"{out} already exists (an export replaces nothing): choose "
            "another name, or remove it first"
        )
    if not out.parent.is_dir():
        raise ExportError(f"{out.parent} is not a folder")


Runner = Callable[[np.ndarray], np.ndarray]
"""Probabilities (n, 10) for float32 inputs (n, 28, 28) in [0, 1]."""


def verify(model: Any, runner: Runner, x_test: np.ndarray) -> Verification:
    """Compare ``runner``'s probabilities with ``model``'s on the uint8 digits ``x_test``."""

    agree, difference = 0, 0.0
    for start in range(0, len(x_test), BATCH):
        batch = as_float_images(x_test[start : start + BATCH])
        expected = np.asarray(model.predict_on_batch(batch), dtype=np.float32)
        got = np.asarray(runner(batch), dtype=np.float32).reshape(expected.shape)
        agree += int((expected.argmax(axis=1) == got.argmax(axis=1)).sum())
        difference = max(difference, float(np.abs(expected - got).max(initial=0.0)))
    return Verification(digits=len(x_test), agree=agree, max_difference=difference)


def _runtime(fmt: ExportFormat, folder: Path, model_file: Path) -> tuple[Runner, Tensor, Tensor]:
    """A runner for the export, by its own runtime, and its input and output tensors."""
    if fmt == "savedmodel":
        import tensorflow as tf

        loaded = tf.saved_model.load(str(folder))
        serve = loaded.signatures["serving_default"]
        ((in_name, in_spec),) = serve.structured_input_signature[1].items()
        out_name = next(iter(serve.structured_outputs))

        def run_saved(batch: np.ndarray) -> np.ndarray:
            return np.asarray(serve(**{in_name: tf.constant(batch)})[out_name])

        return run_saved, _tensor(in_name, in_spec.dtype.name), _tensor(out_name, output=True)
    if fmt == "onnx":
        import onnxruntime

        session = onnxruntime.InferenceSession(str(model_file), providers=["CPUExecutionProvider"])
        first_in, first_out = session.get_inputs()[0], session.get_outputs()[0]

        def run_onnx(batch: np.ndarray) -> np.ndarray:
            return np.asarray(session.run([first_out.name], {first_in.name: batch})[0])

        return run_onnx, _tensor(first_in.name), _tensor(first_out.name, output=True)
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(model_file))
    detail_in = interpreter.get_input_details()[0]
    detail_out = interpreter.get_output_details()[0]

    def run_litert(batch: np.ndarray) -> np.ndarray:
        interpreter.resize_tensor_input(detail_in["index"], list(batch.shape))
        interpreter.allocate_tensors()
        interpreter.set_tensor(detail_in["index"], batch)
        interpreter.invoke()
        return np.array(interpreter.get_tensor(detail_out["index"]))

    return run_litert, _tensor(detail_in["name"]), _tensor(detail_out["name"], output=True)


def _tensor(name: str, dtype: str = "float32", *, output: bool = False) -> Tensor:
    """The input (or ``output``) as the runtime names it. Its shape is the Keras model's,
    checked when the run's model was loaded: N x 28 x 28 in, N x 10 out (a converter may
    declare fewer dimensions fixed, as LiteRT's does)."""
    return Tensor(name=str(name), shape=(None, 10) if output else (None, 28, 28), dtype=dtype)


def readme(contract: dict[str, Any]) -> str:
    """The export's README: what it is, its input and output, and how to run it."""
    fmt, model = contract["format"], contract["model"]
    tensor_in, tensor_out = contract["input"], contract["output"]
    shape = "x".join("N" if d is None else str(d) for d in tensor_in["shape"])
    examples = {
        "savedmodel": (
            "import tensorflow as tf\n"
            "serve = tf.saved_model.load('.').signatures['serving_default']\n"
            f"probabilities = serve({tensor_in['name']}=tf.constant(digits))"
            f"['{tensor_out['name']}']"
        ),
        "onnx": (
            "import onnxruntime\n"
            f"session = onnxruntime.InferenceSession('{model}')\n"
            f"probabilities = session.run(None, {{'{tensor_in['name']}': digits}})[0]"
        ),
        "tflite": (
            "from ai_edge_litert.interpreter import Interpreter\n"
            f"interpreter = Interpreter(model_path='{model}')\n"
            "index = interpreter.get_input_details()[0]['index']\n"
            "interpreter.resize_tensor_input(index, digits.shape)\n"
            "interpreter.allocate_tensors()\n"
            "interpreter.set_tensor(index, digits)\n"
            "interpreter.invoke()\n"
            "probabilities = interpreter.get_tensor("
            "interpreter.get_output_details()[0]['index'])"
        ),
    }
    check = contract["verified"]
    return (
        f"# MNIST digit classifier: run {contract['run_id']}, {fmt}\n\n"
        f"Exported by mnist-tui and run by {contract['runtime']} on "
        f"{check['digits']:,} test digits before it was written: it agreed with the Keras "
        f"model on {check['agree']:,}, its probabilities within "
        f"{check['max_difference']:.1e}.\n\n"
        f"- **Input** `{tensor_in['name']}`: {tensor_in['dtype']}, shape {shape} (N digits "
        f"of 28x28 pixels); {tensor_in['scale']}.\n"
        f"- **Digits of your own** must be prepared {tensor_in['preprocessing']}.\n"
        f"- **Output** `{tensor_out['name']}`: {tensor_out['dtype']}, shape Nx10, "
        f"{tensor_out['meaning']}.\n\n"
        "```python\n"
        "import numpy as np\n"
        "digits = np.zeros((1, 28, 28), np.float32)  # your digits here, scaled as above\n"
        f"{examples[fmt]}\n"
        "print(np.argmax(probabilities, axis=1))\n"
        "```\n\n"
        f"`{CONTRACT_FILE}` says the same for programs.\n"
    )


@contextlib.contextmanager
def _quiet_converters() -> Iterator[None]:
    """tf2onnx and the LiteRT converter log their progress (and every op they fold) at
    WARNING through Python's logging: that would flood a terminal or the app."""
    loggers = [logging.getLogger(name) for name in ("tf2onnx", "absl", "tensorflow")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR + 10)
    try:
        with warnings.catch_warnings():  # numpy's FutureWarnings from inside the converters
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__
