"""Every place mnist-tui reads or writes by default, and the environment variables that
move them: the one module that reads the environment and platformdirs."""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "mnist-tui"

RUNS_DIR_ENV = "MNIST_TUI_RUNS_DIR"
"""Where runs are kept, when ``--runs-dir`` does not say (default ``./saved_models``)."""
DATA_ENV = "MNIST_TUI_DATA"
"""An MNIST ``.npz`` or IDX folder to use instead of the usual sources."""
CACHE_ENV = "MNIST_TUI_CACHE_DIR"
"""Our cache folder (verified MNIST), instead of the platform's user cache."""
NO_DOWNLOAD_ENV = "MNIST_TUI_NO_DOWNLOAD"
"""Set to anything but ``0`` to never download MNIST."""
LOG_ENV = "MNIST_TUI_LOG_DIR"
"""Where TensorFlow's native log lines go, instead of the platform's user log folder."""
CONFIG_ENV = "MNIST_TUI_CONFIG_DIR"
"""Where the app keeps its preferences, instead of the platform's user config folder."""
STORAGE_ENV = "MNIST_TUI_SWEEP_STORAGE"
"""The sweep storage URL when ``--storage`` does not name one (how local workers get it,
so a password never shows in ``ps``)."""

GPUS_ENV = "CUDA_VISIBLE_DEVICES"
"""CUDA's own list of the GPUs a process may use: ``sweep run --workers auto`` shares out
the ones it names (else those ``nvidia-smi -L`` lists), and gives each local worker one."""

ENVIRONMENT = (RUNS_DIR_ENV, DATA_ENV, CACHE_ENV, NO_DOWNLOAD_ENV, LOG_ENV, CONFIG_ENV, STORAGE_ENV)
"""Every variable above, in the order the docs list them."""


def _override(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value).expanduser() if value else None


def default_runs_dir() -> Path:
    """``$MNIST_TUI_RUNS_DIR`` or ``./saved_models``."""
    return _override(RUNS_DIR_ENV) or Path("saved_models")


def default_cache_dir() -> Path:
    """Our cache folder: ``$MNIST_TUI_CACHE_DIR`` or the platform's user cache."""
    override = _override(CACHE_ENV)
    if override:
        return override
    from platformdirs import user_cache_dir

    return Path(user_cache_dir(APP_NAME, appauthor=False))


def keras_cache_file() -> Path:
    """Where Keras keeps its MNIST download (read only: never written by us)."""
    home = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")).expanduser()
    return home / "datasets" / "mnist.npz"


def native_log_path() -> Path:
    """``$MNIST_TUI_LOG_DIR/native.log`` or the platform's user log folder."""
    override = _override(LOG_ENV)
    if override:
        return override / "native.log"
    from platformdirs import user_log_dir

    return Path(user_log_dir(APP_NAME, appauthor=False)) / "native.log"


def preferences_path() -> Path:
    """``$MNIST_TUI_CONFIG_DIR/preferences.json`` or the platform's user config folder."""
    override = _override(CONFIG_ENV)
    if override:
        return override / "preferences.json"
    from platformdirs import user_config_dir

    return Path(user_config_dir(APP_NAME, appauthor=False)) / "preferences.json"


def data_path_from_env() -> str | None:
    """``$MNIST_TUI_DATA``, when set."""
    return os.environ.get(DATA_ENV) or None


def downloads_allowed() -> bool:
    """False when ``$MNIST_TUI_NO_DOWNLOAD`` is set to anything but ``0``."""
    return os.environ.get(NO_DOWNLOAD_ENV, "").strip() in ("", "0")


def storage_url_from_env() -> str | None:
    """``$MNIST_TUI_SWEEP_STORAGE``, when set."""
    return os.environ.get(STORAGE_ENV) or None


def visible_gpus_from_env() -> str | None:
    """``$CUDA_VISIBLE_DEVICES`` as set (``""`` hides every GPU), or ``None`` when unset."""
    return os.environ.get(GPUS_ENV)
