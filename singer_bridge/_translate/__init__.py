"""The pure core: events and Singer catalogs/state/schemas to Airbyte, no IO."""
