"""Goldens: the syrupy extension that reads and writes them, and the event-level diff."""
