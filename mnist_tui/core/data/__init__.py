"""MNIST itself: finding, verifying and loading it, and the models' input form."""
