"""Signed URLs out of logs: their signatures and credentials are replaced by ``REDACTED``.

:func:`install` puts :class:`SignedUrlFilter` on httpx's logger (which logs every request URL at
INFO); our own code logs URLs only through :func:`redact_url`.
"""

from __future__ import annotations

import logging
import re

__all__ = ["SignedUrlFilter", "install", "redact_url"]

_SECRET_PARAMS = re.compile(
    r"(?i)([?&](?:x-amz-signature|x-amz-credential|x-amz-security-token|signature|sig|token"
    r"|share_token|access_token)=)[^&#\s\"']*"
)


def redact_url(text: str) -> str:
    """``text`` with the values of signature/credential/token query parameters replaced."""
    return _SECRET_PARAMS.sub(r"\1REDACTED", text)


class SignedUrlFilter(logging.Filter):
    """Rewrites a record's message so that no signed URL reaches a handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact_url(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


_FILTER = SignedUrlFilter()


def install() -> None:
    """Redact signed URLs in httpx's request log (idempotent)."""
    logger = logging.getLogger("httpx")
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
