"""Cell Parquet (WKB polygons in level-0 px, class, colour, confidence, measurements)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import shapely

from .geometry import Polygons
from .tables import ObjectTable, palette_color

__all__ = ["read_cells_parquet"]

RESERVED = {"id", "geometry", "class_name", "class_color"}


def _rgb(value: str) -> tuple[int, int, int] | None:
    text = str(value).lstrip("#")
    if len(text) != 6:
        return None
    try:
        return int(text[0:2], 16), int(text[2:4], 16), int(text[4:6], 16)
    except ValueError:
        return None


def _geometry(column: Any) -> tuple[Polygons, np.ndarray]:
    """WKB polygons (MultiPolygons exploded) and the row of each part; unreadable rows dropped."""
    geometries = shapely.from_wkb(np.asarray(column.to_pylist(), dtype=object), on_invalid="ignore")
    polygonal = shapely.get_type_id(geometries)
    keep = np.flatnonzero(np.isin(polygonal, (3, 6)))  # Polygon, MultiPolygon
    parts, rows = shapely.get_parts(geometries[keep], return_index=True)
    nonempty = ~shapely.is_empty(parts)
    return Polygons.from_shapely(parts[nonempty]), keep[rows[nonempty]]


def read_cells_parquet(path: Path, *, scale: float = 1.0, batch: int = 100_000) -> ObjectTable:
    """The cell table of a ``*_parquet_polygons.parquet`` file (read a row group batch at a time)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    source = pq.ParquetFile(path)
    schema = source.schema_arrow
    columns = schema.names
    if "geometry" not in columns:
        raise ValueError(f"{path.name}: no 'geometry' column (expected WKB polygons)")
    numeric = [
        name
        for name in columns
        if name not in RESERVED | {"centroid_x", "centroid_y"}
        and (
            pa.types.is_floating(schema.field(name).type)
            or pa.types.is_integer(schema.field(name).type)
        )
    ]
    shapes: list[Polygons] = []
    classes: list[np.ndarray] = []
    ids: list[np.ndarray] = []
    values: dict[str, list[np.ndarray]] = {name: [] for name in numeric}
    colors: dict[str, tuple[int, int, int]] = {}
    start = 0
    for record in source.iter_batches(batch_size=batch):
        n = record.num_rows
        polygons, rows = _geometry(record.column("geometry"))
        shapes.append(polygons)
        names = (
            np.asarray(record.column("class_name").to_pylist(), dtype=object)
            if "class_name" in columns
            else np.full(n, "Unclassified", dtype=object)
        )
        if "class_color" in columns:
            for name, color in zip(names, record.column("class_color").to_pylist(), strict=True):
                if name not in colors and (rgb := _rgb(color)) is not None:
                    colors[name] = rgb
        classes.append(names[rows])
        batch_ids = (
            np.asarray([str(v) for v in record.column("id").to_pylist()], dtype=object)
            if "id" in columns
            else np.asarray([f"object-{start + i}" for i in range(n)], dtype=object)
        )
        ids.append(batch_ids[rows])
        for name in numeric:
            values[name].append(
                np.asarray(record.column(name).cast(pa.float32()).fill_null(float("nan")))[rows]
            )
        start += n
    geometry = Polygons.concat(shapes)
    if scale != 1.0:
        geometry.coords *= scale
    all_classes = np.concatenate(classes) if classes else np.empty(0, dtype=object)
    for name in dict.fromkeys(all_classes.tolist()):
        colors.setdefault(name, palette_color(str(name)))
    measurements = {name: np.concatenate(parts) for name, parts in values.items() if parts}
    confidence = measurements.pop("confidence", None)
    return ObjectTable(
        geometry=geometry,
        classes=all_classes,
        colors=colors,
        ids=np.concatenate(ids) if ids else np.empty(0, dtype=object),
        confidence=confidence,
        measurements=measurements,
    )
