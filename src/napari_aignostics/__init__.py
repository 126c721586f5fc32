"""napari-aignostics: send whole-slide images from napari to Aignostics Platform applications and review the results over the slide."""

from .platform.redact import install as _redact_signed_urls

_redact_signed_urls()  # httpx logs request URLs at INFO: never with their signatures
