"""Downloading a run's results: verified, resumable, never outside the target folder.

Files go where :mod:`.results_layout` says, which also writes the run's manifest.
Each artifact streams into ``<file>.part`` from a fresh signed URL per attempt (no Authorization
header is sent there), resumes with ``Range`` after a reset, waits and retries 5xx and 429 (honouring
``Retry-After``), restarts from zero after a CRC32C mismatch (a truncated or corrupted body), and is
renamed into place only once its CRC32C equals ``metadata.checksum_base64_crc32c``. Attempts are
bounded. Files already present with the right checksum are skipped.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from ..slides.checksum import Crc32c, crc32c_base64
from . import models as m
from .client import RETRY_STATUSES, PlatformClient, retry_after
from .errors import ChecksumMismatchError, GoneError, PlatformError, TransportError
from .paths import ensure_inside
from .results_layout import artifact_file_name, item_folder, write_manifest

__all__ = [
    "DownloadedArtifact",
    "download_artifact",
    "download_item",
    "download_run",
]

log = logging.getLogger(__name__)

CHUNK = 1024 * 1024
ATTEMPTS = 8
BytesProgress = Callable[[int, int], None]


class _Retry(Exception):
    """A transient failure of one attempt; ``wait`` is the server's ``Retry-After`` if any."""

    def __init__(self, message: str, wait: float | None = None) -> None:
        super().__init__(message)
        self.wait = wait


@dataclass
class DownloadedArtifact:
    """One artifact on disk."""

    external_id: str
    name: str
    path: Path
    size: int
    skipped: bool
    """True when a verified copy was already there."""


def _fetch(
    http: httpx.Client,
    url: str,
    part: Path,
    crc: Crc32c,
    progress: BytesProgress | None,
    total: int | None,
) -> Crc32c:
    """Append the remaining bytes of ``url`` to ``part`` (resuming); the running checksum."""
    offset = part.stat().st_size if part.exists() else 0
    headers = {"Range": f"bytes={offset}-"} if offset else {}
    with http.stream("GET", url, headers=headers) as response:
        if response.status_code == 416 and offset:
            return crc
        if response.status_code in (401, 403):
            raise PlatformError(
                f"the download link was refused (HTTP {response.status_code}); it may have expired",
                status=response.status_code,
            )
        if response.status_code == 410:
            raise GoneError("the artifact was deleted", status=410)
        if response.status_code in RETRY_STATUSES:
            raise _Retry(f"HTTP {response.status_code}", retry_after(response))
        if response.status_code not in (200, 206):
            raise PlatformError(
                f"download failed with HTTP {response.status_code}", status=response.status_code
            )
        if offset and response.status_code == 200:  # the server ignored Range: start over
            part.unlink()
            crc = Crc32c()
            offset = 0
        done = offset
        with part.open("ab") as handle:
            for chunk in response.iter_bytes():  # as it arrives: a reset loses nothing
                handle.write(chunk)
                crc.update(bytes(chunk))
                done += len(chunk)
                if progress is not None:
                    progress(done, total or done)
    return crc


def _checksum_of(part: Path) -> Crc32c:
    crc = Crc32c()
    if part.exists():  # resume a previous attempt: checksum what is there
        with part.open("rb") as handle:
            while block := handle.read(CHUNK):
                crc.update(block)
    return crc


def download_artifact(
    client: PlatformClient,
    run_id: str,
    artifact: m.OutputArtifactResultReadResponse,
    target: Path,
    *,
    http: httpx.Client | None = None,
    attempts: int = ATTEMPTS,
    progress: BytesProgress | None = None,
    share_token: str | None = None,
) -> tuple[int, bool]:
    """Download one artifact to ``target`` (verified); its size and whether it was skipped."""
    metadata = artifact.metadata or {}
    expected = metadata.get("checksum_base64_crc32c") or metadata.get("checksum_crc32c")
    if target.is_file() and expected and crc32c_base64(target) == expected:
        return target.stat().st_size, True
    part = target.with_name(target.name + ".part")
    own = http is None
    http = http or httpx.Client(timeout=httpx.Timeout(60.0, connect=10.0), follow_redirects=True)
    try:
        crc = _checksum_of(part)
        problems: list[str] = []
        wait: float | None = None
        for attempt in range(max(1, attempts)):
            if attempt:
                client.sleep(wait if wait is not None else client.retry_delay(attempt - 1))
            wait = None
            url = client.artifact_url(  # fresh each attempt
                run_id, artifact.output_artifact_id, share_token=share_token
            )
            try:
                crc = _fetch(http, url, part, crc, progress, metadata.get("size"))
            except (httpx.TransportError, httpx.TimeoutException, _Retry) as exc:
                wait = exc.wait if isinstance(exc, _Retry) else None
                problems.append(f"{type(exc).__name__}: {exc}")
                log.info("%s: attempt %d failed (%s); retrying", artifact.name, attempt + 1, exc)
                continue
            actual = crc.base64()
            if not expected or actual == expected:
                os.replace(part, target)
                return target.stat().st_size, False
            part.unlink(missing_ok=True)  # truncated or corrupted: start this artifact over
            crc = Crc32c()
            problems.append(f"CRC32C {actual} instead of {expected}")
            log.info("%s: checksum mismatch on attempt %d; restarting", artifact.name, attempt + 1)
        if problems and problems[-1].startswith("CRC32C"):
            raise ChecksumMismatchError(
                f"{artifact.name}: downloaded bytes have {problems[-1]} after {attempts} "
                "attempts; the partial file was removed, download again"
            )
        raise TransportError(
            f"downloading {artifact.name} failed after {attempts} attempts "
            f"({'; '.join(problems[-3:])}); the partial file is kept and resumed next time"
        )
    finally:
        if own:
            http.close()


def download_item(
    client: PlatformClient,
    run_id: str,
    item: m.ItemResultReadResponse,
    folder: Path,
    *,
    http: httpx.Client | None = None,
    share_token: str | None = None,
) -> list[DownloadedArtifact]:
    """Download every available artifact of an item."""
    target_dir = item_folder(folder, run_id, item.external_id)
    done = []
    for artifact in item.output_artifacts:
        if artifact.output != m.ArtifactOutput.AVAILABLE:
            continue
        target_dir.mkdir(parents=True, exist_ok=True)  # no empty folder for an item without results
        media_type = (artifact.metadata or {}).get("media_type")
        target = ensure_inside(
            target_dir, target_dir / artifact_file_name(artifact.name, media_type)
        )
        size, skipped = download_artifact(
            client, run_id, artifact, target, http=http, share_token=share_token
        )
        done.append(DownloadedArtifact(item.external_id, artifact.name, target, size, skipped))
    return done


def download_run(
    client: PlatformClient, run_id: str, folder: Path, *, share_token: str | None = None
) -> list[DownloadedArtifact]:
    """Download every available artifact of a run (shared with ``share_token``) and its manifest."""
    run = client.run(run_id, share_token=share_token)
    items = list(client.list_items(run_id, share_token=share_token))
    done: list[DownloadedArtifact] = []
    with httpx.Client(timeout=httpx.Timeout(60.0, connect=10.0), follow_redirects=True) as http:
        for item in items:
            done.extend(
                download_item(client, run_id, item, folder, http=http, share_token=share_token)
            )
    write_manifest(folder, run, items, client.api_root)
    return done
