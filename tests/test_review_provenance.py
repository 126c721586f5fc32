"""Provenance: read from the run manifest, kept in layer metadata, written into exports."""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict
from pathlib import Path

import numpy as np

from napari_aignostics.platform.results_layout import (
    MANIFEST_NAME,
    ManifestItem,
    RunManifest,
    read_manifest,
)
from napari_aignostics.results.export import export_csv, export_geojson
from napari_aignostics.results.provenance import Provenance, provenance_of
from napari_aignostics.results.result_set import load_results


def _run_folder(test_data: Path, tmp_path: Path, platform: str) -> Path:
    run = tmp_path / "run-1"
    item = run / "slide-a"
    item.mkdir(parents=True)
    source = test_data / "annotations" / "cellseg_gsontools" / "x-41000_y-87000_cells.json"
    shutil.copy(source, item / "cell_classification_geojson_polygons.json")
    manifest = RunManifest(
        run_id="run-1", application_id="local-tme", version_number="1.2.0", state="TERMINATED",
        items=[ManifestItem("slide-a.svs", "slide-a", "TERMINATED", "SUCCEEDED", None, [],
                            item_id="item-9")],
        submitted_at="2026-12-01T10:00:00+00:00", terminated_at="2026-12-01T10:05:00+00:00",
        platform=platform,
    )
    (run / MANIFEST_NAME).write_text(json.dumps(asdict(manifest)))
    return item


def test_provenance_travels_from_manifest_to_layers_and_exports(
    test_data: Path, tmp_path: Path
) -> None:
    item = _run_folder(test_data, tmp_path, "http://127.0.0.1:8765")
    assert read_manifest(item.parent / MANIFEST_NAME).items[0].item_id == "item-9"
    origin = provenance_of(item)
    assert origin == Provenance("local-tme", "1.2.0", "run-1", "item-9", "slide-a.svs",
                                "2026-12-01T10:00:00+00:00", "2026-12-01T10:05:00+00:00",
                                "http://127.0.0.1:8765")
    assert origin.platform_label == "local platform"
    assert dict(origin.lines())["Application"] == "local-tme 1.2.0"
    assert "/" not in dict(origin.lines())["Slide"]  # the file name, never a machine path
    result = load_results(item, 0.5, (3000, 3000))
    assert result.provenance == origin and result.cells is not None
    for _data, kwargs, _kind in result.layer_data():
        assert kwargs["metadata"]["provenance"]["run_id"] == "run-1"
    mask = np.ones(len(result.cells), dtype=bool)
    geo = export_geojson(result.cells, tmp_path / "c.geojson", mask, provenance=origin.as_dict())
    saved = json.loads(geo.read_text())
    assert saved["provenance"]["item_id"] == "item-9" and len(saved["features"]) == len(mask)
    table = export_csv(result.cells, tmp_path / "c.csv", mask, provenance=origin.as_dict())
    lines = table.read_text().splitlines()
    assert "# application: local-tme" in lines and "# platform: local platform" in lines
    assert lines[len(origin.as_dict())].startswith("id,class")


def test_cloud_platform_and_missing_manifest(test_data: Path, tmp_path: Path) -> None:
    item = _run_folder(test_data, tmp_path, "https://platform.example.org")
    assert provenance_of(item).platform_label == "https://platform.example.org"
    (item.parent / MANIFEST_NAME).unlink()
    assert provenance_of(item) == Provenance() and Provenance().platform_label == "unknown"
