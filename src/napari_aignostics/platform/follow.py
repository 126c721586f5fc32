"""Following a run: poll it, download items as they finish, report typed events."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from . import models as m
from .client import PlatformClient
from .download import download_item, item_folder, write_manifest

__all__ = [
    "ArtifactDownloaded",
    "ItemFailed",
    "ItemFinished",
    "RunFinished",
    "RunUpdated",
    "follow_run",
]


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


Event = RunUpdated | ArtifactDownloaded | ItemFinished | ItemFailed | RunFinished


def follow_run(
    client: PlatformClient,
    run_id: str,
    folder: Path | None = None,
    *,
    interval: float = 5.0,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[Event]:
    """Yield events until the run is terminated; download finished items into ``folder``."""
    seen_state: tuple[object, ...] | None = None
    handled: set[str] = set()
    while True:
        run = client.run(run_id)
        state = (run.state, run.output, run.statistics.model_dump())
        if state != seen_state:
            seen_state = state
            yield RunUpdated(run)
        items = list(client.list_items(run_id))
        for item in items:
            if item.state != m.ItemState.TERMINATED or item.item_id in handled:
                continue
            handled.add(item.item_id)
            if item.termination_reason == m.ItemTerminationReason.SUCCEEDED:
                if folder is not None:
                    for got in download_item(client, run_id, item, folder):
                        yield ArtifactDownloaded(got.external_id, got.name, got.path, got.size)
                    target = item_folder(folder, run_id, item.external_id)
                    write_manifest(folder, run, items)
                    yield ItemFinished(item, target)
                else:
                    yield ItemFinished(item, None)
            else:
                yield ItemFailed(item)
        if run.state == m.RunState.TERMINATED and all(i.item_id in handled for i in items):
            manifest = write_manifest(folder, run, items) if folder is not None else None
            yield RunFinished(run, manifest)
            return
        sleep(interval)
