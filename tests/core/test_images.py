"""A user's own image as an MNIST digit: every format, mode and size read alike, and every
hostile file refused with one clear reason (mnist_tui.core.digits.images)."""

from __future__ import annotations

import io
import os
import struct
import subprocess
import sys
import time
import tracemalloc
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, features

from mnist_tui.core.digits.drawing import blank_canvas, mnist_digit, mnist_input, stroke
from mnist_tui.core.digits.images import (
    MAX_BYTES,
    ImageError,
    Source,
    digit_from_bytes,
    grey_levels,
    image_files,
    ink_levels,
    iter_sources,
    read_digit,
    read_file,
    read_source,
    shown_name,
)
from mnist_tui.core.files.bounded_io import MIB


def seven(size: tuple[int, int] = (120, 160), ink: int = 0, paper: int = 255) -> Image.Image:
    """A "7" in one stroke as wide as 1/8 of the image, dark on light by default."""
    width, height = size
    image = Image.new("L", size, paper)
    ImageDraw.Draw(image).line(
        [(width * 0.2, height * 0.2), (width * 0.8, height * 0.2), (width * 0.4, height * 0.85)],
        fill=ink,
        width=max(1, width // 8),
    )
    return image


def encoded(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def npy(array: np.ndarray, allow_pickle: bool = False) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.reshape(-1).astype(float), b.reshape(-1).astype(float))[0, 1])


def aligned(a: np.ndarray, b: np.ndarray) -> float:
    """The best :func:`correlation` of ``a`` moved by up to a pixel each way: centring by
    mass rounds to whole pixels, so the same shape may land a pixel apart."""
    return max(
        correlation(np.roll(a, (dr, dc), axis=(0, 1)), b) for dr in (-1, 0, 1) for dc in (-1, 0, 1)
    )


