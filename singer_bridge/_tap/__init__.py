"""A Singer tap as an Airbyte source: the process, the hot loop, BATCH files, the source."""
