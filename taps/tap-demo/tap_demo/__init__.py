"""tap-demo: an offline Singer tap for singer-bridge's demo and tests."""
