"""The results folder: where a downloaded run's files go, and its manifest (the one module that knows).

Layout::

    <folder>/<run folder>/manifest.json
    <folder>/<run folder>/<item folder>/<artifact file>

Folder names come from :mod:`.paths` (safe for untrusted ids); artifact file names are the output
artifact's name with ``:`` as ``_`` and an extension from its media type. The manifest records, per
item, its external id, folder, state and every verified artifact file with its metadata.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from . import models as m
from .paths import ensure_inside, item_folder_name, run_folder_name, safe_component

__all__ = [
    "MANIFEST_NAME",
    "MEDIA_TYPE_EXTENSIONS",
    "ManifestArtifact",
    "ManifestItem",
    "RunManifest",
    "artifact_file_name",
    "artifact_metadata",
    "extension_for_media_type",
    "item_folder",
    "read_manifest",
    "run_folder",
    "write_manifest",
]

MANIFEST_NAME = "manifest.json"
MEDIA_TYPE_EXTENSIONS = {
    "image/tiff": "tiff",
    "application/geo+json": "json",
    "application/vnd.apache.parquet": "parquet",
    "text/csv": "csv",
    "application/zip": "zip",
    "application/json": "json",
}
ArtifactMetadata = dict[str, Any]
"""An output artifact's ``metadata`` as the platform sent it (media type, checksum, app keys)."""


def extension_for_media_type(media_type: str | None) -> str:
    """File extension (without dot) for an artifact's ``metadata.media_type``; ``bin`` if unknown."""
    base = (media_type or "").split(";")[0].strip().lower()
    return MEDIA_TYPE_EXTENSIONS.get(base, "bin")


def artifact_file_name(name: str, media_type: str | None) -> str:
    """``tissue_qc:geojson_polygons`` + geo+json → ``tissue_qc_geojson_polygons.json``."""
    return f"{safe_component(name.replace(':', '_'))}.{extension_for_media_type(media_type)}"


def run_folder(folder: Path, run_id: str) -> Path:
    """The (safe) folder of a run's results under ``folder``."""
    return ensure_inside(folder, folder / run_folder_name(run_id))


def item_folder(folder: Path, run_id: str, external_id: str) -> Path:
    """The (safe) folder of an item's results under ``folder``."""
    return ensure_inside(folder, run_folder(folder, run_id) / item_folder_name(external_id))


def artifact_metadata(item: m.ItemResultReadResponse) -> dict[str, ArtifactMetadata]:
    """Metadata of an item's available output artifacts by local file name (no disk access)."""
    found: dict[str, ArtifactMetadata] = {}
    for artifact in item.output_artifacts:
        if artifact.output == m.ArtifactOutput.AVAILABLE:
            meta = artifact.metadata or {}
            found[artifact_file_name(artifact.name, meta.get("media_type"))] = meta
    return found


@dataclass(frozen=True)
class ManifestArtifact:
    """One verified artifact file of an item."""

    name: str
    file: str
    """``<item folder>/<file name>``, relative to the run folder."""
    media_type: str | None
    checksum_base64_crc32c: str | None
    metadata: ArtifactMetadata


@dataclass(frozen=True)
class ManifestItem:
    """One item (slide) of a run and its files."""

    external_id: str
    folder: str
    state: str
    termination_reason: str | None
    error_message: str | None
    artifacts: list[ManifestArtifact] = field(default_factory=list)
    item_id: str | None = None

    def metadata_by_file(self) -> dict[str, ArtifactMetadata]:
        """Artifact metadata keyed by file name (as :func:`artifact_metadata`)."""
        return {Path(a.file).name: a.metadata for a in self.artifacts}


@dataclass(frozen=True)
class RunManifest:
    """What a results folder holds for one run."""

    run_id: str
    application_id: str
    version_number: str
    state: str
    items: list[ManifestItem] = field(default_factory=list)
    submitted_at: str | None = None
    terminated_at: str | None = None
    platform: str | None = None
    """The API root the run came from (``None`` when not recorded)."""