def png_header(width: int, height: int) -> bytes:
    """A PNG that declares ``width`` x ``height`` grey pixels and holds none of them."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(b""))
        + chunk(b"IEND", b"")
    )


REFERENCE = digit_from_bytes(encoded(seven(), "PNG"))


def test_the_reference_is_a_centred_digit() -> None:
    assert REFERENCE.shape == (28, 28) and REFERENCE.dtype == np.uint8
    rows, cols = np.nonzero(REFERENCE)
    assert max(rows.max() - rows.min(), cols.max() - cols.min()) + 1 == 20  # fitted in 20x20
    assert REFERENCE.max() == 255


def _rgba_on_transparent() -> bytes:
    alpha = 255 - np.asarray(seven())
    pixels = np.zeros((*alpha.shape, 4), dtype=np.uint8)
    pixels[..., 3] = alpha  # black ink, transparent paper
    return encoded(Image.fromarray(pixels, "RGBA"), "PNG")


def _rgba_white_behind() -> bytes:
    alpha = 255 - np.asarray(seven())
    pixels = np.full((*alpha.shape, 4), 255, dtype=np.uint8)
    pixels[..., :3] = np.where(alpha[..., None] > 0, 0, 255)
    pixels[..., 3] = alpha
    return encoded(Image.fromarray(pixels, "RGBA"), "PNG")


def _palette_with_transparency() -> bytes:
    image = seven().convert("P")
    return encoded(image, "PNG", transparency=int(image.getpixel((0, 0))))  # type: ignore[arg-type]


def _gif_first_frame() -> bytes:
    other = Image.new("L", (120, 160), 255)
    ImageDraw.Draw(other).ellipse((20, 20, 100, 140), outline=0, width=15)  # a "0"
    return encoded(
        seven().convert("P"),
        "GIF",
        save_all=True,
        append_images=[other.convert("P")],
        duration=100,
        loop=0,
    )


FORMATS: dict[str, Callable[[], bytes]] = {
    "png": lambda: encoded(seven(), "PNG"),
    "png 16-bit": lambda: encoded(
        Image.fromarray(np.asarray(seven(), dtype=np.uint16) * 257), "PNG"
    ),
    "png 1-bit": lambda: encoded(seven().point(lambda v: 255 * (v > 127)).convert("1"), "PNG"),
    "png rgb": lambda: encoded(seven().convert("RGB"), "PNG"),
    "png rgba": _rgba_on_transparent,
    "png rgba, white behind the transparency": _rgba_white_behind,
    "png la": lambda: encoded(
        Image.merge("LA", [Image.new("L", (120, 160), 0), seven().point(lambda v: 255 - v)]), "PNG"
    ),
    "png palette with transparency": _palette_with_transparency,
    "jpeg": lambda: encoded(seven(), "JPEG", quality=95),
    "jpeg cmyk": lambda: encoded(seven().convert("CMYK"), "JPEG", quality=95),
    "bmp": lambda: encoded(seven().convert("RGB"), "BMP"),
    "gif, first frame": _gif_first_frame,
    "pgm": lambda: encoded(seven(), "PPM"),
    "tiff": lambda: encoded(seven(), "TIFF"),
    "tiff float": lambda: encoded(Image.fromarray(np.asarray(seven(), np.float32) / 255), "TIFF"),
    "npy uint8 light on dark": lambda: npy(255 - np.asarray(seven())),
    "npy float in [0, 1]": lambda: npy(np.asarray(seven(), dtype=np.float64) / 255),
    "npy uint16": lambda: npy(np.asarray(seven(), dtype=np.uint16) * 257),
    "npy int, any range": lambda: npy(np.asarray(seven(), dtype=np.int32) * 1000 - 7),
    "npy bool": lambda: npy(np.asarray(seven()) > 127),
}
if features.check("webp"):
    FORMATS["webp lossless"] = lambda: encoded(seven(), "WEBP", lossless=True)


@pytest.mark.parametrize("name", list(FORMATS))
def test_every_format_and_mode_gives_the_same_digit(name: str) -> None:
    digit = digit_from_bytes(FORMATS[name]())
    assert digit.shape == (28, 28) and digit.dtype == np.uint8
    assert correlation(digit, REFERENCE) > 0.97, name


def test_dark_on_light_and_light_on_dark_are_the_same_digit() -> None:
    light_on_dark = digit_from_bytes(encoded(seven(ink=255, paper=0), "PNG"))
    assert np.array_equal(light_on_dark, REFERENCE)
    grey_paper = digit_from_bytes(encoded(seven(ink=40, paper=200), "PNG"))  # a faint photo
    assert correlation(grey_paper, REFERENCE) > 0.99 and grey_paper.max() == 255


@pytest.mark.parametrize("size", [(9, 12), (30, 40), (600, 800), (3000, 4000), (4000, 400)])
def test_any_size_and_aspect(size: tuple[int, int]) -> None:
    digit = digit_from_bytes(encoded(seven(size), "PNG"))
    rows, cols = np.nonzero(digit)
    assert max(rows.max() - rows.min(), cols.max() - cols.min()) + 1 == 20
    if size[0] * 4 == size[1] * 3 and min(size) >= 30:  # the reference's shape, scaled
        assert aligned(digit, REFERENCE) > 0.9


def test_a_large_image_is_shrunk_before_any_float_array() -> None:
    data = encoded(seven((4000, 4000)), "PNG")  # float64 of it would be 128 MB
    tracemalloc.start()
    try:
        grey = grey_levels(data)
        digit = mnist_digit(ink_levels(grey))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert max(grey.shape) <= 512 and peak < 16 * MIB
    assert aligned(digit, digit_from_bytes(encoded(seven((400, 400)), "PNG"))) > 0.95


def test_exif_orientation_is_applied() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # stored turned left: shown turned right
    turned = seven().transpose(Image.Transpose.ROTATE_90)
    assert np.array_equal(digit_from_bytes(encoded(turned, "PNG", exif=exif)), REFERENCE)


def test_a_28x28_image_is_preprocessed_as_the_draw_tab_does() -> None:
    canvas = stroke(stroke(blank_canvas(), 6, 8, to=(6, 20)), 6, 20, to=(22, 12))
    grey = np.rint(canvas * 255).astype(np.uint8)
    faint_wiped = np.where(grey >= 0.1 * 255, grey, 0)  # ink under FAINT is paper
    for data in (
        encoded(Image.fromarray(grey), "PNG"),
        encoded(Image.fromarray(255 - grey), "PNG"),
        npy(grey),
    ):
        assert np.array_equal(digit_from_bytes(data), mnist_input(faint_wiped))


def test_mnist_digit_accepts_any_shape_and_mnist_input_keeps_its_contract() -> None:
    wide = np.zeros((3, 100), dtype=np.float32)
    wide[1, 10:90] = 1.0
    digit = mnist_digit(wide)
    assert digit.shape == (28, 28) and np.count_nonzero(digit.any(axis=0)) == 20
    assert not mnist_digit(np.zeros((5, 7))).any()
    with pytest.raises(ValueError, match="28x28"):
        mnist_input(np.zeros((20, 20)))
    with pytest.raises(ValueError, match="2-D"):
        mnist_digit(np.zeros((2, 3, 4)))


# --- hostile images -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (png_header(8000, 8000), "8000x8000 pixels (64 megapixels); at most 40"),  # before decoding
        (png_header(100_000, 100_000), "too many pixels"),  # Pillow's own bomb limit
        (png_header(10_000, 9_000), "too many pixels"),  # Pillow's bomb warning, as an error
        (encoded(seven(), "PNG")[:200], "truncated or damaged"),
        (encoded(seven(), "JPEG")[:300], "damaged"),
        (png_header(0, 0), "not an image"),
        (npy(np.zeros((0, 0), dtype=np.uint8)), "no pixels"),
        (encoded(Image.new("L", (64, 64), 255), "PNG"), "no ink"),
        (encoded(Image.new("RGBA", (64, 64), (0, 0, 0, 0)), "PNG"), "no ink"),
        (encoded(Image.new("L", (1, 100_000), 0), "PNG"), "no ink"),
        (npy(np.array([{"a": 1}], dtype=object), allow_pickle=True), "object values, not numbers"),
        (npy(np.zeros((3, 28, 28), dtype=np.uint8)), "must be a 2-D array"),
        (npy(np.full((28, 28), np.nan)), "NaN"),
        (b"\x93NUMPY\x01\x00garbage", "not a readable .npy"),
        (b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n", "not an image"),  # no Ghostscript
        (b"hello, world\n", "not an image"),
    ],
    ids=[
        "megapixel cap",
        "bomb error",
        "bomb warning",
        "truncated png",
        "truncated jpeg",
        "0x0 png",
        "0x0 npy",
        "blank",
        "transparent",
        "1x100000 blank",
        "pickle npy",
        "3-D npy",
        "nan npy",
        "bad npy",
        "eps",
        "text",
    ],
)
def test_hostile_data_is_one_clear_reason(data: bytes, reason: str) -> None:
    with pytest.raises(ImageError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        digit_from_bytes(data)


def test_a_thin_image_with_ink_gives_a_sane_digit() -> None:
    column = np.full((100_000, 1), 255, dtype=np.uint8)
    column[:60_000] = 0
    digit = digit_from_bytes(encoded(Image.fromarray(column), "PNG"))
    assert digit.shape == (28, 28) and 0 < np.count_nonzero(digit) <= 40


def test_the_files_a_folder_holds_sorted_and_not_recursive(tmp_path: Path) -> None:
    for name in ("b.PNG", "a.jpg", "c.npy", "notes.txt", "d.gif"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "sub.png").mkdir()
    (tmp_path / "sub.png" / "e.png").write_bytes(b"x")
    assert [p.name for p in image_files(tmp_path)] == ["a.jpg", "b.PNG", "c.npy", "d.gif"]
    sources = list(iter_sources([str(tmp_path), "-", str(tmp_path / "missing.png")]))
    assert [s.path for s in sources] == [*image_files(tmp_path), None, tmp_path / "missing.png"]
    empty = tmp_path / "empty"
    empty.mkdir()
    (only,) = iter_sources([str(empty)])
    with pytest.raises(ImageError, match="no image files"):
        read_source(only)


def test_a_fifo_or_a_link_to_one_is_refused_without_opening_it(tmp_path: Path) -> None:
    fifo = tmp_path / "digit.png"
    os.mkfifo(fifo)
    link = tmp_path / "link.png"
    link.symlink_to(fifo)
    for path in (fifo, link):
        started = time.monotonic()
        with pytest.raises(ImageError, match="FIFO"):
            read_digit(path)
        assert time.monotonic() - started < 5  # opening it would wait for a writer


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero")
def test_a_device_or_a_link_to_one_is_refused(tmp_path: Path) -> None:
    link = tmp_path / "zero.png"
    link.symlink_to("/dev/zero")
    for path in (Path("/dev/zero"), link):
        with pytest.raises(ImageError, match="device"):
            read_file(path)


def test_a_link_to_a_regular_image_is_followed(tmp_path: Path) -> None:
    (tmp_path / "seven.png").write_bytes(encoded(seven(), "PNG"))
    (tmp_path / "link.png").symlink_to(tmp_path / "seven.png")
    assert np.array_equal(read_digit(tmp_path / "link.png"), REFERENCE)


def test_size_limits_are_checked_before_reading(tmp_path: Path) -> None:
    big = tmp_path / "big.png"
    with big.open("wb") as handle:
        handle.truncate(MAX_BYTES + 1)  # sparse: costs no disk
    with pytest.raises(ImageError, match="larger than 64 MiB"):
        read_file(big)
    with pytest.raises(ImageError, match="larger than 100 bytes"):
        read_source(Source("-", None), io.BytesIO(b"x" * 200), max_bytes=100)
    with pytest.raises(ImageError, match="empty"):
        read_source(Source("-", None), io.BytesIO(b""))
    with pytest.raises(ImageError, match="no such file"):
        read_file(tmp_path / "missing.png")
    with pytest.raises(ImageError):
        read_file(Path("nul\0byte.png"))


def test_names_are_shown_with_control_characters_escaped() -> None:
    assert shown_name("a\x1b[31mb\n.png") == "a\\x1b[31mb\\x0a.png"
    assert shown_name("\u202eevil") == "\\u202eevil"
    assert shown_name(os.fsdecode(b"caf\xe9.png")) == "caf\\xe9.png"
    assert shown_name("café 7.png") == "café 7.png"


def test_importing_the_module_loads_no_pillow_front_end_or_tensorflow() -> None:
    script = (
        "import mnist_tui.core.digits.images, sys\n"
        "print(' '.join(m for m in sys.modules if m.split('.')[0] in "
        "('PIL', 'textual', 'rich', 'tensorflow', 'keras')))"
    )
    done = subprocess.run(
        [sys.executable, "-I", "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == ""
