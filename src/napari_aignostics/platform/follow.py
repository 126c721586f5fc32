"""Following a run: poll it, download items as they finish, report typed events.

When the platform stops answering (no connection, timeouts, 5xx, 429 after the client's own
retries) following goes on with backoff and a :class:`Reconnecting` event until ``patience``
seconds passed without an answer; only then it raises.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from . import models as m
from .client import PlatformClient
from .download import download_item
from .errors import PlatformError, TransportError
from .results_layout import item_folder, write_manifest

__all__ = [
    "PATIENCE_S",
    "ArtifactDownloaded",
    "ItemFailed",
    "ItemFinished",
    "Reconnecting",
    "RunFinished",
    "RunUpdated",
    "follow_run",
]

PATIENCE_S = 600.0
"""Default seconds without any answer from the platform before following gives up."""
MAX_DELAY_S = 30.0


@dataclass
class RunUpdated:
    """The run's state or statistics changed."""

    run: m.RunReadResponse


@dataclass
class ArtifactDownloaded:
    """One artifact is on disk and verified."""

    external_id: str
    name: str
    path: Path
    size: int


@dataclass
class ItemFinished:
    """An item succeeded; its results are in ``folder`` (None when not downloading)."""

    item: m.ItemResultReadResponse
    folder: Path | None


@dataclass
class ItemFailed:
    """An item ended without results (user error, system error or skipped)."""

    item: m.ItemResultReadResponse


@dataclass
class RunFinished:
    """The run is terminated and everything downloadable is downloaded."""

    run: m.RunReadResponse
    manifest: Path | None


@dataclass
class Reconnecting:
    """The platform did not answer; the next try is in ``delay`` seconds."""

    error: str
    delay: float
    waited: float
    """Seconds since the platform last answered."""
    patience: float


Event = RunUpdated | ArtifactDownloaded | ItemFinished | ItemFailed | RunFinished | Reconnecting


def transient(error: PlatformError) -> bool:
    """True for failures that may pass: no answer, timeouts, 5xx, 408 and 429."""
    status = error.status
    return isinstance(error, TransportError) or (
        status is not None and (status >= 500 or status in (408, 429))
    )


def follow_run(
    client: PlatformClient,
    run_id: str,
    folder: Path | None = None,
    *,
    interval: float = 5.0,
    patience: float = PATIENCE_S,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[Event]:
    """Yield events until the run is terminated; download finished items into ``folder``.

    A poll starts every ``interval`` seconds: the pause after a round is what is left of the
    interval once the round (reads, downloads, the caller's handling of the events) is done.
    """
    seen_state: tuple[object, ...] | None = None
    handled: set[str] = set()
    announced: set[Path] = set()
    outage_since: float | None = None
    failures = 0
    while True:
        started = clock()
        try:
            run = client.run(run_id)
            state = (run.state, run.output, run.statistics.model_dump())
            if state != seen_state:
                seen_state = state
                yield RunUpdated(run)
            items = list(client.list_items(run_id))
            for item in items:
                if item.state != m.ItemState.TERMINATED or item.item_id in handled:
                    continue
                if item.termination_reason != m.ItemTerminationReason.SUCCEEDED:
                    handled.add(item.item_id)
                    yield ItemFailed(item)
                    continue
                if folder is None:
                    handled.add(item.item_id)
                    yield ItemFinished(item, None)
                    continue
                for got in download_item(client, run_id, item, folder):
                    if got.path not in announced:
                        announced.add(got.path)
                        yield ArtifactDownloaded(got.external_id, got.name, got.path, got.size)
                write_manifest(folder, run, items, client.api_root)
                handled.add(item.item_id)  # only once every artifact is on disk and verified
                yield ItemFinished(item, item_folder(folder, run_id, item.external_id))
            if run.state == m.RunState.TERMINATED and all(i.item_id in handled for i in items):
                manifest = write_manifest(folder, run, items, client.api_root) if folder is not None else None
                yield RunFinished(run, manifest)
                return
        except PlatformError as exc:
            if not transient(exc):
                raise
            now = clock()
            outage_since = now if outage_since is None else outage_since
            waited = now - outage_since
            if waited >= patience:
                raise TransportError(
                    f"following run {run_id}: no answer from {client.api_root} for "
                    f"{waited:.0f} s ({exc}); the run goes on on the platform: re-attach with "
                    f"`napari-aignostics run follow {run_id}`"
                ) from None
            delay = min(max(interval, 1.0) * 2**failures, MAX_DELAY_S, patience - waited)
            failures += 1
            yield Reconnecting(exc.one_line(), delay, waited, patience)
            sleep(delay)
            continue
        outage_since, failures = None, 0
        sleep(max(0.0, interval - (clock() - started)))
