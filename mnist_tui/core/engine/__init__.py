"""Models, training and its steering, evaluation, exports: where Keras runs."""
