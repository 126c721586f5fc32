"""Built-in applications that the local platform runs (Qt-free)."""
