"""Damaged or hostile result files: a clear error naming the file (or a reported repair), no crash."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import tifffile

from napari_aignostics.results.result_set import find_item_folders, load_results
from napari_aignostics.results.results_reader import get_reader, read_results


def _feature(ring: list[list[float | None]]) -> dict[str, object]:
    return {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]},
            "properties": {"classification": {"name": "Tumor"}}}


def test_deeply_nested_json_is_refused_by_name(tmp_path: Path) -> None:
    nested = tmp_path / "cells.geojson"
    nested.write_text('{"type":"FeatureCollection","features":' + "[" * 100_000)
    result = load_results(nested)
    assert result.cells is None and not result.regions
    assert result.problems == [f"{nested.name}: not a result file: its JSON arrays or objects"
                               " are nested too deeply to read"]
    reader = get_reader(str(nested))
    assert reader is not None  # sniffed as GeoJSON from its head; loading says what is wrong
    with pytest.raises(ValueError, match="cells.geojson: .*nested too deeply"):
        read_results(str(nested))


def test_truncated_manifest_names_the_file(tmp_path: Path) -> None:
    item = tmp_path / "run" / "item"
    item.mkdir(parents=True)
    (item / "tissue_qc_geojson_polygons.json").write_text('{"type":"FeatureCollection","features":[]}')
    manifest = tmp_path / "run" / "manifest.json"
    manifest.write_text('{"items": [{"folder": "item", "external_id": "a.svs", "artif')
    with pytest.raises(ValueError, match=r"manifest\.json: the run manifest is damaged .*again"):
        find_item_folders(tmp_path / "run")
    manifest.write_text("[" * 100_000)
    with pytest.raises(ValueError, match="nested too deeply"):
        find_item_folders(tmp_path / "run")


def test_tile_csv_spanning_1e8_pixels_is_refused_not_allocated(tmp_path: Path) -> None:
    tiles = tmp_path / "tiles.csv"
    tiles.write_text("minx,miny,width,height,prob_tumor\n0,0,256,256,0.5\n"
                     "25600000000,25600000000,256,256,0.7\n")
    result = load_results(tiles)
    assert not result.heatmaps
    assert len(result.problems) == 1 and result.problems[0].startswith("tiles.csv: the tiles span")
    assert "coordinates look wrong" in result.problems[0]
    nan = tmp_path / "nan_tiles.csv"
    nan.write_text("minx,miny,width,height,prob_tumor\nnan,0,256,256,0.5\n")
    assert "finite" in load_results(nan).problems[0]


@pytest.mark.parametrize(("values", "dtype"), [
    ([[0, 1], [70_000, 2]], np.uint32), ([[0, 1], [-3, 2]], np.int32), ([[0, 0.5], [1, 2]], np.float32),
])
def test_segmentation_map_out_of_range_is_not_wrapped(
    tmp_path: Path, values: list[list[float]], dtype: type
) -> None:
    path = tmp_path / "tissue_segmentation_map_image.tiff"
    tifffile.imwrite(path, np.array(values, dtype=dtype))
    result = load_results(path)
    assert not result.maps
    assert result.problems and result.problems[0].startswith(path.name)
    assert "class indices" in result.problems[0]


def test_segmentation_map_in_range_keeps_its_classes(tmp_path: Path) -> None:
    path = tmp_path / "tissue_segmentation_map_image.tiff"
    tifffile.imwrite(path, np.array([[0, 1], [65535, 2]], dtype=np.int32))
    (name, classes), = load_results(path).maps
    assert classes.labels.dtype == np.uint16 and int(classes.labels.max()) == 65535


@pytest.mark.slow
def test_geojson_with_nan_or_null_coordinates_is_read_by_both_and_repair_reported(
    tmp_path: Path,
) -> None:
    path = tmp_path / "regions.geojson"
    document = {"type": "FeatureCollection", "features": [
        _feature([[0, 0], [10, 0], [10, 10], [0, 0]]),
        _feature([[0, 0], [float("nan"), 0], [10, 10], [0, 0]]),
        _feature([[0, 0], [None, 0], [10, 10], [0, 0]]),
    ]}
    path.write_text(json.dumps(document))  # NaN is written as the bare token NaN
    assert get_reader(str(path)) is not None
    result = load_results(path)
    assert [len(table) for _, table in result.regions] == [1]
    assert result.problems == ["regions.geojson: 2 objects without a usable polygon were skipped"]
    layers = read_results(str(path))
    assert len(layers) == 1 and layers[0][2] == "shapes"


def test_sniffer_declines_unreadable_files_instead_of_raising(tmp_path: Path) -> None:
    binary = tmp_path / "tiles.csv"
    binary.write_bytes(b"\xff\xfe\x00\x81" * 100)
    assert get_reader(str(binary)) is None
    assert load_results(binary).problems[0].startswith("tiles.csv: ")
