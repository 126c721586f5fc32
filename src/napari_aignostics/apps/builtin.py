"""The built-in applications: ``test-app`` and ``local-tme`` (classical image analysis)."""

from __future__ import annotations

from datetime import UTC, datetime

from .base import AnalysisContext, ApplicationSpec, ProducedArtifact, VersionSpec
from .pipeline import cell_artifacts, open_input, readable_input, tissue_artifacts
from .schemas import (
    geojson_metadata,
    output,
    plain_metadata,
    segmentation_map_metadata,
    technical_input_schema,
    tme_input_schema,
)

__all__ = ["LOCAL_TME", "TEST_APP"]

PARQUET = "application/vnd.apache.parquet"


def _tissue_outputs() -> list[dict[str, object]]:
    outputs = []
    for stage in ("tissue_qc", "tissue_segmentation"):
        outputs += [
            output(f"{stage}:segmentation_map_image", "image/tiff", segmentation_map_metadata()),
            output(f"{stage}:geojson_polygons", "application/geo+json", geojson_metadata()),
            output(f"{stage}:csv_class_information", "text/csv", plain_metadata("text/csv")),
        ]
    return outputs


def _run_test_app(ctx: AnalysisContext) -> list[ProducedArtifact]:
    slide, mpp = open_input(ctx, (0.08, 2.0), 200_000)
    with slide, readable_input(ctx):
        artifacts, _overview, _maps = tissue_artifacts(ctx, slide, mpp)
    ctx.progress(1.0, "done")
    return artifacts


def _run_local_tme(ctx: AnalysisContext) -> list[ProducedArtifact]:
    slide, mpp = open_input(ctx, (0.08, 0.55), 150_000)
    with slide, readable_input(ctx):
        artifacts, overview, maps = tissue_artifacts(ctx, slide, mpp)
        artifacts += cell_artifacts(
            ctx,
            slide,
            mpp,
            overview,
            maps,
            "local-tme readouts v1.2.0 (classical image analysis, not a trained model)",
        )
    ctx.progress(1.0, "done")
    return artifacts


TEST_README = b"""# test-app (local)

Tissue QC and tissue segmentation computed on this computer at about 8 um/px with classical colour
analysis. Inputs: any slide with a known resolution. Outputs: segmentation maps (TIFF), polygons
(GeoJSON, level-0 pixels) and class tables (CSV).
"""
TME_README = b"""# local-tme (local)

Classical image analysis on this computer -- colour deconvolution, thresholds and watershed -- that
produces the same artifacts as Aignostics' Atlas H&E-TME so the whole workflow can be tried offline.
It is NOT the Atlas H&E-TME model and its results are not diagnostic.

Steps: tissue QC and segmentation at about 8 um/px; nuclei at level 0 in 1024 px tiles inside tissue;
rule-based cell classes (epithelial, lymphocyte, fibroblast, other) with a confidence; readouts per
cell and per slide (counts, densities per mm2, percentages, areas).
"""

TEST_APP = ApplicationSpec(
    application_id="test-app",
    name="Test Application",
    description="Tissue QC and tissue segmentation for trying the platform; runs in seconds.",
    regulatory_classes=["RUO"],
    versions=[
        VersionSpec(
            version_number="1.0.0",
            changelog="Tissue QC and tissue segmentation with segmentation maps, polygons and "
            "class tables.",
            released_at=datetime(2025, 6, 1, tzinfo=UTC),
            input_artifacts=[
                {
                    "name": "whole_slide_image",
                    "mime_type": "image/tiff",
                    "metadata_schema": technical_input_schema(),
                }
            ],
            output_artifacts=_tissue_outputs(),
            run=_run_test_app,
            documents={"README.md": ("text/markdown", TEST_README)},
        )
    ],
)

LOCAL_TME = ApplicationSpec(
    application_id="local-tme",
    name="Local TME (classical image analysis)",
    description="Tissue QC, tissue segmentation, nuclei detection and classification and readouts "
    "computed on this computer with classical image analysis (colour deconvolution, thresholds, "
    "watershed). Not Aignostics' Atlas H&E-TME model: for trying the workflow offline.",
    regulatory_classes=["RUO"],
    versions=[
        VersionSpec(
            version_number="1.2.0",
            changelog="Tissue QC and segmentation, nuclei with rule-based classes and confidence, "
            "cell and slide readouts; outputs named as in he-tme 1.2.0.",
            released_at=datetime(2025, 9, 1, tzinfo=UTC),
            input_artifacts=[
                {
                    "name": "whole_slide_image",
                    "mime_type": "image/tiff",
                    "metadata_schema": tme_input_schema(),
                }
            ],
            output_artifacts=[
                *_tissue_outputs(),
                output(
                    "cell_classification:geojson_polygons",
                    "application/geo+json",
                    geojson_metadata(),
                ),
                output("cell_classification:parquet_polygons", PARQUET, plain_metadata(PARQUET)),
                output("readout_generation:slide_readouts", "text/csv", plain_metadata("text/csv")),
                output("readout_generation:cell_readouts", "text/csv", plain_metadata("text/csv")),
            ],
            run=_run_local_tme,
            documents={"README.md": ("text/markdown", TME_README)},
        )
    ],
)
