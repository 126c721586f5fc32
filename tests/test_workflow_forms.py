"""Input forms generated from real version schemas, per-slide validation, and run labels."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from napari_aignostics.platform.run_labels import progress_fraction, run_label
from napari_aignostics.workflow.schema_form import build_metadata, form_fields, validation_errors


def _he_tme_schema(openapi_spec: dict[str, Any]) -> dict[str, Any]:
    path = openapi_spec["paths"]["/v1/applications/{application_id}/versions/{version}"]
    example = path["get"]["responses"]["200"]["content"]["application/json"]["example"]
    return example["input_artifacts"][0]["metadata_schema"]


def test_form_from_the_published_he_tme_schema(openapi_spec: dict[str, Any]) -> None:
    schema = _he_tme_schema(openapi_spec)
    fields = {f.key: f for f in form_fields(schema)}
    assert set(fields) == {"staining_method", "specimen.disease", "specimen.tissue"}
    assert fields["staining_method"].kind == "const" and fields["staining_method"].choices == [
        "H&E"
    ]
    assert fields["specimen.disease"].choices == ["LUNG_CANCER"]
    assert fields["specimen.tissue"].choices_for({"specimen.disease": "LUNG_CANCER"})[:2] == [
        "LUNG",
        "LYMPH_NODE",
    ]
    technical = {
        "checksum_base64_crc32c": "5onqtA==",
        "width_px": 100,
        "height_px": 80,
        "resolution_mpp": 0.25,
        "media_type": "image/tiff",
        "unknown": 1,
    }
    metadata = build_metadata(
        schema, technical, {"specimen.disease": "LUNG_CANCER", "specimen.tissue": "LIVER"}
    )
    assert metadata == {
        "checksum_base64_crc32c": "5onqtA==",
        "width_px": 100,
        "height_px": 80,
        "resolution_mpp": 0.25,
        "media_type": "image/tiff",
        "staining_method": "H&E",
        "specimen": {"disease": "LUNG_CANCER", "tissue": "LIVER"},
    }
    assert validation_errors(schema, metadata) == []
    too_coarse = {**metadata, "resolution_mpp": 0.9}
    assert any(p.startswith("resolution_mpp") for p in validation_errors(schema, too_coarse))
    missing = build_metadata(schema, technical, {})
    assert any("specimen" in p for p in validation_errors(schema, missing))


def test_variants_make_tissue_choices_depend_on_disease(openapi_spec: dict[str, Any]) -> None:
    schema = copy.deepcopy(_he_tme_schema(openapi_spec))
    schema["$defs"]["BreastCancerSpecimen"] = {
        "type": "object",
        "required": ["disease"],
        "additionalProperties": False,
        "properties": {
            "disease": {"const": "BREAST_CANCER", "type": "string"},
            "tissue": {"enum": ["BREAST", "LYMPH_NODE"], "type": "string", "default": "BREAST"},
        },
    }
    schema["properties"]["specimen"]["anyOf"].append({"$ref": "#/$defs/BreastCancerSpecimen"})
    fields = {f.key: f for f in form_fields(schema)}
    assert fields["specimen.disease"].choices == ["LUNG_CANCER", "BREAST_CANCER"]
    tissue = fields["specimen.tissue"]
    assert tissue.depends_on == ("specimen", "disease")
    assert tissue.choices_for({"specimen.disease": "BREAST_CANCER"}) == ["BREAST", "LYMPH_NODE"]
    assert "BRAIN" in tissue.choices_for({"specimen.disease": "LUNG_CANCER"})
    metadata = build_metadata(
        schema,
        {"checksum_base64_crc32c": "x"},
        {"specimen.disease": "BREAST_CANCER", "specimen.tissue": "BRAIN"},
    )
    assert validation_errors(schema, metadata)  # BRAIN is not a breast-cancer tissue


def _run(state: str, reason: str | None = None, **counts: int) -> dict[str, Any]:
    stats = dict.fromkeys(
        (
            "item_count",
            "item_pending_count",
            "item_processing_count",
            "item_user_error_count",
            "item_system_error_count",
            "item_skipped_count",
            "item_succeeded_count",
        ),
        0,
    )
    stats.update(counts)
    return {
        "state": state,
        "termination_reason": reason,
        "statistics": stats,
        "num_preceding_items_platform": None,
    }


@pytest.mark.parametrize(
    ("run", "label"),
    [
        (_run("PENDING", item_count=2, item_pending_count=2), "received"),
        ({**_run("PENDING", item_count=2), "num_preceding_items_platform": 3}, "scheduled"),
        (_run("PROCESSING", item_count=2, item_processing_count=1), "running"),
        (
            _run("TERMINATED", "ALL_ITEMS_PROCESSED", item_count=2, item_succeeded_count=2),
            "completed",
        ),
        (
            _run(
                "TERMINATED",
                "ALL_ITEMS_PROCESSED",
                item_count=2,
                item_succeeded_count=1,
                item_user_error_count=1,
            ),
            "completed with errors",
        ),
        (_run("TERMINATED", "CANCELED_BY_SYSTEM", item_count=2), "cancelled by the system"),
        (_run("TERMINATED", "CANCELED_BY_USER", item_count=2), "cancelled by the user"),
    ],
)
def test_run_labels(run: dict[str, Any], label: str) -> None:
    assert run_label(run) == label


def test_progress_fraction() -> None:
    assert (
        progress_fraction(
            _run("PROCESSING", item_count=4, item_succeeded_count=1, item_skipped_count=1)
        )
        == 0.5
    )
    assert progress_fraction(_run("PENDING")) == 0.0
