"""The columnar GeoJSON reader must give exactly what the tolerant row reader gives."""

from __future__ import annotations

import json
import random
from typing import Any

import numpy as np
import pytest
import shapely

from napari_aignostics.results.featurecols import assemble
from napari_aignostics.results.geojson import read_geojson
from napari_aignostics.results.geojson_arrow import Unsupported, arrow_batches
from napari_aignostics.results.geojson_rows import row_batches
from napari_aignostics.results.geometry import Polygons
from napari_aignostics.results.spatial import GridIndex
from napari_aignostics.results.tables import ObjectTable


def _ring(rng: random.Random, cx: float, cy: float, r: float, closed: bool) -> list[list[float]]:
    n = rng.randint(3, 9)
    ring = [[round(cx + r * np.cos(2 * np.pi * k / n), 2), round(cy + r * np.sin(2 * np.pi * k / n), 2)]
            for k in range(n)]
    return ring + [ring[0]] if closed else ring


def _document(seed: int) -> tuple[Any, dict[str, Any]]:
    """A random document in one consistent style (as one tool would write it)."""
    rng = random.Random(seed)
    style = {
        "multi": rng.random() < 0.3,
        "measurements": rng.choice(["dict", "list", "none"]),
        "color": rng.choice(["list", "packed", "none"]),
        "class": rng.choice(["qupath", "string", "class_name"]),
        "ids": rng.choice(["str", "int", "none", "props"]),
        "bare": rng.random() < 0.2,
        "indent": rng.choice([None, None, 1]),
        "closed": rng.random() < 0.7,
    }
    features = []
    for i in range(rng.randint(0, 60)):
        cx, cy = rng.uniform(-50, 1050), rng.uniform(-50, 850)
        polygon = [_ring(rng, cx, cy, rng.uniform(3, 9), style["closed"])]
        if rng.random() < 0.2:
            polygon.append(_ring(rng, cx, cy, 1.0, style["closed"]))
        if rng.random() < 0.05:
            polygon = [polygon[0][:2]]  # too few vertices
        geometry: Any = (
            {"type": "MultiPolygon", "coordinates": [polygon] * rng.randint(1, 2)}
            if style["multi"] else {"type": "Polygon", "coordinates": polygon}
        )
        if rng.random() < 0.05:
            geometry = None
        name = rng.choice(["Tumor", "Stroma", "Immune cells", ""])
        props: dict[str, Any] = {"objectType": "detection"}
        color = [rng.randint(0, 255) for _ in range(3)]
        if style["class"] == "qupath":
            cls: dict[str, Any] = {"name": name}
            if style["color"] == "list":
                cls["color"] = color
            elif style["color"] == "packed":
                cls["color"] = (255 << 24) | (color[0] << 16) | (color[1] << 8) | color[2]
            props["classification"] = cls
        elif style["class"] == "string":
            props["classification"] = name or "Other"
        else:
            props["class_name"] = name or "Other"
        values = {"area": round(rng.uniform(10, 90), 3), "confidence": round(rng.random(), 3)}
        if rng.random() < 0.2:
            values.pop("area")
        if style["measurements"] == "dict":
            props["measurements"] = values
        elif style["measurements"] == "list":
            props["measurements"] = [{"name": k, "value": v} for k, v in values.items()]
        feature: dict[str, Any] = {"type": "Feature", "geometry": geometry, "properties": props}
        object_id = rng.choice([i, i, i, 0]) if rng.random() < 0.9 else None  # some duplicates
        if style["ids"] == "str" and object_id is not None:
            feature["id"] = f"cell-{object_id}"
        elif style["ids"] == "int" and object_id is not None:
            feature["id"] = object_id + 1
        elif style["ids"] == "props" and object_id is not None:
            props["object_id"] = f"o{object_id}"
        features.append(feature)
    doc: Any = features if style["bare"] else {"type": "FeatureCollection", "features": features}
    return doc, style


def _same(a: ObjectTable, b: ObjectTable) -> None:
    assert len(a) == len(b)
    assert np.array_equal(a.geometry.coords, b.geometry.coords)
    assert np.array_equal(a.geometry.ring_offsets, b.geometry.ring_offsets)
    assert np.array_equal(a.geometry.geom_offsets, b.geometry.geom_offsets)
    assert list(a.classes) == list(b.classes)
    assert list(a.ids) == list(b.ids)
    assert a.colors == b.colors
    assert a.problems == b.problems
    assert sorted(a.measurements) == sorted(b.measurements)
    for key in a.measurements:
        assert np.array_equal(a.measurements[key], b.measurements[key], equal_nan=True)
    assert (a.confidence is None) == (b.confidence is None)
    if a.confidence is not None:
        assert np.array_equal(a.confidence, b.confidence, equal_nan=True)


@pytest.mark.parametrize("seed", range(40))
def test_columnar_reader_equals_row_reader(seed: int) -> None:
    doc, style = _document(seed)
    raw = json.dumps(doc, indent=style["indent"]).encode()
    buf = bytearray(raw)
    columnar = assemble(list(arrow_batches(buf)), scale=0.5, slide_size=(500, 400))
    assert bytes(buf) == raw  # the commas turned into newlines are put back
    rows = assemble(row_batches(raw), scale=0.5, slide_size=(500, 400))
    _same(columnar, rows)


