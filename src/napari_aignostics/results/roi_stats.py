"""Regions of interest and their statistics: area, cell count, density, class shares, a mean.

An ROI is a shapely polygon in level-0 pixels. The cells of an ROI are those whose centroid lies
inside it: the spatial index narrows them to the ROI's box, then one vectorised
``shapely.contains_xy`` (or four comparisons for an upright rectangle) decides.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely

from .coords import to_level0
from .review import ReviewModel

__all__ = ["ROI_KINDS", "Roi", "RoiStats", "cells_in", "roi_from_shape", "roi_stats"]

ROI_KINDS = ("rectangle", "ellipse", "polygon", "region")
ELLIPSE_VERTICES = 64
WHOLE_SLIDE_SHARE = 0.05
"""An ROI box above this share of the cells' extent skips the spatial index."""
GRID, GRID_FROM = 64, 20_000
"""Squares per side of the grid that spares most points a polygon test, and from how many points."""


@dataclass
class Roi:
    """A named region of interest in level-0 pixels."""

    name: str
    polygon: shapely.Polygon
    kind: str = "polygon"
    classification: str | None = None
    """The tissue class of a region picked from the results (QuPath's annotation class)."""


@dataclass(frozen=True)
class RoiStats:
    """What the ROI table shows for one ROI."""

    name: str
    area_mm2: float | None
    """None without a slide scale (then ``area_px`` only)."""
    area_px: float
    count: int
    counts: dict[str, int] = field(default_factory=dict)
    measurement: str | None = None
    mean: float | None = None

    @property
    def density(self) -> float | None:
        """Cells per mm²."""
        return self.count / self.area_mm2 if self.area_mm2 else None

    def share(self, name: str) -> float:
        """Fraction of the ROI's cells in class ``name``."""
        return self.counts.get(name, 0) / self.count if self.count else 0.0


def roi_from_shape(name: str, kind: str, vertices: np.ndarray) -> Roi:
    """An ROI from a napari Shapes entry (``vertices`` in data (row, col) at slide scale)."""
    xy = to_level0(np.asarray(vertices)[:, -2:])
    if kind == "ellipse":  # napari keeps an ellipse as the 4 corners of its (rotated) box
        centre = xy.mean(axis=0)
        u = (xy[1] + xy[2]) / 2 - centre
        w = (xy[2] + xy[3]) / 2 - centre
        t = np.linspace(0, 2 * np.pi, ELLIPSE_VERTICES, endpoint=False)[:, None]
        xy = centre + np.cos(t) * u + np.sin(t) * w
    polygon = shapely.make_valid(shapely.Polygon(xy)) if len(xy) >= 3 else shapely.Polygon()
    if not isinstance(polygon, shapely.Polygon):  # a self-crossing lasso: keep its largest part
        parts = [g for g in getattr(polygon, "geoms", []) if isinstance(g, shapely.Polygon)]
        polygon = max(parts, key=lambda g: g.area) if parts else shapely.Polygon()
    return Roi(name, polygon, kind if kind in ROI_KINDS else "polygon")


def cells_in(
    review: ReviewModel, polygon: shapely.Polygon, mask: np.ndarray | None = None
) -> np.ndarray:
    """Indices (ascending) of the cells whose centroid lies in ``polygon`` (and ``mask``, if given)."""
    if polygon.is_empty:
        return np.zeros(0, dtype=np.int64)
    table = review.table
    x0, y0, x1, y1 = polygon.bounds
    grid = table.index  # its squares span the cells' extent
    extent = grid.columns * grid.rows * grid.cell * grid.cell
    if (x1 - x0) * (y1 - y0) < WHOLE_SLIDE_SHARE * max(extent, 1.0):
        hits = table.query(polygon.bounds)  # a small ROI: the spatial index narrows it
    else:  # a large one: four comparisons on every centroid beat the index
        cx, cy = table.centroids[:, 0], table.centroids[:, 1]
        hits = np.flatnonzero((cx >= x0) & (cx <= x1) & (cy >= y0) & (cy <= y1))
    hits = hits[review.class_codes[hits] > 0]
    if mask is not None:
        hits = hits[mask[hits]]
    xy = table.centroids[hits]
    x, y = xy[:, 0], xy[:, 1]
    if polygon.equals(polygon.envelope):  # an upright rectangle
        inside = (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)
    else:
        inside = _contains(polygon, x, y)
    return hits[inside]


def _contains(polygon: shapely.Polygon, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``shapely.contains_xy`` for many points: only those near the outline are tested.

    A grid over the polygon's box sorts its squares into inside (all points in), outside (none)
    and on the outline; only points in the outline's squares go to ``contains_xy``.
    """
    shapely.prepare(polygon)
    if len(x) < GRID_FROM:
        return shapely.contains_xy(polygon, x, y)
    x0, y0, x1, y1 = polygon.bounds
    w, h = max((x1 - x0) / GRID, 1e-9), max((y1 - y0) / GRID, 1e-9)
    gx, gy = np.meshgrid(x0 + w * np.arange(GRID), y0 + h * np.arange(GRID))
    squares = shapely.box(gx.ravel(), gy.ravel(), gx.ravel() + w, gy.ravel() + h)
    state = np.full(GRID * GRID, 2, dtype=np.int8)  # 2: on the outline, test each point
    state[shapely.contains_properly(polygon, squares)] = 1
    state[~shapely.intersects(polygon, squares)] = 0
    col = np.clip(((x - x0) / w).astype(np.int64), 0, GRID - 1)
    row = np.clip(((y - y0) / h).astype(np.int64), 0, GRID - 1)
    where = state[row * GRID + col]
    inside = where == 1
    test = np.flatnonzero(where == 2)
    inside[test] = shapely.contains_xy(polygon, x[test], y[test])
    return inside


def roi_stats(
    review: ReviewModel,
    roi: Roi,
    mpp: float | None,
    values: np.ndarray | None = None,
    measurement: str | None = None,
) -> RoiStats:
    """Statistics of the cells (corrected classes, "not a cell" left out) in one ROI.

    ``values`` is one number per object (a column of :func:`.object_columns.numeric_columns`);
    its mean over the ROI's cells ignores NaN.
    """
    inside = cells_in(review, roi.polygon)
    names = review.table.class_names
    per_class = np.bincount(review.class_codes[inside], minlength=len(names) + 1)
    area_px = float(roi.polygon.area)
    mean = None
    if values is not None and len(inside):
        chosen = np.asarray(values, dtype=np.float64)[inside]
        finite = chosen[np.isfinite(chosen)]
        mean = float(finite.mean()) if len(finite) else None
    return RoiStats(
        name=roi.name,
        area_mm2=area_px * mpp * mpp / 1e6 if mpp else None,
        area_px=area_px,
        count=int(len(inside)),
        counts={name: int(per_class[i]) for i, name in enumerate(names, start=1)},
        measurement=measurement,
        mean=mean,
    )
