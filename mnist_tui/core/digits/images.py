"""A user's own image as an MNIST digit: read as hostile input, made into ink, then
preprocessed as the Draw tab's drawings are (:func:`~mnist_tui.core.digits.drawing.mnist_digit`).

Images are PNG, JPEG, BMP, GIF (its first frame), PGM/PPM/PBM, TIFF or WebP of any size,
colour mode or bit depth (alpha is composited on white), or ``.npy`` 2-D numeric arrays.
Every limit is checked before the memory it guards is spent: the file's size
(:data:`MAX_BYTES`) before reading, the pixel count (:data:`MAX_PIXELS`) from the header
before decoding; a decoded image is shrunk to at most :data:`WORK_SIDE` pixels a side
before it is made into ink. Every refusal is an :class:`ImageError` with a one-line
reason. Pillow is imported on first use, not with this module.
"""

from __future__ import annotations

import io
import math
import os
import stat
import struct
import unicodedata
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

import numpy as np

from mnist_tui.core.digits.drawing import mnist_digit
from mnist_tui.core.errors import MnistTuiError
from mnist_tui.core.files.bounded_io import MIB, read_npy_bounded

if TYPE_CHECKING:
    from PIL import Image

MAX_BYTES = 64 * MIB
"""Largest image file read."""
MAX_PIXELS = 40_000_000
"""Largest image decoded (width x height, from its header)."""
WORK_SIDE = 512
"""A decoded image is shrunk (by whole factors, averaging) until its longer side is at
most this many pixels, before it becomes a float array."""
MIN_CONTRAST = 0.12
"""An image whose darkest and lightest levels (0-1) differ less than this has no ink."""
FAINT = 0.1
"""Ink fainter than this share of the strongest is wiped: compression ringing, smudges
and shading of the paper, which would widen the digit's bounding box."""
FORMATS = ("PNG", "JPEG", "BMP", "GIF", "PPM", "TIFF", "WEBP")
"""The Pillow decoders tried (never one that runs a program, as EPS's does)."""
SUFFIXES = frozenset(
    {
        ".png",
        ".jpg",
        ".jpeg",
        ".bmp",
        ".gif",
        ".pgm",
        ".ppm",
        ".pbm",
        ".pnm",
        ".tif",
        ".tiff",
        ".webp",
        ".npy",
    }
)
"""The files a folder contributes (case-insensitive)."""
NPY_MAGIC = b"\x93NUMPY"

_EXIF_ORIENTATION = 0x0112


class ImageError(MnistTuiError, ValueError):
    """An image that cannot be read as a digit; the message is one plain line."""


def image_files(folder: Path) -> list[Path]:
    """The files of ``folder`` (not its subfolders) with an image suffix, sorted by name.
    Only names are listed; nothing is opened. ``ImageError`` if it cannot be listed."""
    try:
        with os.scandir(folder) as entries:
            names = [
                entry.name
                for entry in entries
                if Path(entry.name).suffix.lower() in SUFFIXES
                and not entry.is_dir(follow_symlinks=False)
            ]
    except OSError as exc:
        raise ImageError(f"the folder cannot be read ({exc.strerror or exc})") from None
    return [folder / name for name in sorted(names)]


def read_file(path: Path, max_bytes: int = MAX_BYTES) -> bytes:
    """The bytes of the image file ``path`` (a symbolic link is followed to a regular file).

    A FIFO, device, socket or folder is refused without being opened, and so is a file
    larger than ``max_bytes``.
    """
    try:
        info = os.stat(path)
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the name
        raise ImageError(_os_reason(exc)) from None
    _check_regular(info, max_bytes)
    try:
        # O_NONBLOCK: a file swapped for a FIFO since the check does not hang the open.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise ImageError(_os_reason(exc)) from None
    with os.fdopen(fd, "rb") as handle:
        _check_regular(os.fstat(handle.fileno()), max_bytes)
        try:
            return read_stream(handle, max_bytes)
        except OSError as exc:
            raise ImageError(_os_reason(exc)) from None


def read_stream(stream: IO[bytes], max_bytes: int = MAX_BYTES) -> bytes:
    """At most ``max_bytes`` bytes of ``stream`` (stdin, say); ``ImageError`` past that."""
    data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ImageError(f"it is larger than {_size(max_bytes)}")
    if not data:
        raise ImageError("it is empty (0 bytes)")
    return data


