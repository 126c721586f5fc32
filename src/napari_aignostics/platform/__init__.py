"""platform."""

from .redact import install as _redact_signed_urls

_redact_signed_urls()
