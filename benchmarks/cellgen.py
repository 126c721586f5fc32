"""A second, independent cell generator: the same cells as GeoJSON, Parquet (WKB) and GeoParquet.

Unlike ``bench_results.make_geojson`` (12-gon cells, 4 classes, one compact style), cells here are
near-octagonal blobs with 6-40 vertices, 6 classes, a measurements dict or a QuPath list, ids as
int or string, extra properties, and the GeoJSON in a chosen style: compact or pretty-printed,
feature keys in another order, ``features`` before or after ``type``. The Parquet twin holds WKB
polygons (zstd, as the applications write it); the GeoParquet twin native GeoArrow polygons.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import shapely

CLASSES = {"tumor": "#dc3232", "stroma": "#3cab50", "lymphocyte": "#285ae6",
           "macrophage": "#e6aa1e", "necrosis": "#8c8c8c", "other": "#b450c8"}
MEASURES = ("area_um2", "perimeter_um", "eosin_mean", "hematoxylin_mean")


@dataclass(frozen=True)
class Style:
    """How one tool writes its GeoJSON."""

    pretty: bool = False
    features_first: bool = False
    geometry_last: bool = False
    int_ids: bool = False
    qupath_list: bool = False
    vertices: tuple[int, int] = (6, 40)


STYLES = {
    "compact": Style(),
    "pretty-reordered": Style(pretty=True, features_first=True, geometry_last=True,
                              int_ids=True, qupath_list=True),
}


@dataclass
class Cells:
    """N cells as flat arrays."""

    coords: np.ndarray
    offsets: np.ndarray
    classes: np.ndarray
    confidence: np.ndarray
    measures: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.offsets) - 1


def make_cells(n: int, seed: int = 1, vertices: tuple[int, int] = (6, 40)) -> Cells:
    """N closed rings over a 100000 x 80000 slide, vectorised."""
    rng = np.random.default_rng(seed)
    centers = rng.uniform([200, 200], [99800, 79800], size=(n, 2))
    k = rng.integers(vertices[0], vertices[1] + 1, size=n)
    counts = k + 1  # closed
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    owner = np.repeat(np.arange(n), counts)
    step = np.arange(offsets[-1]) - np.repeat(offsets[:-1], counts)
    step[offsets[1:] - 1] = 0  # close each ring on its first vertex
    angle = 2 * np.pi * step / k[owner]
    radius = rng.uniform(3, 8, size=n)[owner] * (1 + 0.08 * np.cos(8 * angle))
    coords = np.column_stack([centers[owner, 0] + radius * np.cos(angle),
                              centers[owner, 1] + radius * np.sin(angle)]).round(2)
    names = np.asarray(list(CLASSES), dtype=object)
    measures = {name: rng.uniform(1, 100, n).astype(np.float32).round(3) for name in MEASURES}
    return Cells(coords, offsets, names[rng.integers(0, len(names), n)],
                 rng.uniform(0.3, 1.0, n).astype(np.float32).round(3), measures)


def write_geojson(cells: Cells, path: Path, style: Style) -> None:
    """The cells as a GeoJSON FeatureCollection in ``style``."""
    features = []
    rings = np.split(cells.coords, cells.offsets[1:-1])
    for i, ring in enumerate(rings):
        name = cells.classes[i]
        values = {m: float(cells.measures[m][i]) for m in MEASURES}
        measurements: object = ([{"name": k, "value": v} for k, v in values.items()]
                                if style.qupath_list else values)
        properties = {"objectType": "detection", "isLocked": False,
                      "classification": {"name": name, "color": _rgb(CLASSES[name])},
                      "measurements": measurements, "confidence": float(cells.confidence[i])}
        geometry = {"type": "Polygon", "coordinates": [ring.tolist()]}
        feature: dict[str, object] = {"type": "Feature", "id": i if style.int_ids else f"cell-{i}"}
        if style.geometry_last:
            feature.update(properties=properties, geometry=geometry)
        else:
            feature.update(geometry=geometry, properties=properties)
        features.append(feature)
    document = ({"features": features, "type": "FeatureCollection"} if style.features_first
                else {"type": "FeatureCollection", "features": features})
    path.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2 if style.pretty else 0))


def _rgb(color: str) -> list[int]:
    return [int(color[i : i + 2], 16) for i in (1, 3, 5)]


def _columns(cells: Cells, first_id: int) -> dict[str, pa.Array]:
    return {"id": pa.array([f"cell-{first_id + i}" for i in range(len(cells))]),
            "class_name": pa.array(cells.classes.tolist()),
            "class_color": pa.array([CLASSES[c] for c in cells.classes]),
            "confidence": pa.array(cells.confidence),
            **{name: pa.array(values) for name, values in cells.measures.items()}}


def parquet_table(cells: Cells, first_id: int = 0) -> pa.Table:
    """WKB polygons and columns (the applications' layout)."""
    polygons = shapely.from_ragged_array(shapely.GeometryType.POLYGON, cells.coords,
                                         (cells.offsets, np.arange(len(cells) + 1)))
    return pa.table({"geometry": pa.array(shapely.to_wkb(polygons), pa.binary()),
                     **_columns(cells, first_id)})


def geoparquet_table(cells: Cells, first_id: int = 0) -> pa.Table:
    """GeoParquet 1.1 with native GeoArrow ``polygon`` encoding (separated x, y)."""
    points = pa.StructArray.from_arrays([pa.array(cells.coords[:, 0]),
                                         pa.array(cells.coords[:, 1])], names=["x", "y"])
    rings = pa.ListArray.from_arrays(pa.array(cells.offsets, pa.int32()), points)
    polygons = pa.ListArray.from_arrays(pa.array(np.arange(len(cells) + 1), pa.int32()), rings)
    geo = {"version": "1.1.0", "primary_column": "geometry",
           "columns": {"geometry": {"encoding": "polygon", "geometry_types": ["Polygon"]}}}
    return pa.table({"geometry": polygons, **_columns(cells, first_id)}).replace_schema_metadata(
        {"geo": json.dumps(geo)})


def write_parquet_twins(n: int, parquet: Path, geoparquet: Path, chunk: int = 1_000_000) -> None:
    """N octagon-like cells as Parquet (WKB) and GeoParquet (GeoArrow), zstd, made a million at a
    time (10M cells never sit in memory at once)."""
    writers: list[pq.ParquetWriter] = []
    for first in range(0, n, chunk):
        cells = make_cells(min(chunk, n - first), seed=1 + first // chunk, vertices=(8, 8))
        for k, (make, path) in enumerate(((parquet_table, parquet),
                                          (geoparquet_table, geoparquet))):
            table = make(cells, first)
            if len(writers) <= k:
                writers.append(pq.ParquetWriter(path, table.schema, compression="zstd"))
            writers[k].write_table(table)
    for writer in writers:
        writer.close()
