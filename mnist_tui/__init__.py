"""mnist-tui: train and inspect neural networks on MNIST from the terminal."""

__version__ = "0.1.0"
