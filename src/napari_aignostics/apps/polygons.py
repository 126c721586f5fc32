"""Outlines of labelled regions as shapely polygons in level-0 pixel coordinates."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import shapely
from scipy import ndimage as ndi
from skimage import measure

__all__ = ["class_polygons", "object_polygon", "object_polygons"]


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


def object_polygons(
    labels: np.ndarray, wanted: np.ndarray, x0: float, y0: float
) -> list[shapely.Polygon | None]:
    """``object_polygon`` of each label in ``wanted`` of a label image whose top-left pixel is at
    level-0 (x0, y0); the polygons without holes (nearly all) are made in one vectorised call."""
    padded = np.pad(labels, 1)
    boxes = ndi.find_objects(labels)
    out: list[shapely.Polygon | None] = [None] * len(wanted)
    rings: list[np.ndarray] = []
    simple: list[int] = []
    for j, label in enumerate(wanted):
        box = boxes[int(label) - 1]
        if box is None:
            continue
        rows, cols = box
        crop = padded[rows.start : rows.stop + 2, cols.start : cols.stop + 2] == label
        contours = [c for c in measure.find_contours(crop, 0.5) if len(c) >= 4]
        if len(contours) == 1:
            ring = contours[0][:, ::-1] - 1.0
            ring += (x0 + cols.start + 0.5, y0 + rows.start + 0.5)
            rings.append(ring)
            simple.append(j)
        elif contours:
            out[j] = object_polygon(crop[1:-1, 1:-1], x0 + cols.start, y0 + rows.start)
    if rings:
        sizes = np.fromiter((len(r) for r in rings), dtype=np.int64, count=len(rings))
        polygons = shapely.polygons(
            shapely.linearrings(
                np.concatenate(rings), indices=np.repeat(np.arange(len(rings)), sizes)
            )
        )
        for j, polygon, valid in zip(simple, polygons, shapely.is_valid(polygons), strict=True):
            if not valid:
                polygon = shapely.make_valid(polygon).buffer(0)
            out[j] = None if polygon.is_empty else polygon
    return out