def grey_levels(
    data: bytes, *, max_pixels: int = MAX_PIXELS, work_side: int = WORK_SIDE
) -> np.ndarray:
    """The image in ``data`` as float32 grey levels in [0, 1] (0 black, 1 white), 2-D, its
    longer side at most ``work_side``: an ``.npy`` array (by its magic bytes) or an image
    of one of :data:`FORMATS`, upright as its EXIF orientation says."""
    if data.startswith(NPY_MAGIC):
        return _shrink_array(_npy_grey(data, max_pixels), work_side)
    return _image_grey(data, max_pixels, work_side)


def ink_levels(grey: np.ndarray) -> np.ndarray:
    """Grey levels (0 black, 1 white) as ink levels in [0, 1] (0 paper).

    The outer ring of pixels is the paper: lighter than the middle of the image's range
    means dark ink on light paper (inverted), else light ink on dark paper. The paper's
    level becomes 0 and the strongest ink 1; what is not above :data:`FAINT` or the
    paper's own noise (three standard deviations of the ring) is wiped. ``ImageError``
    if no ink stands :data:`MIN_CONTRAST` above the paper.
    """
    levels = np.asarray(grey, dtype=np.float32)
    if levels.ndim != 2 or not levels.size:
        raise ImageError(f"it has no pixels (shape {levels.shape})")
    ring = _ring(levels)
    low, high = float(levels.min()), float(levels.max())
    light_paper = float(ring.mean()) > (low + high) / 2
    ink = 1.0 - levels if light_paper else levels
    ring_ink = 1.0 - ring if light_paper else ring
    paper, peak = float(ring_ink.mean()), float(ink.max())
    if peak - paper < MIN_CONTRAST:
        raise ImageError("it has no ink: nothing in it stands out from the paper (blank)")
    scaled = (ink - paper) / (peak - paper)
    floor = min(0.5, max(FAINT, 3.0 * float(ring_ink.std()) / (peak - paper)))
    scaled[scaled < floor] = 0.0
    result: np.ndarray = np.clip(scaled, 0.0, 1.0).astype(np.float32)
    return result


def digit_from_bytes(data: bytes) -> np.ndarray:
    """The image in ``data`` as an MNIST digit (uint8 28x28), as the Draw tab makes one."""
    return mnist_digit(ink_levels(grey_levels(data)))


def read_digit(path: Path) -> np.ndarray:
    """The image file ``path`` as an MNIST digit (uint8 28x28); ``ImageError`` if not."""
    return digit_from_bytes(read_file(path))


def shown_name(text: str) -> str:
    """``text`` safe to print: control, format and separator characters and undecodable
    bytes written as escapes (``\\x1b``, ``\\u202e``), the rest as is."""
    out = []
    for char in text:
        code = ord(char)
        if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape)
            out.append(f"\\x{code - 0xDC00:02x}")
        elif unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
            out.append(
                f"\\x{code:02x}"
                if code < 0x100
                else f"\\u{code:04x}"
                if code < 0x10000
                else f"\\U{code:08x}"
            )
        else:
            out.append(char)
    return "".join(out)


def json_name(text: str) -> str:
    """``text`` (a path) as valid Unicode for JSON: undecodable bytes as ``\\xNN`` text."""
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate that was never a byte
        raw = text.encode("utf-8", "backslashreplace")
    return raw.decode("utf-8", "backslashreplace")


@dataclass(frozen=True)
class Source:
    """One image named by the user: a file, or standard input when ``path`` is None;
    ``problem`` says why it cannot be read when that is known before reading."""

    name: str
    path: Path | None
    problem: str = ""


def iter_sources(arguments: Iterable[str]) -> Iterator[Source]:
    """The images ``arguments`` name, one at a time: ``-`` is standard input, a folder
    its image files (:func:`image_files`), anything else a file."""
    for argument in arguments:
        if argument == "-":
            yield Source(argument, None)
            continue
        path = Path(argument)
        if not path.is_dir():
            yield Source(argument, path)
            continue
        try:
            files = image_files(path)
        except ImageError as exc:
            yield Source(argument, path, str(exc))
            continue
        if not files:
            yield Source(
                argument, path, f"the folder holds no image files ({' '.join(sorted(SUFFIXES))})"
            )
        for file in files:
            yield Source(str(file), file)


