"""npe2 writers: a cells Points layer → QuPath GeoJSON or CSV (the shown cells only).

The Points layer made by this plugin remembers the file its cells came from
(``metadata["napari_aignostics_cells"]["source"]``), so the polygons are exported, not just the
centroids; the ``shown`` state of the points (class and confidence filters) selects the rows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .export import export_csv, export_geojson
from .geometry import Polygons
from .result_layers import CELLS_KEY
from .tables import ObjectTable

__all__ = ["write_cells_csv", "write_cells_geojson"]


def _table(data: Any, attributes: dict[str, Any]) -> tuple[ObjectTable, np.ndarray]:
    import shapely

    meta = (attributes.get("metadata") or {}).get(CELLS_KEY) or {}
    source = meta.get("source")
    features = attributes.get("features")
    shown = np.asarray(attributes.get("shown", np.ones(len(data), dtype=bool)), dtype=bool)
    if source and Path(source).is_file():
        from .result_set import load_results

        result = load_results(Path(source))
        if result.cells is not None and len(result.cells) == len(data):
            return result.cells, shown
    points = np.asarray(data, dtype=float)
    n = len(points)
    classes = (
        np.asarray(features["class"], dtype=object)
        if features is not None and "class" in features
        else np.full(n, "Unclassified", dtype=object)
    )
    from .tables import palette_color

    table = ObjectTable(
        geometry=Polygons.from_shapely(
            shapely.buffer(shapely.points(points[:, 1] + 0.5, points[:, 0] + 0.5), 2.0)
        )
        if n
        else Polygons.empty(),
        classes=classes,
        colors={str(c): palette_color(str(c)) for c in dict.fromkeys(classes)},
        ids=np.asarray(features["id"], dtype=object)
        if features is not None and "id" in features
        else np.asarray([f"cell-{i}" for i in range(n)], dtype=object),
    )
    return table, shown


def write_cells_geojson(path: str, data: Any, attributes: dict[str, Any]) -> list[str]:
    """Write the shown cells as a QuPath-compatible GeoJSON FeatureCollection."""
    table, shown = _table(data, attributes)
    return [str(export_geojson(table, Path(path), shown))]


def write_cells_csv(path: str, data: Any, attributes: dict[str, Any]) -> list[str]:
    """Write the shown cells as CSV (id, class, confidence, centroid, area, measurements)."""
    table, shown = _table(data, attributes)
    return [str(export_csv(table, Path(path), shown))]
