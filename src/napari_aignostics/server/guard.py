"""An ASGI middleware that bounds every request body and authenticates API writes first.

Before the application sees a request: an API request with a body (``/api/v1``, POST/PUT/PATCH)
without a valid bearer token gets its 401 without a byte of the body being read, and a
``Content-Length`` above the route's limit gets a 413. While the application reads, the body is
counted and cut off with a 413 as soon as it passes the limit (chunked bodies included). A route
that answers before reading a body over 1 MiB (or a chunked one), like a refused bucket ``PUT``,
closes the connection instead of draining the rest; smaller bodies are drained as usual.
Limits: the OAuth and ``/device`` forms ``max_form_bytes``, the bucket ``max_upload_bytes`` (each
organization's own object limit is checked by the route), everything else ``max_body_bytes``.
"""

from __future__ import annotations

import anyio.to_thread
from fastapi import HTTPException
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .deps import authentication_error, bearer_user
from .service import Platform

__all__ = ["RequestGuard", "body_limit"]

WRITES = {"POST", "PUT", "PATCH"}
DRAIN_BYTES = 1024 * 1024
"""An unread body up to this size is drained after the answer; a larger one closes the connection."""


def body_limit(platform: Platform, path: str) -> int:
    """The largest body accepted on ``path``."""
    settings = platform.settings
    if path.startswith(("/oauth/", "/device", "/authorize")):
        return settings.max_form_bytes
    if path.startswith("/bucket/"):
        return settings.max_upload_bytes
    return settings.max_body_bytes


def _too_large(method: str, path: str, size: int | str, limit: int) -> str:
    return (
        f"the body of {method} {path} ({size} bytes) is larger than this server accepts"
        f" ({limit} bytes)"
    )


class RequestGuard:
    """See the module docstring; ``platform`` supplies the limits and the token check."""

    def __init__(self, app: ASGIApp, platform: Platform) -> None:
        self.app = app
        self.platform = platform

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        headers = Headers(scope=scope)
        if method in WRITES and path.startswith("/api/v1/"):
            header = headers.get("authorization", "")
            user = await anyio.to_thread.run_sync(bearer_user, self.platform, header)
            if user is None:
                error = authentication_error(header)
                await _answer(error, scope, receive, send)
                return
        limit = body_limit(self.platform, path)
        length = headers.get("content-length")
        if length is not None:
            if not length.isdigit():
                error = HTTPException(400, "Content-Length is not a number")
                await _answer(error, scope, receive, send)
                return
            if int(length) > limit:
                error = HTTPException(413, _too_large(method, path, length, limit))
                await _answer(error, scope, receive, send)
                return
        received = 0
        # a small unread body is drained by the server (closing on it could reset the answer)
        unread = int(length or 0) > DRAIN_BYTES or (length is None and "transfer-encoding" in headers)

        async def bounded() -> Message:
            nonlocal received, unread
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                unread = unread and message.get("more_body", False)
                if received > limit:
                    detail = _too_large(method, path, f"over {limit}", limit)
                    raise HTTPException(413, detail, headers={"Connection": "close"})
            return message

        async def closing(message: Message) -> None:
            if message["type"] == "http.response.start" and unread:
                # answered before the body was read (401, 403, 404...): close rather than drain it
                message = {**message, "headers": [*message.get("headers", []), (b"connection", b"close")]}
            await send(message)

        await self.app(scope, bounded, closing)


async def _answer(error: HTTPException, scope: Scope, receive: Receive, send: Send) -> None:
    """Answer without reading the body; the server closes the connection after it."""
    response = JSONResponse(
        {"detail": error.detail},
        status_code=error.status_code,
        headers={**(error.headers or {}), "Connection": "close"},
    )
    await response(scope, receive, send)