def read_source(
    source: Source, stdin: IO[bytes] | None = None, max_bytes: int = MAX_BYTES
) -> bytes:
    """The bytes of ``source`` (standard input from ``stdin``), bounded as
    :func:`read_file` bounds them."""
    if source.problem:
        raise ImageError(source.problem)
    if source.path is None:
        if stdin is None:
            raise ImageError("there is no standard input to read")
        return read_stream(stdin, max_bytes)
    return read_file(source.path, max_bytes)


def _check_regular(info: os.stat_result, max_bytes: int) -> None:
    mode = info.st_mode
    if not stat.S_ISREG(mode):
        kind = (
            "a folder"
            if stat.S_ISDIR(mode)
            else "a FIFO"
            if stat.S_ISFIFO(mode)
            else "a device"
            if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
            else "a socket"
            if stat.S_ISSOCK(mode)
            else "not a regular file"
        )
        raise ImageError(f"it is {kind}, not an image file (not opened)")
    if info.st_size > max_bytes:
        raise ImageError(f"it is larger than {_size(max_bytes)} ({_size(info.st_size)})")


def _size(count: int) -> str:
    return f"{count / MIB:.4g} MiB" if count >= MIB else f"{count:,} bytes"


def _os_reason(exc: OSError | ValueError) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror[:1].lower() + exc.strerror[1:]
    return str(exc)


def _ring(levels: np.ndarray) -> np.ndarray:
    """The outer ring of pixels (every pixel of an image 2 pixels thin)."""
    if min(levels.shape) <= 2:
        return levels.reshape(-1)
    return np.concatenate([levels[0], levels[-1], levels[1:-1, 0], levels[1:-1, -1]])


def _npy_grey(data: bytes, max_pixels: int) -> np.ndarray:
    """A 2-D numeric ``.npy`` array as grey levels: integers as 8-bit (0-255) or 16-bit
    levels when they fit, values in [0, 1] as they are, any other range stretched."""
    try:
        array = read_npy_bounded(io.BytesIO(data), name="the array", max_bytes=len(data))
    except ValueError as exc:
        raise ImageError(str(exc).replace("the array", "it", 1)) from None
    if array.ndim != 2:
        raise ImageError(f"a .npy image must be a 2-D array, this one has shape {array.shape}")
    if array.size > max_pixels:
        raise ImageError(f"it has {array.size:,} values, more than {max_pixels:,}")
    if not array.size:
        raise ImageError(f"it has no pixels (shape {array.shape})")
    values = array.astype(np.float32)
    if not np.isfinite(values).all():
        raise ImageError("it holds NaN or infinite values")
    return _unit_range(values, integer=array.dtype.kind in "biu")


def _unit_range(values: np.ndarray, *, integer: bool) -> np.ndarray:
    """Levels of unknown scale in [0, 1] (see :func:`_npy_grey`)."""
    low, high = float(values.min()), float(values.max())
    if low >= 0 and high <= 1 and not (integer and high > 1):
        unit = values
    elif low >= 0 and high <= 255:
        unit = values / 255.0
    elif integer and low >= 0 and high <= 65535:
        unit = values / 65535.0
    else:
        unit = (values - low) / (high - low)
    result: np.ndarray = np.clip(unit, 0.0, 1.0).astype(np.float32)
    return result


def _shrink_array(levels: np.ndarray, work_side: int) -> np.ndarray:
    """``levels`` averaged over blocks of a whole factor until its longer side fits."""
    factor = math.ceil(max(levels.shape) / work_side)
    if factor <= 1:
        return levels
    height, width = levels.shape
    padded = np.pad(levels, ((0, -height % factor), (0, -width % factor)), mode="edge")
    shrunk: np.ndarray = padded.reshape(
        padded.shape[0] // factor, factor, padded.shape[1] // factor, factor
    ).mean(axis=(1, 3))
    return shrunk.astype(np.float32)


