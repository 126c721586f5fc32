"""Outlines of labelled regions as shapely polygons in level-0 pixel coordinates."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import shapely
from scipy import ndimage as ndi
from skimage import measure

__all__ = ["class_polygons", "object_polygon"]


def _rings(mask: np.ndarray) -> list[np.ndarray]:
    """Closed boundary rings (x, y) of a padded binary mask, in unpadded index coordinates."""
    padded = np.pad(mask.astype(np.uint8), 1)
    rings = []
    for contour in measure.find_contours(padded, 0.5):
        if len(contour) >= 4:
            rings.append(contour[:, ::-1] - 1.0)  # (row, col) → (x, y), undo the padding
    return rings


def _polygon(mask: np.ndarray) -> shapely.Polygon | None:
    rings = _rings(mask)
    if not rings:
        return None
    polys = sorted((shapely.Polygon(r) for r in rings), key=lambda p: p.area, reverse=True)
    shell, holes = polys[0], [p.exterior.coords for p in polys[1:] if polys[0].contains(p)]
    result = shapely.Polygon(shell.exterior.coords, holes)
    return result if result.is_valid else shapely.make_valid(result).buffer(0)


def class_polygons(
    labels: np.ndarray, downsample: float, min_area_px: int = 4, tolerance: float = 0.6
) -> Iterator[tuple[int, shapely.Polygon]]:
    """(class index, polygon) for every connected region of every non-zero class.

    Map pixel ``i`` covers level-0 ``[i*d, (i+1)*d)``; boundaries are placed on pixel edges.
    """
    for value in np.unique(labels):
        if value == 0:
            continue
        components, count = ndi.label(labels == value)
        for index, box in enumerate(ndi.find_objects(components), start=1):
            if box is None:
                continue
            mask = components[box] == index
            if mask.sum() < min_area_px:
                continue
            polygon = _polygon(mask)
            if polygon is None or polygon.is_empty:
                continue
            polygon = shapely.simplify(polygon, tolerance)
            offset = (box[1].start + 0.5, box[0].start + 0.5)
            moved = shapely.transform(polygon, lambda xy, o=offset: (xy + o) * downsample)
            for part in getattr(moved, "geoms", [moved]):
                if isinstance(part, shapely.Polygon) and not part.is_empty:
                    yield int(value), part


def object_polygon(mask: np.ndarray, x0: float, y0: float) -> shapely.Polygon | None:
    """The outline of one object's mask whose top-left pixel is at level-0 (x0, y0)."""
    polygon = _polygon(mask)
    if polygon is None or polygon.is_empty:
        return None
    return shapely.transform(polygon, lambda xy: xy + (x0 + 0.5, y0 + 0.5))
