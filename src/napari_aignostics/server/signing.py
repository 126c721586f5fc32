"""Signatures the local platform checks: its own short-lived file URLs and S3 SigV4 presigned URLs.

File URLs (artifacts, documents) carry ``expires`` and an HMAC-SHA256 ``signature`` over the path
and the expiry, keyed by a per-data-directory secret. Bucket URLs are verified exactly as S3 does
for presigned-query SigV4 requests, so any S3 client (botocore, the official SDK) can upload.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from urllib.parse import quote

__all__ = ["SignatureError", "path_signer", "sign_path", "verify_path", "verify_sigv4_query"]

MAX_PRESIGN_S = 7 * 24 * 3600


class SignatureError(Exception):
    """A signed URL is malformed, tampered with or expired (answered with 403)."""


def _mac(secret: str, message: str) -> str:
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def sign_path(secret: str, path: str, ttl_s: int, *, now: float | None = None) -> str:
    """``path?expires=…&signature=…`` valid for ``ttl_s`` seconds."""
    return path_signer(secret, ttl_s, now=now)(path)


def path_signer(secret: str, ttl_s: int, *, now: float | None = None) -> Callable[[str], str]:
    """:func:`sign_path` for many paths with one expiry: the key is prepared once, one HMAC a path."""
    expires = str(int((now if now is not None else time.time()) + ttl_s))
    keyed = hmac.new(secret.encode(), digestmod=hashlib.sha256)

    def sign(path: str) -> str:
        mac = keyed.copy()
        mac.update(f"{path}\n{expires}".encode())
        return f"{path}?expires={expires}&signature={mac.hexdigest()}"

    return sign


def verify_path(secret: str, path: str, expires: str | None, signature: str | None) -> None:
    """Raise :class:`SignatureError` unless the signature matches and has not expired."""
    if not expires or not signature or not expires.isdigit():
        raise SignatureError("the file URL is not signed; ask the API for a fresh link")
    if not hmac.compare_digest(_mac(secret, path + "\n" + expires), signature):
        raise SignatureError("the file URL signature does not match")
    if int(expires) < time.time():
        raise SignatureError("the file URL expired; ask the API for a fresh link")


def _hmac_bytes(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


def _encode(value: str) -> str:
    return quote(value, safe="-_.~")


def verify_sigv4_query(
    *,
    method: str,
    raw_path: str,
    query: list[tuple[str, str]],
    headers: Mapping[str, str],
    secret_for_key: Mapping[str, str] | None = None,
    lookup_secret: object = None,
) -> str:
    """Verify an S3 presigned-query SigV4 request; return the access key id that signed it.

    ``lookup_secret`` is a callable ``key_id -> secret | None``. Raises :class:`SignatureError`.
    """
    params = dict(query)
    if params.get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256":
        raise SignatureError("only AWS4-HMAC-SHA256 presigned URLs are accepted")
    try:
        credential = params["X-Amz-Credential"]
        amz_date = params["X-Amz-Date"]
        expires = int(params["X-Amz-Expires"])
        signed_headers = params["X-Amz-SignedHeaders"]
        signature = params["X-Amz-Signature"]
        key_id, date, region, service, terminal = credential.split("/")
    except (KeyError, ValueError) as exc:
        raise SignatureError(f"malformed presigned URL ({exc})") from None
    if service != "s3" or terminal != "aws4_request":
        raise SignatureError("the credential scope is not for s3")
    secret = None
    if callable(lookup_secret):
        secret = lookup_secret(key_id)
    elif secret_for_key is not None:
        secret = secret_for_key.get(key_id)
    if not secret:
        raise SignatureError("unknown access key")
    try:
        signed_at = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise SignatureError("malformed X-Amz-Date") from None
    if not 1 <= expires <= MAX_PRESIGN_S:
        raise SignatureError("X-Amz-Expires must be between 1 s and 7 days")
    now = time.time()
    if signed_at.timestamp() > now + 900:
        raise SignatureError("the presigned URL is dated in the future")
    if signed_at.timestamp() + expires < now:
        raise SignatureError("the presigned URL expired")
    if amz_date[:8] != date:
        raise SignatureError("credential date does not match X-Amz-Date")
    lower = {k.lower(): v for k, v in headers.items()}
    names = signed_headers.split(";")
    if "host" not in names:
        raise SignatureError("the host header must be signed")
    canonical_headers = "".join(f"{n}:{' '.join(lower.get(n, '').split())}\n" for n in names)
    canonical_query = "&".join(
        f"{_encode(k)}={_encode(v)}"
        for k, v in sorted((k, v) for k, v in query if k != "X-Amz-Signature")
    )
    payload = lower.get("x-amz-content-sha256", "UNSIGNED-PAYLOAD")
    canonical_request = "\n".join(
        [method.upper(), raw_path, canonical_query, canonical_headers, signed_headers, payload]
    )
    scope = f"{date}/{region}/{service}/{terminal}"
    string_to_sign = "\n".join(
        [
            "AWS4-HMAC-SHA256",
            amz_date,
            scope,
            hashlib.sha256(canonical_request.encode()).hexdigest(),
        ]
    )
    key = _hmac_bytes(("AWS4" + secret).encode(), date)
    for part in (region, service, terminal):
        key = _hmac_bytes(key, part)
    expected = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        raise SignatureError("the presigned URL signature does not match (tampered or wrong key)")
    return key_id