def _image_grey(data: bytes, max_pixels: int, work_side: int) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError(
            f"it declares too many pixels ({_exception_text(exc)}); at most "
            f"{max_pixels / 1e6:g} megapixels are decoded"
        ) from None
    except UnidentifiedImageError:
        raise ImageError(
            "it is not an image this reads (PNG, JPEG, BMP, GIF, PGM/PPM, TIFF, WebP or .npy)"
        ) from None
    except Exception as exc:  # a hostile header can raise anything Pillow's parsers raise
        raise ImageError(f"its header is damaged ({_exception_text(exc)})") from None
    width, height = image.size
    if width <= 0 or height <= 0:
        raise ImageError(f"it has no pixels ({width}x{height})")
    if width * height > max_pixels:
        raise ImageError(
            f"it is {width}x{height} pixels ({width * height / 1e6:.0f} "
            f"megapixels); at most {max_pixels / 1e6:g} megapixels are decoded"
        )
    try:
        return _decode(image, work_side)
    except MemoryError:
        raise ImageError(f"it is too large to decode here ({width}x{height})") from None
    except (OSError, EOFError, SyntaxError, struct.error) as exc:
        raise ImageError(f"it is truncated or damaged ({_exception_text(exc)})") from None
    except Exception as exc:  # a hostile file can raise anything Pillow's decoders raise
        raise ImageError(f"it could not be decoded ({_exception_text(exc)})") from None


def _decode(image: Image.Image, work_side: int) -> np.ndarray:
    """The first frame as grey levels: shrunk, alpha composited on white, upright."""

    orientation = _orientation(image)
    if image.format == "JPEG":  # decode at 1/2, 1/4 or 1/8 scale when that is enough
        image.draft("L", (work_side, work_side))
    image.load()
    mode = image.mode
    if (mode == "P" and "transparency" in image.info) or mode == "PA":
        image, mode = image.convert("RGBA"), "RGBA"
    if mode in ("RGBA", "LA"):  # premultiplied, so shrinking weighs colour by alpha
        image = image.convert("RGBa" if mode == "RGBA" else "La")
    elif mode in ("RGBa", "La"):
        pass
    elif mode.startswith("I;16") or mode in ("I", "F"):
        image = image.convert("F")
    elif mode != "L":
        image = image.convert("L")
    factor = math.ceil(max(image.size) / work_side)
    if factor > 1:
        image = image.reduce(factor)
    if orientation is not None:
        image = image.transpose(orientation)
    pixels = np.asarray(image, dtype=np.float32)
    if image.mode in ("RGBa", "La"):
        colour = pixels[..., :-1]
        luma = (
            colour @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
            if colour.shape[-1] == 3
            else colour[..., 0]
        )
        grey = (luma + 255.0 - pixels[..., -1]) / 255.0  # over white paper
        composited: np.ndarray = np.clip(grey, 0.0, 1.0).astype(np.float32)
        return composited
    if image.mode == "F":
        if mode.startswith("I;16"):
            sixteen: np.ndarray = np.clip(pixels / np.float32(65535.0), 0.0, 1.0)
            return sixteen
        return _unit_range(pixels, integer=mode != "F")
    if image.mode != "L":
        raise ImageError(f"its colour mode {mode} is not supported")
    levels: np.ndarray = pixels / np.float32(255.0)
    return levels


def _orientation(image: Image.Image) -> Image.Transpose | None:
    """The transpose that makes an image with EXIF orientation upright (None if upright)."""
    from PIL import Image

    try:
        value = image.getexif().get(_EXIF_ORIENTATION)
    except Exception:  # a damaged EXIF block only loses the orientation
        return None
    return (
        {
            2: Image.Transpose.FLIP_LEFT_RIGHT,
            3: Image.Transpose.ROTATE_180,
            4: Image.Transpose.FLIP_TOP_BOTTOM,
            5: Image.Transpose.TRANSPOSE,
            6: Image.Transpose.ROTATE_270,
            7: Image.Transpose.TRANSVERSE,
            8: Image.Transpose.ROTATE_90,
        }.get(value)
        if isinstance(value, int)
        else None
    )


def _exception_text(exc: BaseException) -> str:
    text = " ".join(str(exc).split())[:160]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
