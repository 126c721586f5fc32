"""Saving (filtered) cells and ROIs: QuPath-compatible GeoJSON and CSV, written atomically.

Cells carry their corrected class when the review has corrections; the AI's class stays in
``properties.metadata.original_class``. ROIs go out as QuPath annotations.
"""

from __future__ import annotations

import csv
import itertools
import math
import os
import tempfile
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson
import shapely

from .tables import ObjectTable, palette_color

if TYPE_CHECKING:
    from .roi_stats import Roi, RoiStats

__all__ = ["atomic_write", "export_csv", "export_geojson", "export_roi_csv", "export_roi_geojson"]


def atomic_write(path: Path, write: Callable[[Any], object], text: bool = False) -> Path:
    """Write ``path`` through a temporary file beside it, replaced in one step (never half-written)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        handle: Any = (
            os.fdopen(fd, "w", newline="", encoding="utf-8") if text else os.fdopen(fd, "wb")
        )
        with handle:
            write(handle)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def _rows(mask: np.ndarray | None, table: ObjectTable, codes: np.ndarray | None) -> np.ndarray:
    keep = np.ones(len(table), dtype=bool) if mask is None else mask.astype(bool)
    if codes is not None:
        keep = keep & (codes > 0)  # "not a cell" is never exported
    return np.flatnonzero(keep)


def export_geojson(
    table: ObjectTable,
    path: Path,
    mask: np.ndarray | None = None,
    codes: np.ndarray | None = None,
    provenance: Mapping[str, str] | None = None,
    object_type: str = "detection",
) -> Path:
    """A FeatureCollection of detections (or ``object_type``) in level-0 pixels (QuPath imports it).

    ``codes``: the corrected 1-based class per object (``ReviewModel.class_codes``), if any.
    ``provenance`` (where the results came from) goes into the collection's ``provenance``.
    """
    indices = _rows(mask, table, codes)
    names = table.class_names
    original = table.classes[indices].tolist()
    corrected = original if codes is None else [names[c - 1] for c in codes[indices].tolist()]
    colors = {name: list(table.colors[name]) for name in set(corrected)}
    columns = dict(table.measurements)
    if table.confidence is not None:
        columns["confidence"] = table.confidence
    stacked = [columns[k][indices].astype(np.float64) for k in columns]
    finite = (
        np.isfinite(np.column_stack(stacked)).all(axis=1)
        if stacked
        else np.ones(len(indices), bool)
    )
    values = [column.tolist() for column in stacked]
    rows = zip(*values, strict=True) if values else itertools.repeat((), len(indices))
    ids = table.ids[indices].tolist()
    features = []
    for k, (rings, row) in enumerate(zip(_polygon_rings(table, indices), rows, strict=True)):
        name = corrected[k]
        properties: dict[str, object] = {
            "objectType": object_type,
            "classification": {"name": name, "color": colors[name]},
            "measurements": dict(zip(columns, row, strict=True))
            if finite[k]
            else {key: v for key, v in zip(columns, row, strict=True) if math.isfinite(v)},
        }
        if name != original[k]:
            properties["metadata"] = {"original_class": original[k]}
        features.append(
            {
                "type": "Feature",
                "id": str(ids[k]),
                "geometry": {"type": "Polygon", "coordinates": rings},
                "properties": properties,
            }
        )
    collection: dict[str, object] = {"type": "FeatureCollection", "features": features}
    if provenance:
        collection["provenance"] = dict(provenance)
    data = orjson.dumps(collection, option=orjson.OPT_SERIALIZE_NUMPY)
    return atomic_write(path, lambda handle: handle.write(data))


def _polygon_rings(table: ObjectTable, indices: np.ndarray) -> list[list[np.ndarray]]:
    """Per polygon its closed rings (level-0 px, 2 decimals), as arrays orjson writes directly."""
    sub = table.geometry.take(indices)
    coords = np.round(sub.coords.astype(np.float64), 2)
    starts, ends = sub.ring_offsets[:-1], sub.ring_offsets[1:]
    open_rings = np.flatnonzero(
        (ends > starts) & (coords[starts] != coords[np.maximum(ends - 1, 0)]).any(axis=1)
    )
    if len(open_rings):  # a GeoJSON ring ends where it starts
        coords = np.insert(coords, ends[open_rings], coords[starts[open_rings]], axis=0)
        shift = np.zeros(len(ends) + 1, dtype=np.int64)
        shift[open_rings + 1] = 1
        offsets = sub.ring_offsets + np.cumsum(shift)
    else:
        offsets = sub.ring_offsets
    coords = np.ascontiguousarray(coords)
    rings = np.split(coords, offsets[1:-1]) if len(offsets) > 1 else []
    groups = sub.geom_offsets.tolist()
    return [rings[a:b] for a, b in zip(groups[:-1], groups[1:], strict=True)]


def export_csv(
    table: ObjectTable,
    path: Path,
    mask: np.ndarray | None = None,
    codes: np.ndarray | None = None,
    provenance: Mapping[str, str] | None = None,
) -> Path:
    """One row per cell: id, (corrected) class, confidence, centroid, area, measurements, the AI's class.

    ``provenance`` is written first as ``# key: value`` comment lines.
    """
    indices = _rows(mask, table, codes)
    names = list(table.measurements)
    classes = table.class_names
    header = ["id", "class", "confidence", "centroid_x", "centroid_y", "area_px", *names]
    header.append("original_class")
    areas = table.geometry.take(indices).areas() if len(indices) else np.zeros(0)
    centroids = table.centroids[indices] if len(indices) else np.zeros((0, 2))

    def write(handle: Any) -> None:
        for key, value in (provenance or {}).items():
            handle.write(f"# {key}: {' '.join(str(value).split())}\n")
        writer = csv.writer(handle)
        writer.writerow(header)
        for k, i in enumerate(indices):
            confidence = "" if table.confidence is None else f"{table.confidence[i]:.4f}"
            writer.writerow(
                [
                    table.ids[i],
                    table.classes[i] if codes is None else classes[int(codes[i]) - 1],
                    confidence,
                    f"{centroids[k, 0]:.2f}",
                    f"{centroids[k, 1]:.2f}",
                    f"{areas[k]:.1f}",
                    *(f"{table.measurements[n][i]:.6g}" for n in names),
                    table.classes[i],
                ]
            )

    return atomic_write(path, write, text=True)


def export_roi_csv(stats: list[RoiStats], classes: list[str], path: Path) -> Path:
    """The ROI table: per ROI its area, count, density, count and share of each class, a mean."""
    measurement = next((s.measurement for s in stats if s.measurement), None)
    header = ["roi", "area_mm2", "area_px", "cells", "cells_per_mm2"]
    header += [f"{c}_{kind}" for c in classes for kind in ("cells", "share")]
    if measurement:
        header.append(f"mean_{measurement}")

    def number(value: float | None, digits: int) -> str:
        return "" if value is None else f"{value:.{digits}f}"

    def write(handle: Any) -> None:
        writer = csv.writer(handle)
        writer.writerow(header)
        for s in stats:
            row = [s.name, number(s.area_mm2, 6), f"{s.area_px:.1f}", s.count, number(s.density, 2)]
            for c in classes:
                row += [s.counts.get(c, 0), f"{s.share(c):.4f}"]
            if measurement:
                row.append("" if s.mean is None else f"{s.mean:.6g}")
            writer.writerow(row)

    return atomic_write(path, write, text=True)


def export_roi_geojson(rois: list[Roi], path: Path, stats: list[RoiStats] | None = None) -> Path:
    """ROIs as QuPath annotations (level-0 pixels), with their cell counts as measurements."""
    features = []
    for k, roi in enumerate(rois):
        properties: dict[str, object] = {"objectType": "annotation", "name": roi.name}
        if roi.classification:
            properties["classification"] = {
                "name": roi.classification,
                "color": list(palette_color(roi.classification)),
            }
        if stats is not None:
            s = stats[k]
            measurements: dict[str, float] = {"Num cells": s.count}
            measurements.update({f"Num {c}": n for c, n in s.counts.items()})
            if s.area_mm2 is not None:
                measurements["Area mm^2"] = s.area_mm2
            properties["measurements"] = measurements
        features.append(
            {
                "type": "Feature",
                "id": str(uuid.uuid4()),
                "geometry": orjson.loads(shapely.to_geojson(roi.polygon)),
                "properties": properties,
            }
        )
    data = orjson.dumps({"type": "FeatureCollection", "features": features})
    return atomic_write(path, lambda handle: handle.write(data))
