"""Pending authorization-code logins (RFC 6749 §4.1 with PKCE, RFC 7636), kept in memory.

A request waits for the person to approve it on the ``/authorize`` page; approval turns it into
a one-time code (60 s) that only the holder of the PKCE verifier can exchange at ``/oauth/token``.
A restart forgets pending logins, which only means logging in again.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass, field

__all__ = ["AuthorizationCodes", "AuthorizationRequest", "pkce_s256"]

REQUEST_TTL_S = 600.0
CODE_TTL_S = 60.0
MAX_PENDING = 256


def pkce_s256(verifier: str) -> str:
    """The S256 code challenge of a verifier."""
    digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@dataclass
class AuthorizationRequest:
    """What a client asked for at ``/authorize``."""

    client_id: str
    redirect_uri: str
    code_challenge: str
    scope: str
    state: str | None
    created: float = field(default_factory=time.monotonic)
    user_id: str | None = None
    approved_at: float | None = None


class AuthorizationCodes:
    """Pending requests (by an unguessable id) and issued codes (by their hash)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[str, AuthorizationRequest] = {}
        self._codes: dict[str, AuthorizationRequest] = {}

    def _expire(self) -> None:
        now = time.monotonic()
        for key, req in list(self._pending.items()):
            if now - req.created > REQUEST_TTL_S:
                del self._pending[key]
        for key, req in list(self._codes.items()):
            if req.approved_at is None or now - req.approved_at > CODE_TTL_S:
                del self._codes[key]

    def add(self, request: AuthorizationRequest) -> str:
        """Keep a request until it is approved or denied; returns its id."""
        request_id = secrets.token_urlsafe(32)
        with self._lock:
            self._expire()
            if len(self._pending) >= MAX_PENDING:
                oldest = min(self._pending, key=lambda k: self._pending[k].created)
                del self._pending[oldest]
            self._pending[request_id] = request
        return request_id

    def pending(self, request_id: str) -> AuthorizationRequest | None:
        """A request still waiting for the person."""
        with self._lock:
            self._expire()
            return self._pending.get(request_id)

    def decide(
        self, request_id: str, user_id: str | None
    ) -> tuple[AuthorizationRequest, str | None]:
        """Approve for ``user_id`` (returns the code) or deny (``None``); KeyError if unknown."""
        with self._lock:
            self._expire()
            request = self._pending.pop(request_id)
            if user_id is None:
                return request, None
            request.user_id = user_id
            request.approved_at = time.monotonic()
            code = secrets.token_urlsafe(32)
            self._codes[_digest(code)] = request
            return request, code

    def redeem(
        self, code: str, *, client_id: str | None, redirect_uri: str | None, verifier: str
    ) -> AuthorizationRequest | None:
        """The approved request of a code, once; None if anything does not match."""
        with self._lock:
            self._expire()
            request = self._codes.pop(_digest(code), None)
        if request is None:
            return None
        if client_id and client_id != request.client_id:
            return None
        if redirect_uri and redirect_uri != request.redirect_uri:
            return None
        if not hmac.compare_digest(pkce_s256(verifier), request.code_challenge):
            return None
        return request


def _digest(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()
