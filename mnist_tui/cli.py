"""Command line entry point (filled in below)."""


def main() -> None:
    """Entry point."""
    raise SystemExit("not yet")
