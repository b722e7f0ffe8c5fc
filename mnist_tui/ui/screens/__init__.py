"""Modal screens: help, confirmation, errors."""
