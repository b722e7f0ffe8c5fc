"""A restricted unpickler that rebuilds numpy arrays and nothing else.

Pickles from a download must never run code: :class:`NumpyOnlyUnpickler` resolves
only the few globals numpy needs to rebuild an ``ndarray`` and refuses all others.
"""

from __future__ import annotations

import codecs
import io
import pickle
from typing import Any

import numpy as np

from mnist_tui.core.errors import MnistTuiError

try:  # numpy >= 2 keeps the reconstructor in numpy._core
    from numpy._core.multiarray import _reconstruct
except ImportError:  # pragma: no cover - numpy 1.x
    from numpy.core.multiarray import _reconstruct  # type: ignore[no-redef]

_ALLOWED: dict[tuple[str, str], Any] = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    # Python 3 writes bytes in protocol-2 pickles as _codecs.encode(text, "latin1"):
    # a pure string-to-bytes conversion, harmless.
    ("_codecs", "encode"): codecs.encode,
}


class UnsafePickleError(MnistTuiError, pickle.UnpicklingError):
    """The pickle asked for something other than numpy array reconstruction."""


class NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickler whose ``find_class`` allows only numpy array reconstruction."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise UnsafePickleError(f"refused to load {module}.{name} from a pickle") from None


def loads_numpy(data: bytes) -> Any:
    """Unpickle ``data`` (Python 2 pickles included) allowing only numpy arrays."""
    return NumpyOnlyUnpickler(io.BytesIO(data), encoding="latin1").load()
