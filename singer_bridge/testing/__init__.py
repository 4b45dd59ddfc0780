"""The test kit for connector authors: the mock server and the pytest plugin."""
