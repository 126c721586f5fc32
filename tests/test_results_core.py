"""Results → layer data on real outputs (Qt-free): cells, regions, maps, heatmaps, review, export."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from napari_aignostics.apps.base import AnalysisContext
from napari_aignostics.apps.builtin import LOCAL_TME
from napari_aignostics.results.coords import to_data
from napari_aignostics.results.export import export_csv, export_geojson
from napari_aignostics.results.geojson import read_geojson
from napari_aignostics.results.heatmap import read_tile_csv
from napari_aignostics.results.raster import render_chunk
from napari_aignostics.results.result_layers import (
    CELLS_KEY,
    class_map_layer,
    heatmap_layer,
    is_overview,
)
from napari_aignostics.results.result_set import load_results
from napari_aignostics.results.segmap import ClassMap, read_type_info

CMU_MPP = 0.499


@pytest.fixture(scope="module")
def cellseg(test_data: Path) -> Path:
    return test_data / "annotations" / "cellseg_gsontools"


def test_real_cell_tiles_parse_with_their_quirks(cellseg: Path) -> None:
    tables = [read_geojson(p) for p in sorted(cellseg.glob("*_cells.json"))]
    assert [len(t) for t in tables] == [299, 367, 417, 279]
    assert sum(len(t) for t in tables) == 1362
    first = tables[0]
    assert len(set(first.ids)) == len(first)  # the file repeats one id for every feature
    assert any("duplicate ids" in p for p in first.problems)
    assert set(first.colors) <= {"inflammatory", "connective", "glandular_epithel",
                                 "squamous_epithel", "neoplastic", "dead"}
    assert all(len(c) == 3 for c in first.colors.values())  # palette colours for missing ones
    x0, y0, x1, y1 = first.bounds()
    assert x0 >= 41000 and x1 <= 42000 and y0 >= 87000 and y1 <= 88000
    areas = [read_geojson(p) for p in sorted(cellseg.glob("*_areas.json"))]
    assert sum(len(t) for t in areas) == 6


def test_objects_outside_the_slide_are_reported(cellseg: Path) -> None:
    table = read_geojson(cellseg / "x-41000_y-87000_cells.json", slide_size=(2220, 2967))
    assert len(table) == 0 and any("outside the slide" in p for p in table.problems)
    moved = read_geojson(cellseg / "x-41000_y-87000_cells.json", offset=(-41000, -87000),
                         slide_size=(2220, 2967))
    assert len(moved) == 299


def test_geojson_variants() -> None:
    data = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "MultiPolygon", "coordinates": [
            [[[0, 0], [10, 0], [10, 10], [0, 0]]], [[[20, 20], [30, 20], [30, 30], [20, 20]]]]},
         "properties": {"classification": {"name": "T", "color": [1, 2, 3]},
                        "measurements": {"confidence": 0.5, "area": "7"}}},
        {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [
            [[0, 0], [float("nan"), 0], [1, 1], [0, 0]]]}, "properties": {"classification": "X"}},
        {"type": "Feature", "geometry": None, "properties": {}},
        {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [
            [[0, 0], [4, 0], [4, 4], [0, 4], [0, 0]], [[1, 1], [2, 1], [2, 2], [1, 1]]]},
         "properties": {"class": "Y", "measurements": [{"name": "confidence", "value": 0.9}]}},
    ]}
    table = read_geojson(json.dumps(data).encode(), scale=2.0)
    assert list(table.classes) == ["T", "T", "Y"]
    assert table.colors["T"] == (1, 2, 3)
    assert np.allclose(table.confidence, [0.5, 0.5, 0.9])
    assert table.measurements["area"][0] == 7
    assert table.polygon(1).bounds == (40.0, 40.0, 60.0, 60.0)
    assert len(table.polygon(2).interiors) == 1
    assert any("2 objects without a usable polygon" in p for p in table.problems)


def test_histolab_mask_lines_up_with_its_slide(test_data: Path) -> None:
    mask = np.load(test_data / "annotations/histolab_tissue_masks/"
                   "tissue-mask-cmu-1-small-region.npy")
    classes = ClassMap(mask.astype(np.uint8), {0: ("bg", (0, 0, 0)), 1: ("tissue", (0, 200, 0))},
                       None)
    data, kwargs, kind = class_map_layer("mask", classes, CMU_MPP, (2220, 2967))
    assert kind == "image" and kwargs["rgb"] and data.shape == (*mask.shape, 4)
    sy, sx = kwargs["scale"]
    ty, tx = kwargs["translate"]
    # the map's last pixel ends exactly where the slide's last pixel ends (within one map pixel)
    for size, scale, translate in ((2967, sy, ty), (2220, sx, tx)):
        n = mask.shape[0] if size == 2967 else mask.shape[1]
        map_end = translate + (n - 1) * scale + scale / 2
        slide_end = (size - 1) * CMU_MPP + CMU_MPP / 2
        assert abs(map_end - slide_end) < 1e-6
        assert abs((translate - scale / 2) - (-CMU_MPP / 2)) < 1e-6
    assert sy != sx  # not equal on both axes: per-axis scale is kept


def test_wsinfer_tiles_become_a_grid(test_data: Path) -> None:
    heatmap = read_tile_csv(test_data / "annotations/wsinfer/wsinfer_pancancer-lymphocytes_purple.csv")
    assert heatmap.grids["Lymphocytes"].shape == (20, 20) and heatmap.tile == (200.0, 200.0)
    _grid, kwargs, kind = heatmap_layer("heat", heatmap, "Other", 0.5)
    assert kind == "image" and kwargs["scale"] == (100.0, 100.0)
    assert kwargs["translate"] == (49.75, 49.75)


def test_hovernet_type_info(test_data: Path) -> None:
    classes = read_type_info(test_data / "annotations/hovernet/type_info.json")
    assert classes[1] == ("neopla", (255, 0, 0)) and classes[5][1] == (255, 165, 0)


@pytest.fixture(scope="module")
def tme_folder(cmu_slide: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("item")
    LOCAL_TME.versions[0].run(AnalysisContext(cmu_slide, {}, out))
    return out


def test_local_tme_results_load_as_layers(tme_folder: Path) -> None:
    result = load_results(tme_folder, CMU_MPP, (2220, 2967))
    assert result.cells is not None and len(result.cells) > 1000
    assert result.cells_source and result.cells_source.endswith(".parquet")
    assert {n for n, _ in result.maps} == {"tissue_qc_segmentation_map_image",
                                          "tissue_segmentation_segmentation_map_image"}
    assert result.maps[0][1].mpp == pytest.approx(7.984, abs=1e-3)
    assert {n for n, _ in result.regions} == {"tissue_qc_geojson_polygons",
                                             "tissue_segmentation_geojson_polygons"}
    assert "readout_generation_slide_readouts" in result.readouts
    layers = result.layer_data()
    kinds = [(k["name"], t) for _d, k, t in layers]
    assert [t for _n, t in kinds].count("labels") == 0  # maps and cells: RGBA class images
    maps = [d for d, k, t in layers if "tissue_map" in k["metadata"]]
    assert len(maps) == 2 and all(d.shape[-1] == 4 for d in maps)
    raster = next(d for d, k, t in layers if is_overview((d, k, t)) and k.get("multiscale"))
    assert raster[0].shape == (2967, 2220, 4) and raster[-1].shape[0] <= 1024  # RGBA
    points, kwargs = next((d, k) for d, k, t in layers if t == "points")
    assert points.shape == (0, 2)  # filled with the shown cells in view by the review panel
    assert kwargs["metadata"][CELLS_KEY]["review"]() is result.review
    xy = to_data(result.cells.centroids)
    assert (xy[:, 0] < 2967).all() and (xy[:, 1] < 2220).all()


def test_raster_chunks_hold_the_cells(tme_folder: Path) -> None:
    result = load_results(tme_folder, CMU_MPP, (2220, 2967))
    table = result.cells
    assert table is not None
    index = table.class_index()
    x, y = table.centroids[0]
    chunk = render_chunk(table, index, 1.0, int(y) - 50, int(x) - 50, 100, 100, fill=True)
    assert chunk[50, 50] == index[0]
    coarse = render_chunk(table, index, 8.0, 0, 0, 371, 278, fill=False)
    assert (coarse > 0).sum() > len(table) * 0.5
    empty = render_chunk(table, index, 1.0, 0, 0, 10, 10, fill=True)
    assert not empty.any()


def test_raster_levels_slice_like_arrays(tme_folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from napari_aignostics.results import raster

    monkeypatch.setattr(raster, "CHUNK", 100)  # many tiles per level
    table = load_results(tme_folder, CMU_MPP, (2220, 2967)).cells
    assert table is not None
    levels = raster.class_raster(table, (2967, 2220))
    assert [lv.shape for lv in levels[:2]] == [(2220, 2967), (1110, 1484)]
    level = levels[3]
    whole = raster.render_chunk(table, table.class_index().astype(np.uint8), 8.0, 0, 0,
                                *level.shape, fill=False)
    assert np.asarray(level).shape == whole.shape and (whole > 0).sum() > 1000
    rng = np.random.default_rng(0)
    keys: list[object] = [np.s_[:, :], np.s_[7], np.s_[-1, -3], np.s_[..., 40], np.s_[250:9:-7, ::3],
                          np.s_[[1, 50, 200], 30:90], np.s_[400:500, :], np.s_[np.int64(12), 5:150]]
    for _ in range(100):
        keys.append(tuple(slice(*(int(v) for v in rng.integers(-400, 400, 2)),
                                int(rng.choice([1, 2, -1, -3]))) for _ in range(2)))
    for key in keys:
        assert np.array_equal(level[key], whole[key]), key


def test_review_filters_counts_and_lookup(tme_folder: Path) -> None:
    result = load_results(tme_folder, CMU_MPP, (2220, 2967))
    review = result.review
    assert review is not None and review.table.confidence is not None
    totals = review.counts()
    assert sum(total for _shown, total in totals.values()) == len(review.table)
    review.set_visible("LYMPHOCYTE", False)
    assert review.counts()["LYMPHOCYTE"][0] == 0
    codes = review.raster_codes()
    lymphocytes = review.table.classes == "LYMPHOCYTE"
    assert (review.rgba_lut()[codes[lymphocytes], 3] == 0).all()
    for threshold in (0.29, 0.5, 0.73):
        review.min_confidence = threshold
        shown = review.shown()
        assert (review.table.confidence[shown] >= threshold).all()
        alpha = review.rgba_lut()[codes, 3]  # the overview shows exactly the shown cells
        assert np.array_equal(alpha > 0, shown)
    review.min_confidence = 0.5
    shown = review.shown()
    target = int(np.flatnonzero(shown)[0])
    x, y = review.table.centroids[target]
    assert review.object_at(x, y) == target
    assert review.properties(target)["class"] != "LYMPHOCYTE"
    center, zoom = review.jump_target(target, CMU_MPP)
    assert center == pytest.approx(((y - 0.5) * CMU_MPP, (x - 0.5) * CMU_MPP)) and zoom > 0
    in_view = review.in_view((x - 100, y - 100, x + 100, y + 100))
    assert target in in_view and shown[in_view].all()


def test_export_round_trip(tme_folder: Path, tmp_path: Path) -> None:
    result = load_results(tme_folder, CMU_MPP, (2220, 2967))
    review = result.review
    assert review is not None
    review.set_visible("OTHER", False)
    mask = review.shown()
    path = export_geojson(review.table, tmp_path / "cells.geojson", mask)
    back = read_geojson(path)
    assert len(back) == int(mask.sum()) and "OTHER" not in set(back.classes)
    assert back.colors["LYMPHOCYTE"] == review.table.colors["LYMPHOCYTE"]
    assert list(back.ids) == list(review.table.ids[mask])
    assert np.allclose(back.confidence, review.table.confidence[mask], atol=1e-3)
    csv_path = export_csv(review.table, tmp_path / "cells.csv", mask)
    lines = csv_path.read_text().splitlines()
    assert lines[0].startswith("id,class,confidence,centroid_x") and len(lines) == mask.sum() + 1
    assert not list(tmp_path.glob(".*tmp"))


def test_string_booleans_and_tiff_heatmaps(tmp_path: Path) -> None:
    import tifffile

    data = [{"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [
        [[0, 0], [4, 0], [4, 4], [0, 0]]]}, "properties": {
            "classification": {"name": "A"},
            "measurements": {"is_tumour": "True", "isLocked": "false", "size": 3}}}]
    table = read_geojson(json.dumps(data).encode())
    assert table.measurements["is_tumour"][0] == 1.0 and table.measurements["isLocked"][0] == 0.0
    tifffile.imwrite(tmp_path / "tumour_probability.tiff",
                     np.linspace(0, 255, 100, dtype=np.uint8).reshape(10, 10))
    result = load_results(tmp_path, CMU_MPP, (2220, 2967))
    layers = [(k["name"], t, d) for d, k, t in result.layer_data()]
    assert [(n, t) for n, t, _ in layers] == [(f"{tmp_path.name} · tumour probability", "image")]
    assert float(layers[0][2].max()) == pytest.approx(1.0)


def test_cells_on_a_small_slide_become_a_plain_rgba_layer(tme_folder: Path) -> None:
    """A slide under one raster chunk has a single overview level: a plain (not multiscale) layer."""
    from napari.components import ViewerModel

    from napari_aignostics.results.result_layers import cell_layers

    result = load_results(tme_folder, CMU_MPP, (2220, 2967))
    assert result.review is not None
    small = (900, 700)
    data, kwargs, kind = cell_layers("cells", result.review, CMU_MPP, small)[0]
    assert kind == "image" and kwargs["multiscale"] is False and kwargs["rgb"] is True
    viewer = ViewerModel()
    layer = viewer.add_image(data, **kwargs)
    assert layer.data.shape == (700, 900, 4)
    drawn = np.asarray(layer.data[:, :])
    assert drawn.dtype == np.uint8 and int(drawn[..., 3].max()) == 255  # cells drawn, opaque
