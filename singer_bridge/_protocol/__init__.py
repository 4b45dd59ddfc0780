"""Wire formats, pure: Singer envelopes in, events between, Airbyte lines out."""
