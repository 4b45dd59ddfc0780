"""Shared pytest settings."""

# Runs in PyAirbyte's own venv, never imported by the test process.
collect_ignore = ["support/pyairbyte_driver.py"]
