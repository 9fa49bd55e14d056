"""Scenario files: loading and validation (one-line errors naming file and field)."""
