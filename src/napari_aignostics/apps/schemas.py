"""JSON schemas of the built-in applications' inputs and outputs (as the platform publishes them)."""

from __future__ import annotations

from typing import Any

__all__ = [
    "DISEASES",
    "TISSUES",
    "geojson_metadata",
    "output",
    "plain_metadata",
    "segmentation_map_metadata",
    "technical_input_schema",
    "tme_input_schema",
]

DRAFT = "http://json-schema.org/draft-07/schema#"
MEDIA_TYPES = ["image/tiff", "application/dicom", "application/octet-stream", "application/zip"]
DISEASES = [
    "BREAST_CANCER",
    "LUNG_CANCER",
    "COLORECTAL_CANCER",
    "BLADDER_CANCER",
    "LIVER_CANCER",
    "PROSTATE_CANCER",
    "PANCREATIC_CANCER",
    "STOMACH_CANCER",
    "OVARIAN_CANCER",
    "OTHER",
]
TISSUES = [
    "LUNG",
    "LYMPH_NODE",
    "LIVER",
    "ADRENAL_GLAND",
    "BONE",
    "BRAIN",
    "BREAST",
    "COLON",
    "KIDNEY",
    "PANCREAS",
    "PROSTATE",
    "SKIN",
    "STOMACH",
    "OVARY",
    "BLADDER",
    "OTHER",
]
CHECKSUM = {"type": "string", "minLength": 8, "maxLength": 8, "description": "CRC32C, base64"}


def _technical(max_px: int, mpp_min: float, mpp_max: float) -> dict[str, Any]:
    return {
        "checksum_base64_crc32c": CHECKSUM,
        "width_px": {"type": "integer", "minimum": 1, "maximum": max_px},
        "height_px": {"type": "integer", "minimum": 1, "maximum": max_px},
        "resolution_mpp": {"type": "number", "minimum": mpp_min, "maximum": mpp_max},
        "media_type": {"type": "string", "enum": MEDIA_TYPES},
    }


def technical_input_schema() -> dict[str, Any]:
    """test-app: only what the plugin computes from the file."""
    return {
        "$schema": DRAFT,
        "title": "Slide metadata",
        "type": "object",
        "additionalProperties": False,
        "required": ["checksum_base64_crc32c", "width_px", "height_px", "resolution_mpp"],
        "properties": _technical(200_000, 0.08, 2.0),
    }


def tme_input_schema() -> dict[str, Any]:
    """local-tme: like he-tme 1.2.0 — technical keys, staining and specimen."""
    return {
        "$schema": DRAFT,
        "title": "H&E slide metadata",
        "type": "object",
        "additionalProperties": False,
        "required": ["checksum_base64_crc32c", "staining_method", "specimen"],
        "properties": {
            **_technical(150_000, 0.08, 0.55),
            "staining_method": {"type": "string", "const": "H&E", "description": "Staining"},
            "specimen": {
                "type": "object",
                "title": "Specimen",
                "additionalProperties": False,
                "required": ["disease"],
                "properties": {
                    "disease": {"type": "string", "enum": DISEASES, "title": "Disease"},
                    "tissue": {
                        "type": "string",
                        "enum": TISSUES,
                        "default": "OTHER",
                        "title": "Tissue",
                    },
                },
            },
        },
    }


def segmentation_map_metadata() -> dict[str, Any]:
    """Like the platform's SegmentationMapImageMetadata."""
    return {
        "$schema": DRAFT,
        "type": "object",
        "additionalProperties": False,
        "required": ["checksum_base64_crc32c", "width_px", "height_px", "class_colors"],
        "properties": {
            "checksum_base64_crc32c": CHECKSUM,
            "width_px": {"type": "integer", "minimum": 1},
            "height_px": {"type": "integer", "minimum": 1},
            "resolution_mpp": {"type": "number", "minimum": 0.08},
            "media_type": {"type": "string", "const": "image/tiff"},
            "class_colors": {
                "type": "object",
                "additionalProperties": {
                    "type": "array",
                    "minItems": 3,
                    "maxItems": 3,
                    "items": {"type": "integer", "minimum": 0, "maximum": 255},
                },
            },
        },
    }


def geojson_metadata() -> dict[str, Any]:
    """Like the platform's GeoJsonPolygonsMetadata."""
    return {
        "$schema": DRAFT,
        "type": "object",
        "additionalProperties": False,
        "required": ["checksum_base64_crc32c", "polygon_mpp"],
        "properties": {
            "checksum_base64_crc32c": CHECKSUM,
            "polygon_mpp": {"type": "number", "exclusiveMinimum": 0},
            "media_type": {"type": "string", "const": "application/geo+json"},
            "feature_count": {"type": "integer", "minimum": 0},
        },
    }


def plain_metadata(media_type: str) -> dict[str, Any]:
    """Checksum and media type (CSV, Parquet)."""
    return {
        "$schema": DRAFT,
        "type": "object",
        "required": ["checksum_base64_crc32c", "media_type"],
        "properties": {
            "checksum_base64_crc32c": CHECKSUM,
            "media_type": {"type": "string", "const": media_type},
        },
    }


def output(name: str, media_type: str, schema: dict[str, Any]) -> dict[str, Any]:
    """An ``OutputArtifact`` entry of a version."""
    return {
        "name": name,
        "mime_type": media_type,
        "metadata_schema": schema,
        "scope": "ITEM",
        "visibility": "EXTERNAL",
    }
