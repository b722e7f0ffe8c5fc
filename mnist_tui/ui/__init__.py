"""The Textual front end: a thin layer over :mod:`mnist_tui.core`."""
