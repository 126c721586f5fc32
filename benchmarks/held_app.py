"""An application whose items are never analysed (servers started with no workers): for server benches."""

from __future__ import annotations

from datetime import UTC, datetime

from napari_aignostics.apps.base import ApplicationSpec, ProducedArtifact, VersionSpec

SCHEMA = {"type": "object", "required": ["checksum_base64_crc32c"],
          "properties": {"checksum_base64_crc32c": {"type": "string"}}}


def _never_run(ctx: object) -> list[ProducedArtifact]:
    raise RuntimeError("not used")


HELD = ApplicationSpec(
    application_id="bench", name="Bench", description="Server benchmark", regulatory_classes=[],
    versions=[VersionSpec("1.0.0", "", datetime(2025, 1, 1, tzinfo=UTC),
                          [{"name": "whole_slide_image", "mime_type": "image/tiff",
                            "metadata_schema": SCHEMA}],
                          [{"name": "out:a", "mime_type": "application/json", "metadata_schema": {},
                            "scope": "ITEM", "visibility": "EXTERNAL"}], _never_run)],
)


def p99(samples: list[float]) -> float:
    """The 99th percentile (nearest rank) of ``samples``."""
    return sorted(samples)[min(len(samples) - 1, int(len(samples) * 0.99))]
