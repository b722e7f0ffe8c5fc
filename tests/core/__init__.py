"""Tests of the engine (mnist_tui.core)."""
