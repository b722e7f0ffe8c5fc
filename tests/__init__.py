"""The test suite (a package of its own: tf2onnx installs a top-level ``tests`` package
too, which must not shadow this one)."""
