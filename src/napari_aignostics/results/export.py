"""Saving (filtered) cells: QuPath-compatible GeoJSON and CSV, written atomically."""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from .tables import ObjectTable

__all__ = ["export_csv", "export_geojson"]


def _atomic_write(path: Path, write: Callable[[Any], object], text: bool = False) -> Path:
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


def _closed(ring: np.ndarray) -> np.ndarray:
    """A GeoJSON linear ring ends where it starts."""
    return ring if len(ring) and (ring[0] == ring[-1]).all() else np.vstack([ring, ring[:1]])


def export_geojson(
    table: ObjectTable,
    path: Path,
    mask: np.ndarray | None = None,
    provenance: Mapping[str, str] | None = None,
) -> Path:
    """A FeatureCollection of detections in level-0 pixels (QuPath imports it as is).

    ``provenance`` (where the results came from) goes into the collection's ``provenance``.
    """
    indices = np.flatnonzero(mask) if mask is not None else np.arange(len(table))
    features = []
    for i in indices:
        rings = [_closed(np.round(ring, 2)).tolist() for ring in table.geometry.rings(int(i))]
        measurements = {k: float(v[i]) for k, v in table.measurements.items() if np.isfinite(v[i])}
        if table.confidence is not None and np.isfinite(table.confidence[i]):
            measurements["confidence"] = float(table.confidence[i])
        name = str(table.classes[i])
        features.append(
            {
                "type": "Feature",
                "id": str(table.ids[i]),
                "geometry": {"type": "Polygon", "coordinates": rings},
                "properties": {
                    "objectType": "detection",
                    "classification": {"name": name, "color": list(table.colors[name])},
                    "measurements": measurements,
                },
            }
        )
    collection: dict[str, object] = {"type": "FeatureCollection", "features": features}
    if provenance:
        collection["provenance"] = dict(provenance)
    data = orjson.dumps(collection)
    return _atomic_write(path, lambda handle: handle.write(data))


def export_csv(
    table: ObjectTable,
    path: Path,
    mask: np.ndarray | None = None,
    provenance: Mapping[str, str] | None = None,
) -> Path:
    """One row per cell: id, class, confidence, centroid, area and measurements.

    ``provenance`` is written first as ``# key: value`` comment lines.
    """
    indices = np.flatnonzero(mask) if mask is not None else np.arange(len(table))
    names = list(table.measurements)
    header = ["id", "class", "confidence", "centroid_x", "centroid_y", "area_px", *names]
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
                    table.classes[i],
                    confidence,
                    f"{centroids[k, 0]:.2f}",
                    f"{centroids[k, 1]:.2f}",
                    f"{areas[k]:.1f}",
                    *(f"{table.measurements[n][i]:.6g}" for n in names),
                ]
            )

    return _atomic_write(path, write, text=True)
