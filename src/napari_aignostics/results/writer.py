"""npe2 writers: a cells Points layer → QuPath GeoJSON or CSV (the shown cells only).

The cells' centroids layer made by this plugin refers to its review model (a weak reference in
``metadata["napari_aignostics_cells"]["review"]``): the shown cells (class and confidence filters)
are written with their polygons and corrected classes, as the Review tab's export does. Without
it, the file the cells came from (``["source"]``) is read with the corrections saved beside it;
any other Points layer is written as small discs around its points.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any
from weakref import ref

import numpy as np

from .export import export_csv, export_geojson
from .geometry import Polygons
from .result_layers import CELLS_KEY
from .review import ReviewModel
from .tables import ObjectTable

__all__ = ["write_cells_csv", "write_cells_geojson"]


def _review(data: Any, attributes: dict[str, Any]) -> ReviewModel:
    meta = (attributes.get("metadata") or {}).get(CELLS_KEY) or {}
    held = meta.get("review")
    review = held() if isinstance(held, ref) else None
    if isinstance(review, ReviewModel):
        return review
    source = meta.get("source")
    if source and Path(source).is_file():
        from .corrections import load_review
        from .result_set import load_results

        result = load_results(Path(source))
        if result.cells is not None:
            review = result.review or ReviewModel(result.cells)
            load_review(Path(source).parent, review)
            return review
    return ReviewModel(_point_table(np.asarray(data, dtype=float), attributes.get("features")))


def _point_table(points: np.ndarray, features: Any) -> ObjectTable:
    """Discs of 2 px around the points of a plain Points layer (napari data coordinates)."""
    import shapely

    from .tables import palette_color

    n = len(points)
    classes = (
        np.asarray(features["class"], dtype=object)
        if features is not None and "class" in features
        else np.full(n, "Unclassified", dtype=object)
    )
    return ObjectTable(
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


def _provenance(attributes: dict[str, Any]) -> dict[str, str] | None:
    origin = (attributes.get("metadata") or {}).get("provenance")
    return {str(k): str(v) for k, v in origin.items()} if isinstance(origin, dict) else None


def write_cells_geojson(path: str, data: Any, attributes: dict[str, Any]) -> list[str]:
    """Write the shown cells as a QuPath-compatible GeoJSON FeatureCollection."""
    return _write_shown(export_geojson, path, data, attributes)


def write_cells_csv(path: str, data: Any, attributes: dict[str, Any]) -> list[str]:
    """Write the shown cells as CSV (id, class, confidence, centroid, area, measurements)."""
    return _write_shown(export_csv, path, data, attributes)


def _write_shown(
    export: Callable[..., Path], path: str, data: Any, attributes: dict[str, Any]
) -> list[str]:
    review = _review(data, attributes)
    written = export(
        review.table,
        Path(path),
        review.shown(),
        codes=review.class_codes,
        provenance=_provenance(attributes),
    )
    return [str(written)]
