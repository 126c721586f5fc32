"""The QuPath GeoJSON export of corrected cells: closed rings, finite measurements, both classes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import shapely

from napari_aignostics.results.export import export_geojson
from napari_aignostics.results.geometry import Polygons
from napari_aignostics.results.review import ReviewModel
from napari_aignostics.results.tables import ObjectTable


def test_export_closes_rings_drops_nan_and_keeps_the_original_class(tmp_path: Path) -> None:
    square = shapely.box(0, 0, 10, 10)
    holed = shapely.Polygon([(20, 0), (40, 0), (40, 20), (20, 20)], [[(25, 5), (30, 5), (30, 10)]])
    closed = Polygons.from_shapely([holed, shapely.box(50, 50, 51.004, 52)])
    open_square = np.array([[0, 0], [10, 0], [10, 10], [0, 10]], dtype=float)  # no closing point
    counts = np.diff(closed.ring_offsets)
    open_ring = Polygons(
        np.vstack([open_square, closed.coords]),
        np.concatenate(
            [[0], 4 + np.cumsum(np.concatenate([[0], counts]))[:-1], [4 + counts.sum()]]
        ),
        np.concatenate([[0], 1 + closed.geom_offsets]),
    )
    table = ObjectTable(
        geometry=open_ring,
        classes=np.array(["tumor", "lymphocyte", "tumor"], dtype=object),
        colors={"tumor": (200, 0, 0), "lymphocyte": (0, 0, 200)},
        ids=np.array(["a", "b", "c"], dtype=object),
        confidence=np.array([0.9, np.nan, 0.5], dtype=np.float32),
        measurements={"area": np.array([100.0, 395.5, np.inf])},
    )
    review = ReviewModel(table)
    review.set_classes(np.array([0]), review.class_code("lymphocyte"))
    review.set_classes(np.array([2]), 0)  # not a cell: never exported
    path = export_geojson(table, tmp_path / "cells.geojson", codes=review.class_codes)
    features = json.loads(path.read_text())["features"]
    assert [f["id"] for f in features] == ["a", "b"]
    first, second = (f["properties"] for f in features)
    assert first["classification"] == {"name": "lymphocyte", "color": [0, 0, 200]}
    assert first["metadata"] == {"original_class": "tumor"}
    assert first["measurements"] == {"area": 100.0, "confidence": 0.8999999761581421}
    assert "metadata" not in second and second["measurements"] == {"area": 395.5}
    rings = features[1]["geometry"]["coordinates"]
    assert len(rings) == 2 and all(ring[0] == ring[-1] for ring in rings)
    assert shapely.geometry.shape(features[1]["geometry"]).equals(holed)
    (ring,) = features[0]["geometry"]["coordinates"]
    assert len(ring) == 5 and ring[0] == ring[-1] == [0.0, 0.0]
    assert shapely.geometry.shape(features[0]["geometry"]).equals(square)
