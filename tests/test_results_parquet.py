"""Cell Parquet: the vectorised WKB and GeoArrow decoders give exactly what shapely reads."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import shapely

from napari_aignostics.results.geoarrow import UnsupportedWkb, geoarrow_polygons, wkb_polygons
from napari_aignostics.results.parquet import iter_cells_parquet, read_cells_parquet


def _geometries(seed: int, n: int = 300) -> np.ndarray:
    """Polygons (some with holes), MultiPolygons, empties and None, in random order."""
    rng = np.random.default_rng(seed)
    out: list[shapely.Geometry | None] = []
    for _ in range(n):
        cx, cy = rng.uniform(0, 5000, 2)
        k = int(rng.integers(3, 41))
        t = np.linspace(0, 2 * np.pi, k, endpoint=False)
        shell = np.column_stack([cx + 8 * np.cos(t), cy + 8 * np.sin(t)])
        kind = rng.random()
        if kind < 0.15:
            out.append(shapely.Polygon(shell, [np.column_stack([cx + np.cos(t), cy + np.sin(t)])]))
        elif kind < 0.3:
            out.append(shapely.MultiPolygon([shapely.Polygon(shell),
                                             shapely.Polygon(shell + 40)]))
        elif kind < 0.33:
            out.append(None)
        elif kind < 0.35:
            out.append(shapely.Polygon())
        else:
            out.append(shapely.Polygon(shell))
    return np.asarray(out, dtype=object)


def _expected(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """What shapely makes of the column: polygon parts and their rows, empties dropped."""
    present = np.flatnonzero([g is not None and not g.is_empty for g in geoms])
    parts, rows = shapely.get_parts(geoms[present], return_index=True)
    keep = ~shapely.is_empty(parts)
    return parts[keep], present[rows[keep]]


@pytest.mark.parametrize("seed", range(6))
def test_wkb_decoder_matches_shapely(seed: int) -> None:
    geoms = _geometries(seed)
    if seed >= 4:  # one ring per row (the usual cells): the fast cut
        geoms = np.asarray([None if g is None or g.is_empty else shapely.Polygon(
            shapely.get_parts(g)[0].exterior) for g in geoms], dtype=object)
    column = pa.array(list(shapely.to_wkb(geoms)), type=pa.binary())
    if seed % 2:
        column = pa.array(column.to_pylist(), type=pa.large_binary()).slice(7)
        geoms = geoms[7:]
    polygons, rows = wkb_polygons(column)
    parts, expected_rows = _expected(geoms)
    np.testing.assert_array_equal(rows, expected_rows)
    assert shapely.equals_exact(polygons.to_shapely(), parts, tolerance=0).all()


def _geoarrow(geoms: np.ndarray, multi: bool, interleaved: bool) -> pa.Array:
    """The GeoArrow column of ``geoms`` (MultiPolygons, or Polygons when none is multi)."""
    empty = shapely.MultiPolygon() if multi else shapely.Polygon()
    kind, coords, offsets = shapely.to_ragged_array([empty if g is None else g for g in geoms])
    assert kind == (shapely.GeometryType.MULTIPOLYGON if multi else shapely.GeometryType.POLYGON)
    level: pa.Array = (
        pa.FixedSizeListArray.from_arrays(pa.array(coords.ravel()), 2) if interleaved
        else pa.StructArray.from_arrays([pa.array(coords[:, 0]), pa.array(coords[:, 1])],
                                        names=["x", "y"]))
    for k, offset in enumerate(offsets):
        mask = pa.array([g is None for g in geoms]) if k == len(offsets) - 1 else None
        level = pa.ListArray.from_arrays(pa.array(offset, pa.int32()), level, mask=mask)
    return level


@pytest.mark.parametrize("multi", [False, True])
@pytest.mark.parametrize("interleaved", [False, True])
def test_geoarrow_decoder_matches_shapely(multi: bool, interleaved: bool) -> None:
    geoms = _geometries(1)
    if multi:
        geoms = np.asarray([g if g is None else shapely.MultiPolygon(shapely.get_parts(g))
                            for g in geoms], dtype=object)
    else:
        geoms = np.asarray([g if g is None else shapely.get_parts(g)[0] if len(
            shapely.get_parts(g)) else g for g in geoms], dtype=object)
    polygons, rows = geoarrow_polygons(_geoarrow(geoms, multi, interleaved).slice(5))
    parts, expected_rows = _expected(geoms[5:])
    np.testing.assert_array_equal(rows, expected_rows)
    assert shapely.equals_exact(polygons.to_shapely(), parts, tolerance=0).all()


def test_geoparquet_native_geoarrow_file(tmp_path: Path) -> None:
    geoms = _geometries(2, 252)
    path = tmp_path / "cells.parquet"
    _write(path, _geoarrow(geoms, True, False), len(geoms), geo=True, name="geom")
    table = read_cells_parquet(path, batch=50)
    parts, rows = _expected(geoms)
    assert shapely.equals_exact(table.geometry.to_shapely(), parts, tolerance=0).all()
    np.testing.assert_array_equal(table.measurements["area_um2"], rows.astype(np.float32))


@pytest.mark.parametrize("bad", ["big-endian", "z", "point", "truncated", "trailing"])
def test_wkb_decoder_refuses_what_it_does_not_cover(bad: str) -> None:
    square = shapely.box(0, 0, 4, 4)
    blob = {
        "big-endian": shapely.to_wkb(square, byte_order=0),
        "z": shapely.to_wkb(shapely.force_3d(square)),
        "point": shapely.to_wkb(shapely.Point(1, 2)),
        "truncated": shapely.to_wkb(square)[:-8],
        "trailing": shapely.to_wkb(square) + b"\0\0\0\0",
    }[bad]
    with pytest.raises(UnsupportedWkb):
        wkb_polygons(pa.array([shapely.to_wkb(square), blob]))


def _write(path: Path, geometry: pa.Array, n: int, geo: bool = False, name: str = "geometry",
           ids: pa.Array | None = None) -> None:
    classes = ["tumor", "stroma", None, "tumor"] * (n // 4) + ["immune"] * (n % 4)
    table = pa.table({
        "id": ids if ids is not None else pa.array([f"c{i}" for i in range(n)]),
        name: geometry,
        "class_name": pa.array(classes, pa.string()),
        "class_color": pa.array(["#ff0000", "#00ff00", None, "#0000ff"] * (n // 4)
                                + ["#123456"] * (n % 4)),
        "confidence": pa.array(np.linspace(0, 1, n), pa.float64()),
        "area_um2": pa.array(np.arange(n), pa.int32()),
    })
    if geo:
        table = table.replace_schema_metadata({"geo": json.dumps(
            {"version": "1.1.0", "primary_column": name,
             "columns": {name: {"encoding": "WKB", "geometry_types": ["Polygon"]}}})})
    pq.write_table(table, path, compression="zstd")


def test_parquet_table_from_wkb_big_endian_and_geoparquet(tmp_path: Path) -> None:
    geoms = _geometries(3, 252)
    expected, rows = _expected(geoms)
    for variant in ("wkb", "big-endian", "geoparquet"):
        path = tmp_path / f"{variant}.parquet"
        blobs = shapely.to_wkb(geoms, byte_order=0 if variant == "big-endian" else 1)
        _write(path, pa.array(list(blobs), pa.binary()), len(geoms), geo=variant == "geoparquet",
               name="geom" if variant == "geoparquet" else "geometry",
               ids=pa.array(np.arange(len(geoms))) if variant == "wkb" else None)
        table = read_cells_parquet(path, scale=0.5, batch=64)
        assert len(table) == len(expected)
        assert shapely.equals_exact(
            table.geometry.to_shapely(), shapely.transform(expected, lambda c: c * 0.5),
            tolerance=1e-9).all()
        assert list(table.colors) == ["tumor", "stroma", "Unclassified", "immune"][: len(
            table.colors)]
        assert table.colors["tumor"] == (255, 0, 0) and table.colors["stroma"] == (0, 255, 0)
        names = np.asarray((["tumor", "stroma", "Unclassified", "tumor"] * 63)[: len(geoms)],
                           dtype=object)
        np.testing.assert_array_equal(table.classes, names[rows])
        lookup = {name: i + 1 for i, name in enumerate(table.colors)}
        np.testing.assert_array_equal(table.class_index(),
                                      [lookup[c] for c in table.classes])
        assert table.ids[0] == ("0" if variant == "wkb" else "c0") or rows[0] != 0
        assert table.confidence is not None
        np.testing.assert_allclose(table.confidence, np.linspace(0, 1, len(geoms))[rows],
                                   rtol=1e-6)
        np.testing.assert_array_equal(table.measurements["area_um2"], rows.astype(np.float32))


def test_parquet_without_geometry_says_what_is_missing(tmp_path: Path) -> None:
    path = tmp_path / "cells.parquet"
    pq.write_table(pa.table({"id": ["a"], "shape": [b"x"]}), path)
    with pytest.raises(ValueError, match="cells.parquet: no 'geometry' column"):
        read_cells_parquet(path)


@pytest.mark.parametrize("encoding", ["geoarrow-multi", "wkb"])
def test_batches_give_the_centroids_and_boxes_of_the_whole_table(
    tmp_path: Path, encoding: str
) -> None:
    """Centroids and boxes are computed batch by batch as the cells land: every table on the
    way, and the whole one, has exactly what its polygons give when computed at once."""
    geoms = _geometries(4, 403)
    path = tmp_path / "cells.parquet"
    column = (_geoarrow(np.asarray([g if g is None else shapely.MultiPolygon(
        shapely.get_parts(g)) for g in geoms], dtype=object), True, False)
        if encoding == "geoarrow-multi" else pa.array(list(shapely.to_wkb(geoms)), pa.binary()))
    _write(path, column, len(geoms))
    parts, rows = _expected(geoms)
    steps = list(iter_cells_parquet(path, scale=0.25, batch=37, partial=True))
    assert [done for _, done in steps] == sorted(done for _, done in steps)
    assert len(steps) > 3 and steps[-1][1] == 1.0
    for table, _done in steps:
        assert table._centroids is not None and table._boxes is not None
        np.testing.assert_array_equal(table._centroids, table.geometry.centroids())
        np.testing.assert_array_equal(table._boxes, table.geometry.bounds())
        assert len(table.ids) == len(table.classes) == len(table) == len(table.confidence)
    whole = steps[-1][0]
    assert len(whole) == len(parts)
    expected = shapely.transform(parts, lambda c: c * 0.25)
    exteriors = shapely.polygons(shapely.get_exterior_ring(expected))  # what centroids are of
    np.testing.assert_allclose(whole.centroids, shapely.get_coordinates(
        shapely.centroid(exteriors)), rtol=0, atol=1e-9)
    np.testing.assert_allclose(whole.boxes, shapely.bounds(expected), rtol=0, atol=1e-12)
    np.testing.assert_array_equal(whole.ids, np.asarray([f"c{i}" for i in rows], dtype=object))
    np.testing.assert_array_equal(whole.measurements["area_um2"], rows.astype(np.float32))
