"""An item's input: resolving its ``download_url`` and fetching it with its CRC32C verified.

The server resolves a presigned URL of its own bucket to the object's file (signature checked with
the organization's key); a worker that shares the data directory hard-links that file (or reads
it in place), never copying it; any other fetches the URL over HTTP. Fetching needs no database, so it runs on a cluster worker as well.

A remote input is fetched again (with backoff, a bounded number of times) after transient failures:
no connection, a reset, a timeout, 5xx, 408, 429, or a body whose CRC32C does not match (truncated
on the way). Only then the item fails: SYSTEM_ERROR when the source never answered properly,
USER_ERROR when every complete copy had another checksum or the source refused (4xx).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

import httpx

from ..slides.checksum import Crc32c
from .service import Platform
from .signing import SignatureError, verify_sigv4_query

__all__ = ["InputError", "fetch_input", "local_object"]

CHUNK = 2 * 1024 * 1024
FETCH_ATTEMPTS = 6
TRANSIENT_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
GCS_ROOT = "https://storage.googleapis.com/"


class InputError(Exception):
    """The input could not be fetched or is not what was submitted; ``user`` says whose fault."""

    def __init__(self, message: str, code: str, *, user: bool) -> None:
        super().__init__(message)
        self.code = code
        self.user = user


class _Transient(Exception):
    """One fetch attempt failed in a way that may pass."""


def _file_name(url: str) -> str:
    name = unquote(urlsplit(url).path.rsplit("/", 1)[-1])
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in name).strip("._")
    return safe or "input"


def _bucket_and_key(platform: Platform, url: str) -> tuple[str, str] | None:
    """Bucket and key of a URL that addresses one of this platform's buckets.

    Besides ``<api_root>/bucket/<bucket>/<key>``, a Cloud Storage XML-API URL
    (``https://storage.googleapis.com/<bucket>/<key>``) of a local organization's bucket is served
    from the local bucket too: the official SDK presigns its inputs there, with the HMAC key that
    ``/v1/me`` handed out, and never needs to reach Google for them.
    """
    root = platform.settings.public_url.rstrip("/") + "/bucket/"
    parts = urlsplit(url)
    if url.startswith(root):
        bucket, _, key = parts.path.removeprefix("/bucket/").partition("/")
        return bucket, key
    if url.startswith(GCS_ROOT):
        bucket, _, key = parts.path.removeprefix("/").partition("/")
        if platform.store.org_for_bucket(bucket) is not None:
            return bucket, key
    return None


def local_object(platform: Platform, url: str) -> Path | None:
    """The file behind a presigned URL of this platform's own bucket (signature verified)."""
    found = _bucket_and_key(platform, url)
    if found is None:
        return None
    bucket, key = found
    parts = urlsplit(url)

    def lookup(key_id: str) -> str | None:
        org = platform.store.org_for_key(key_id)
        return None if org is None or org.bucket_name != bucket else org.hmac_secret

    try:
        verify_sigv4_query(
            method="GET",
            raw_path=parts.path,
            query=parse_qsl(parts.query, keep_blank_values=True),
            headers={"host": parts.netloc},
            lookup_secret=lookup,
        )
    except SignatureError as exc:
        raise InputError(
            f"the download_url was refused: {exc}", "INPUT.DOWNLOAD_FORBIDDEN", user=True
        ) from None
    path = platform.objects.bucket_path(bucket, unquote(key))
    if not path.is_file():
        raise InputError(
            f"no object at the download_url ({unquote(key)})", "INPUT.NOT_FOUND", user=True
        )
    return path


def _download(url: str, target: Path) -> str:
    """One attempt: stream ``url`` into ``target``; the CRC32C of what arrived."""
    crc = Crc32c()
    try:
        with httpx.stream("GET", url, timeout=60.0, follow_redirects=True) as response:
            if response.status_code in TRANSIENT_STATUSES:
                raise _Transient(f"HTTP {response.status_code}")
            if response.status_code >= 400:
                raise InputError(
                    f"downloading the input failed with HTTP {response.status_code}",
                    "INPUT.DOWNLOAD_FAILED",
                    user=response.status_code < 500,
                )
            with target.open("wb") as dst:
                for chunk in response.iter_bytes(CHUNK):
                    crc.update(bytes(chunk))
                    dst.write(chunk)
    except httpx.HTTPError as exc:
        raise _Transient(f"{type(exc).__name__}: {exc}") from None
    return crc.base64()


def _link_local(local: Path, target: Path, expected_crc: str | None) -> Path:
    """``local`` linked as ``target`` (or ``local`` itself), its CRC32C checked on the way."""
    try:
        os.link(local, target)  # the link keeps these bytes even if the object is replaced
        path = target
    except OSError:  # another file system, or links unsupported: read the object in place
        path = local
    if expected_crc:
        crc = Crc32c()
        with path.open("rb") as src:
            while chunk := src.read(CHUNK):
                crc.update(chunk)
        if crc.base64() != expected_crc:
            if path == target:
                target.unlink(missing_ok=True)
            raise _mismatch(crc.base64(), expected_crc)
    return path


def _mismatch(actual: str, expected: str) -> InputError:
    return InputError(
        f"the input's CRC32C is {actual}, but checksum_base64_crc32c says "
        f"{expected}: the file changed or the metadata belongs to another file",
        "INPUT.CHECKSUM_MISMATCH",
        user=True,
    )


def fetch_input(
    url: str,
    folder: Path,
    expected_crc: str | None,
    local: Path | None = None,
    *,
    attempts: int = FETCH_ATTEMPTS,
    sleep: Callable[[float], None] = time.sleep,
) -> Path:
    """The input of ``url`` in ``folder``, its path: ``local`` (the file behind ``url``) hard-linked
    there, or read in place where a link cannot be made; else ``url`` downloaded there.

    A local input is never copied. The CRC32C is checked against ``expected_crc`` as the bytes pass.
    """
    target = folder / _file_name(url)
    if local is not None:
        return _link_local(local, target, expected_crc)
    failure: InputError | None = None
    for attempt in range(max(1, attempts)):
        if attempt:
            sleep(min(8.0, 0.5 * 2 ** (attempt - 1)))
        try:
            actual = _download(url, target)
        except _Transient as exc:
            failure = InputError(
                f"downloading the input failed after {attempt + 1} attempts: {exc}",
                "INPUT.DOWNLOAD_FAILED",
                user=False,
            )
            continue
        if not expected_crc or actual == expected_crc:
            return target
        failure = _mismatch(actual, expected_crc)  # maybe truncated on the way: fetch again
    target.unlink(missing_ok=True)
    assert failure is not None
    raise failure
