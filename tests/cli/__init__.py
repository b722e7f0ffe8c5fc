"""Tests of the command line (mnist_tui.cli), run as a user runs it."""
