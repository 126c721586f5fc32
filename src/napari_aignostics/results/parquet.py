"""Cell Parquet (WKB polygons in level-0 px, class, colour, confidence, measurements)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import shapely

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


def read_cells_parquet(path: Path, *, scale: float = 1.0) -> ObjectTable:
    """The cell table of a ``*_parquet_polygons.parquet`` file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    columns = table.column_names
    if "geometry" not in columns:
        raise ValueError(f"{path.name}: no 'geometry' column (expected WKB polygons)")
    polygons = shapely.from_wkb(np.asarray(table.column("geometry").to_pylist(), dtype=object))
    if scale != 1.0:
        polygons = shapely.transform(polygons, lambda xy: xy * scale)
    n = len(polygons)
    classes = (
        np.asarray(table.column("class_name").to_pylist(), dtype=object)
        if "class_name" in columns
        else np.full(n, "Unclassified", dtype=object)
    )
    colors: dict[str, tuple[int, int, int]] = {}
    if "class_color" in columns:
        for name, color in zip(classes, table.column("class_color").to_pylist(), strict=True):
            if name not in colors and (rgb := _rgb(color)) is not None:
                colors[name] = rgb
    for name in dict.fromkeys(classes):
        colors.setdefault(name, palette_color(str(name)))
    ids = (
        np.asarray([str(v) for v in table.column("id").to_pylist()], dtype=object)
        if "id" in columns
        else np.asarray([f"object-{i}" for i in range(n)], dtype=object)
    )
    measurements = {
        name: table.column(name).to_numpy().astype(np.float32)
        for name in columns
        if name not in RESERVED
        and (
            pa.types.is_floating(table.schema.field(name).type)
            or pa.types.is_integer(table.schema.field(name).type)
        )
    }
    confidence = measurements.pop("confidence", None)
    measurements.pop("centroid_x", None)
    measurements.pop("centroid_y", None)
    valid = ~shapely.is_missing(polygons)
    result = ObjectTable(
        polygons=polygons,
        classes=classes,
        colors=colors,
        ids=ids,
        confidence=confidence,
        measurements=measurements,
    )
    return result if valid.all() else result.subset(valid)
