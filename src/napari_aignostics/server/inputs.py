"""Fetching an item's input slide from its ``download_url`` and verifying its CRC32C."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

import httpx

from ..slides.checksum import Crc32c
from .service import Platform
from .signing import SignatureError, verify_sigv4_query

__all__ = ["InputError", "fetch_input"]

CHUNK = 2 * 1024 * 1024
GCS_ROOT = "https://storage.googleapis.com/"


class InputError(Exception):
    """The input could not be fetched or is not what was submitted; ``user`` says whose fault."""

    def __init__(self, message: str, code: str, *, user: bool) -> None:
        super().__init__(message)
        self.code = code
        self.user = user


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
        if platform.store.one("SELECT 1 FROM orgs WHERE bucket_name=?", (bucket,)):
            return bucket, key
    return None


def _local_object(platform: Platform, url: str) -> Path | None:
    """The file behind a presigned URL of this platform's own bucket (signature verified)."""
    found = _bucket_and_key(platform, url)
    if found is None:
        return None
    bucket, key = found
    parts = urlsplit(url)

    def lookup(key_id: str) -> str | None:
        org = platform.store.org_for_key(key_id)
        return None if org is None or org["bucket_name"] != bucket else str(org["hmac_secret"])

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


def fetch_input(platform: Platform, url: str, folder: Path, expected_crc: str | None) -> Path:
    """Download (or copy) the input into ``folder`` and check its checksum; its path."""
    target = folder / _file_name(url)
    crc = Crc32c()
    local = _local_object(platform, url)
    if local is not None:
        with local.open("rb") as src, target.open("wb") as dst:
            while chunk := src.read(CHUNK):
                crc.update(chunk)
                dst.write(chunk)
    else:
        try:
            with httpx.stream("GET", url, timeout=60.0, follow_redirects=True) as response:
                if response.status_code >= 400:
                    user = response.status_code < 500
                    raise InputError(
                        f"downloading the input failed with HTTP {response.status_code}",
                        "INPUT.DOWNLOAD_FAILED",
                        user=user,
                    )
                with target.open("wb") as dst:
                    for chunk in response.iter_bytes(CHUNK):
                        crc.update(bytes(chunk))
                        dst.write(chunk)
        except httpx.HTTPError as exc:
            raise InputError(
                f"downloading the input failed: {exc}", "INPUT.DOWNLOAD_FAILED", user=False
            ) from None
    if expected_crc and crc.base64() != expected_crc:
        target.unlink(missing_ok=True)
        raise InputError(
            f"the input's CRC32C is {crc.base64()}, but checksum_base64_crc32c says "
            f"{expected_crc}: the file changed or the metadata belongs to another file",
            "INPUT.CHECKSUM_MISMATCH",
            user=True,
        )
    return target
