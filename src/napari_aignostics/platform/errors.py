"""Typed errors of the platform client: one class per meaningful HTTP status."""

from __future__ import annotations

from typing import Any

__all__ = [
    "AuthenticationError",
    "ChecksumMismatchError",
    "ConflictError",
    "ForbiddenError",
    "GoneError",
    "LocalValidationError",
    "NotFoundError",
    "PlatformError",
    "PreconditionFailedError",
    "QuotaExceededError",
    "TransportError",
    "UnsafePathError",
    "ValidationFailedError",
    "error_for_status",
]


class PlatformError(Exception):
    """Any failure talking to the platform. ``status`` is the HTTP status (None if no response)."""

    status: int | None = None
    hint: str = ""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        detail: Any = None,
        method: str | None = None,
        url: str | None = None,
    ) -> None:
        super().__init__(message)
        if status is not None:
            self.status = status
        self.detail = detail
        self.method = method
        self.url = url

    def one_line(self) -> str:
        """A single human line for the CLI: status, message and a hint what to do."""
        text = str(self)
        prefix = f"HTTP {self.status}: " if self.status else ""
        hint = f" ({self.hint})" if self.hint else ""
        return f"{prefix}{text}{hint}".replace("\n", " ")


class TransportError(PlatformError):
    """The request never got a usable answer (connection refused/reset, timeout) after retries."""


class AuthenticationError(PlatformError):
    """401: no token, an expired token or a token the platform does not accept."""

    status = 401
    hint = "log in again with `napari-aignostics login` or pass --token"


class QuotaExceededError(PlatformError):
    """402: the organization's slide quota does not allow this run."""

    status = 402
    hint = "fewer slides per run, or ask your organization admin for more quota"


class ForbiddenError(PlatformError):
    """403: the caller may not see or change this resource."""

    status = 403
    hint = "your account has no access to this resource"


class NotFoundError(PlatformError):
    """404: unknown application, version, run, item or artifact."""

    status = 404


class ConflictError(PlatformError):
    """409: the resource is in a state that forbids the operation (e.g. run already cancelled)."""

    status = 409


class GoneError(PlatformError):
    """410: the artifacts were deleted."""

    status = 410


class PreconditionFailedError(PlatformError):
    """412: custom metadata changed since you read it (checksum mismatch)."""

    status = 412
    hint = "custom metadata changed since you read it; read it again and re-apply your change"


class ValidationFailedError(PlatformError):
    """400/422: the platform rejected the request; ``detail`` holds its explanation."""

    status = 422


class LocalValidationError(ValidationFailedError):
    """The request was rejected locally before anything was sent (bad ids, names, metadata)."""

    status = None  # type: ignore[assignment]


class ChecksumMismatchError(PlatformError):
    """A downloaded or uploaded file does not have the CRC32C the platform announced."""


class UnsafePathError(PlatformError):
    """An untrusted name would have escaped the download folder."""


_BY_STATUS: dict[int, type[PlatformError]] = {
    400: ValidationFailedError,
    401: AuthenticationError,
    402: QuotaExceededError,
    403: ForbiddenError,
    404: NotFoundError,
    409: ConflictError,
    410: GoneError,
    412: PreconditionFailedError,
    422: ValidationFailedError,
}


def _describe_detail(detail: Any) -> str:
    if isinstance(detail, list):
        parts = []
        for entry in detail:
            if isinstance(entry, dict) and "msg" in entry:
                loc = ".".join(str(p) for p in entry.get("loc", []))
                parts.append(f"{loc}: {entry['msg']}" if loc else str(entry["msg"]))
            else:
                parts.append(str(entry))
        return "; ".join(parts)
    if isinstance(detail, dict):
        return str(detail.get("message") or detail.get("detail") or detail)
    return str(detail)


def error_for_status(
    status: int, body: Any, *, method: str | None = None, url: str | None = None
) -> PlatformError:
    """The typed error for an HTTP error status and its (JSON or text) body."""
    detail = body.get("detail", body) if isinstance(body, dict) else body
    cls = _BY_STATUS.get(status, PlatformError)
    text = _describe_detail(detail).strip() if detail not in (None, "") else ""
    what = f"{method} {url}" if method and url else "request"
    if status == 412 and not text:
        text = "custom metadata changed since you read it"
    message = text or f"{what} failed"
    if status >= 500:
        message = f"platform error on {what}: {message}"
    return cls(message, status=status, detail=detail, method=method, url=url)
