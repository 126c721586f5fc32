"""The contract between the local platform's worker and the built-in applications.

An :class:`ApplicationSpec` describes an application and its versions exactly as the API publishes
them. Each :class:`VersionSpec` has a ``run`` callable that analyses one item (one slide) and returns
the output artifacts it produced. The worker maps :class:`UserInputError` to ``USER_ERROR`` and any
other exception to ``SYSTEM_ERROR``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

ProgressCallback = Callable[[float, str], None]
"""Called with a fraction in [0, 1] and a short message."""


class UserInputError(Exception):
    """The input cannot be analysed (not a slide, mpp out of range, too large): ``USER_ERROR``."""

    def __init__(self, message: str, code: str = "INPUT.INVALID") -> None:
        super().__init__(message)
        self.code = code


@dataclass
class AnalysisContext:
    """Everything one item's analysis needs."""

    slide_path: Path
    """The downloaded, checksum-verified input slide."""
    input_metadata: dict[str, Any]
    """The input artifact's metadata as submitted (checksum, width_px, height_px, mpp, ...)."""
    output_dir: Path
    """An empty folder owned by this item; artifacts are written here."""
    progress: ProgressCallback = field(default=lambda fraction, message: None)
    cancelled: Callable[[], bool] = field(default=lambda: False)
    """Long analyses poll this and stop early (raise ``AnalysisCancelled``) when it is true."""
    threads: int = 2
    """Threads the analysis may use (the nuclei tiles run in parallel)."""
    processes: int = 0
    """Worker processes for one slide's nuclei tiles (0 or 1: the tiles run in ``threads``)."""


class AnalysisCancelled(Exception):
    """The item was cancelled while it ran."""


@dataclass
class ProducedArtifact:
    """One output artifact file written by an application."""

    name: str
    """Artifact name as declared by the version, e.g. ``tissue_qc:geojson_polygons``."""
    path: Path
    metadata: dict[str, Any]
    """Must hold at least ``checksum_base64_crc32c`` and ``media_type``."""


@dataclass
class VersionSpec:
    """One application version: the fields of ``VersionReadResponse`` plus the analysis."""

    version_number: str
    changelog: str
    released_at: datetime
    input_artifacts: list[dict[str, Any]]
    """``[{name, mime_type, metadata_schema}]`` as in the API."""
    output_artifacts: list[dict[str, Any]]
    """``[{name, mime_type, metadata_schema, scope, visibility}]`` as in the API."""
    run: Callable[[AnalysisContext], list[ProducedArtifact]]
    documents: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    """Public version documents: name -> (mime type, content)."""


@dataclass
class ApplicationSpec:
    """An application as the API lists it."""

    application_id: str
    name: str
    description: str
    regulatory_classes: list[str]
    versions: list[VersionSpec]
