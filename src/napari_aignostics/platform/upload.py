"""Slides into the organization's bucket: SigV4 presigned PUT/GET URLs and a streamed upload.

The bucket comes from ``/v1/me``: protocol ``gs`` (Google Cloud Storage's S3-compatible endpoint,
the cloud platform), ``s3`` (AWS), or ``http``/``https`` — the local platform, whose endpoint is
``<api_root>/bucket`` (path style, region ``us-east-1``). Secrets are never logged.

A PUT that fails transiently (connection reset, timeout, 5xx, 429) is sent again from the first
byte with a freshly presigned URL, a bounded number of times; each restart is reported so the
progress going back to zero is visible.
"""

from __future__ import annotations

import functools
import getpass
import logging
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from .client import RETRY_STATUSES, retry_after
from .errors import PlatformError, TransportError

__all__ = ["Bucket", "UploadProgress", "UploadRetry", "bucket_for", "object_key", "upload_file"]

log = logging.getLogger(__name__)

GCS_ENDPOINT = "https://storage.googleapis.com"
GCS_REGION = "EUROPE-WEST3"
LOCAL_REGION = "us-east-1"
SUBMISSION_URL_TTL_S = 7 * 24 * 3600
UPLOAD_URL_TTL_S = 3600
CHUNK = 1024 * 1024
UPLOAD_ATTEMPTS = 6
UploadProgress = Callable[[int, int], None]
"""Called with bytes sent so far and the total."""
UploadRetry = Callable[[int, int, str], None]
"""Called before a restart with the next attempt (2, 3, ...), the maximum and the reason."""


@dataclass
class Bucket:
    """An S3-compatible bucket and the HMAC key to presign URLs for it."""

    name: str
    endpoint: str | None
    region: str
    key_id: str
    secret: str = field(repr=False)

    @functools.cached_property
    def _signer(self) -> Any:  # botocore's S3 client is untyped; made once per bucket
        import botocore.session
        from botocore.config import Config

        return botocore.session.get_session().create_client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=self.region,
            aws_access_key_id=self.key_id,
            aws_secret_access_key=self.secret,
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
        )

    def presign(self, method: str, key: str, ttl_s: int) -> str:
        """A presigned ``PUT`` or ``GET`` URL of an object."""
        operation = {"PUT": "put_object", "GET": "get_object", "HEAD": "head_object"}[method]
        url: str = self._signer.generate_presigned_url(
            operation, Params={"Bucket": self.name, "Key": key}, ExpiresIn=ttl_s
        )
        return url


def bucket_for(organization: Any, api_root: str) -> Bucket:
    """The bucket advertised by ``/v1/me``'s organization."""
    protocol = (organization.aignostics_bucket_protocol or "").lower()
    if protocol in {"http", "https"}:
        endpoint, region = f"{api_root.rstrip('/')}/bucket", LOCAL_REGION
    elif protocol == "gs":
        endpoint, region = GCS_ENDPOINT, GCS_REGION
    elif protocol == "s3":
        endpoint, region = None, LOCAL_REGION
    else:
        raise PlatformError(f"unsupported bucket protocol {protocol!r} in /v1/me")
    return Bucket(
        name=organization.aignostics_bucket_name,
        endpoint=endpoint,
        region=region,
        key_id=organization.aignostics_bucket_hmac_access_key_id,
        secret=organization.aignostics_bucket_hmac_secret_access_key,
    )


def object_key(path: Path, application_id: str, version: str, prefix: str | None = None) -> str:
    """``<user>/<prefix>/<application>/<version>/<file name>`` (prefix: epoch milliseconds)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "napari"
    safe_user = "".join(c if c.isalnum() or c in "._-" else "_" for c in user) or "napari"
    prefix = prefix or str(int(time.time() * 1000))
    return f"{safe_user}/{prefix}/{application_id}/{version}/{path.name}"


def _chunks(path: Path, total: int, progress: UploadProgress | None) -> Iterator[bytes]:
    sent = 0
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            sent += len(chunk)
            yield chunk
            if progress is not None:
                progress(sent, total)


def upload_file(
    http: httpx.Client,
    bucket: Bucket,
    path: Path,
    key: str,
    *,
    progress: UploadProgress | None = None,
    on_retry: UploadRetry | None = None,
    timeout: float = 60.0,
    attempts: int = UPLOAD_ATTEMPTS,
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """Stream a file to the bucket with a presigned PUT; the presigned GET URL (7 days).

    ``http`` is the platform client's connection pool (and injected transport): one client carries
    every byte. The presigned URL authenticates the PUT; no bearer token goes to the bucket.
    """
    total = path.stat().st_size
    headers = {"Content-Type": "application/octet-stream", "Content-Length": str(total)}
    attempts = max(1, attempts)
    reason = ""
    wait: float | None = None
    for attempt in range(attempts):
        if attempt:
            if on_retry is not None:
                on_retry(attempt + 1, attempts, reason)
            if progress is not None:
                progress(0, total)  # the restart is visible: progress goes back to zero
            cap = min(30.0, 0.5 * 2 ** (attempt - 1))
            sleep(wait if wait is not None else random.uniform(cap / 2, cap))
        wait = None
        url = bucket.presign("PUT", key, UPLOAD_URL_TTL_S)
        try:
            response = http.put(
                url, content=_chunks(path, total, progress), headers=headers, timeout=timeout
            )
        except httpx.HTTPError as exc:
            reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            log.info("uploading %s: attempt %d failed (%s)", path.name, attempt + 1, reason)
            continue
        if response.status_code in (200, 201, 204):
            return bucket.presign("GET", key, SUBMISSION_URL_TTL_S)
        if response.status_code not in RETRY_STATUSES:
            raise PlatformError(
                f"uploading {path.name} failed: the bucket answered HTTP {response.status_code} "
                f"({response.text.strip()[:200]})",
                status=response.status_code,
            )
        reason = f"HTTP {response.status_code}"
        wait = retry_after(response)
    raise TransportError(f"uploading {path.name} failed after {attempts} attempts ({reason})")
