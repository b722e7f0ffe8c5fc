"""The base of every failure mnist-tui expects: one a user can act on, told in one message."""

from __future__ import annotations


class MnistTuiError(Exception):
    """An expected failure: bad input, a missing or damaged file, a refused setting. Its
    ``str`` is the one clear message a front end shows (escaped, never as markup); the
    CLI's exit code says which kind it was (:mod:`mnist_tui.cli.exit_codes`)."""
