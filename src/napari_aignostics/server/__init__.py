"""The embedded local platform: API v1 on loopback (FastAPI + SQLite), object store, signed URLs, worker running the built-in apps."""