def test_layouts_the_columnar_reader_leaves_to_the_row_reader() -> None:
    mixed = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [4, 0], [4, 4]]]},
         "properties": {"classification": {"name": "A"}}},
        {"type": "Feature", "geometry": {"type": "MultiPolygon",
                                         "coordinates": [[[[9, 9], [12, 9], [12, 12]]]]},
         "properties": {"classification": {"name": "B"}}},
    ], "crs": None}
    raw = json.dumps(mixed).encode()
    buf = bytearray(raw)
    with pytest.raises(Unsupported):  # "features" is not the last member
        list(arrow_batches(buf))
    assert bytes(buf) == raw
    table = read_geojson(raw)
    assert list(table.classes) == ["A", "B"] and table.bounds() == (0.0, 0.0, 12.0, 12.0)


def test_polygons_match_shapely() -> None:
    rng = np.random.default_rng(3)
    shapes = []
    for k in range(300):
        cx, cy = rng.uniform(0, 5e4, 2)
        r = rng.uniform(3, 30)
        angles = np.sort(rng.uniform(0, 2 * np.pi, rng.integers(3, 12)))
        outer = np.column_stack([cx + r * np.cos(angles), cy + r * np.sin(angles)])
        holes = [shapely.box(cx - r / 4, cy - r / 4, cx + r / 4, cy + r / 4).exterior.coords] if k % 5 == 0 else []
        shapes.append(shapely.Polygon(outer, holes) if shapely.Polygon(outer).contains(
            shapely.Polygon(holes[0]) if holes else shapely.Point(cx, cy)) else shapely.Polygon(outer))
    geoms = np.asarray(shapes, dtype=object)
    polygons = Polygons.from_shapely(geoms)
    assert np.allclose(polygons.areas(), shapely.area(geoms))
    assert np.allclose(polygons.bounds(), shapely.bounds(geoms))
    exteriors = shapely.polygons(shapely.get_exterior_ring(geoms))
    centroids = shapely.centroid(exteriors)
    assert np.allclose(polygons.centroids(), np.column_stack([shapely.get_x(centroids), shapely.get_y(centroids)]))
    picked = np.array([7, 0, 299, 5, 5])
    assert all(shapely.equals(polygons.to_shapely(picked), geoms[picked]))
    halves = Polygons.concat([polygons.take(picked[:2]), polygons.take(picked[2:])])
    assert all(shapely.equals(halves.to_shapely(), geoms[picked]))


def test_grid_index_answers_like_an_strtree() -> None:
    rng = np.random.default_rng(5)
    centers = rng.uniform(0, 2e4, (20_000, 2))
    half = rng.uniform(1, 12, (20_000, 2))
    boxes = np.column_stack([centers - half, centers + half])
    boxes[:4, 2:] += 3000  # a few big regions among the cells
    index = GridIndex(boxes)
    tree = shapely.STRtree(shapely.box(*boxes.T))
    for _ in range(100):
        x, y = rng.uniform(-500, 2e4, 2)
        w, h = rng.uniform(0, 4000, 2)
        expected = np.sort(tree.query(shapely.box(x, y, x + w, y + h)))
        assert np.array_equal(index.query((x, y, x + w, y + h)), expected)
    assert len(GridIndex(np.zeros((0, 4))).query((0, 0, 10, 10))) == 0


@pytest.mark.parametrize("extent", [2e4, 2e9])  # keys of 2e9 are too large to pack
def test_grid_index_sorts_its_cells_stably(extent: float) -> None:
    """The packed sort (and the argsort it falls back to for keys too large to pack) gives the
    grid cells in order and, within a cell, the boxes in their own order."""
    rng = np.random.default_rng(6)
    corners = rng.uniform(0, extent, (5_000, 2)).round(-1)
    corners[1000:1500] = corners[:500]  # boxes sharing a cell
    boxes = np.column_stack([corners, corners + 5])
    index = GridIndex(boxes)
    cells = np.floor((corners - corners.min(axis=0)) / index.cell).astype(np.int64)
    keys = cells[:, 1] * index.columns + cells[:, 0]
    np.testing.assert_array_equal(index.order, np.argsort(keys, kind="stable"))
    np.testing.assert_array_equal(index.keys, np.sort(keys))


def test_reader_sniffs_big_json_without_parsing_it(tmp_path: Any) -> None:
    from napari_aignostics.results.results_reader import get_reader

    features = [{"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [
        [[i, 0], [i + 1, 0], [i + 1, 1], [i, 0]]]}, "properties": {}} for i in range(3000)]
    cells = tmp_path / "cells.geojson"
    cells.write_bytes(json.dumps({"features": features, "type": "FeatureCollection"}).encode())
    numbers = tmp_path / "numbers.json"
    numbers.write_bytes(json.dumps({"values": list(range(30000))}).encode())
    small = tmp_path / "small.json"
    small.write_bytes(json.dumps({"type": "Feature", "note": "no geometry"}).encode())
    other = tmp_path / "other.json"
    other.write_bytes(b'{"type": "Topology"}')
    assert cells.stat().st_size > 64 * 1024 and numbers.stat().st_size > 64 * 1024
    assert get_reader(str(cells)) is not None
    assert get_reader(str(numbers)) is None
    assert get_reader(str(small)) is not None  # small files are parsed: a Feature is GeoJSON
    assert get_reader(str(other)) is None