def _item_entry(folder: Path, run_id: str, item: m.ItemResultReadResponse) -> ManifestItem:
    item_dir = item_folder(folder, run_id, item.external_id)
    artifacts = [
        ManifestArtifact(
            name=artifact.name,
            file=f"{item_dir.name}/{file_name}",
            media_type=meta.get("media_type"),
            checksum_base64_crc32c=meta.get("checksum_base64_crc32c"),
            metadata=meta,
        )
        for artifact in item.output_artifacts
        if artifact.output == m.ArtifactOutput.AVAILABLE
        for meta in [artifact.metadata or {}]
        for file_name in [artifact_file_name(artifact.name, meta.get("media_type"))]
        if (item_dir / file_name).is_file()
    ]
    return ManifestItem(
        external_id=item.external_id,
        folder=item_dir.name,
        state=str(item.state),
        termination_reason=str(item.termination_reason) if item.termination_reason else None,
        error_message=item.error_message,
        artifacts=artifacts,
        item_id=item.item_id,
    )


def write_manifest(
    folder: Path,
    run: m.RunReadResponse,
    items: Iterable[m.ItemResultReadResponse],
    platform: str | None = None,
) -> Path:
    """``<folder>/<run folder>/manifest.json`` listing the files on disk (written atomically).

    ``platform`` (the API root) and the run's dates are kept for provenance.
    """
    run_dir = run_folder(folder, run.run_id)
    run_dir.mkdir(parents=True, exist_ok=True)
    manifest = RunManifest(
        run_id=run.run_id,
        application_id=run.application_id,
        version_number=run.version_number,
        state=str(run.state),
        items=[_item_entry(folder, run.run_id, item) for item in items],
        submitted_at=run.submitted_at.isoformat(),
        terminated_at=run.terminated_at.isoformat() if run.terminated_at else None,
        platform=platform,
    )
    target = run_dir / MANIFEST_NAME
    with tempfile.NamedTemporaryFile("w", dir=run_dir, delete=False, suffix=".tmp") as handle:
        json.dump(asdict(manifest), handle, indent=2)
    os.replace(handle.name, target)
    return target


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _artifact(raw: object, path: Path) -> ManifestArtifact:
    if not isinstance(raw, dict) or not isinstance(raw.get("file"), str):
        raise ValueError(f"{path}: an artifact entry has no file name; download the run again")
    meta = raw.get("metadata")
    return ManifestArtifact(
        name=str(raw.get("name", "")),
        file=raw["file"],
        media_type=_text(raw.get("media_type")),
        checksum_base64_crc32c=_text(raw.get("checksum_base64_crc32c")),
        metadata=meta if isinstance(meta, dict) else {},
    )


def _item(raw: object, path: Path) -> ManifestItem:
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: an item entry is not an object; download the run again")
    artifacts = raw.get("artifacts") or []
    if not isinstance(artifacts, list):
        raise ValueError(f"{path}: an item's artifacts are not a list; download the run again")
    folder = str(raw.get("folder", ""))
    return ManifestItem(
        external_id=str(raw.get("external_id") or folder),
        folder=folder,
        state=str(raw.get("state", "")),
        termination_reason=_text(raw.get("termination_reason")),
        error_message=_text(raw.get("error_message")),
        artifacts=[_artifact(a, path) for a in artifacts],
        item_id=_text(raw.get("item_id")),
    )


def read_manifest(path: Path) -> RunManifest:
    """A run manifest file; a :class:`ValueError` naming the file when it is damaged."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, RecursionError) as exc:
        why = "nested too deeply" if isinstance(exc, RecursionError) else f"not valid JSON: {exc}"
        raise ValueError(
            f"{path}: the run manifest is damaged ({why}); download the run again"
            " (napari-aignostics result download RUN_ID FOLDER) or open an item folder directly"
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("items", []), list):
        raise ValueError(f"{path}: not a run manifest (no list of items); open an item folder")
    return RunManifest(
        run_id=str(data.get("run_id", "")),
        application_id=str(data.get("application_id", "")),
        version_number=str(data.get("version_number", "")),
        state=str(data.get("state", "")),
        items=[_item(raw, path) for raw in data.get("items", [])],
        submitted_at=_text(data.get("submitted_at")),
        terminated_at=_text(data.get("terminated_at")),
        platform=_text(data.get("platform")),
    )
