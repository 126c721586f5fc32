"""napari-aignostics."""

from .platform.redact import install as _redact_signed_urls

_redact_signed_urls()  # httpx logs request URLs at INFO: never with their signatures
