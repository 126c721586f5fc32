"""Cell density maps (cells per mm² on a grid) and hotspots (the densest non-overlapping windows).

Everything works on level-0 centroids and the slide's µm per pixel; a region restriction (e.g.
lymphocytes in stroma) counts only the cells whose centroid lies in the region's polygons and
divides by the region's area within each grid cell.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

from .tables import ObjectTable

__all__ = ["DensityMap", "Hotspot", "Region", "density_map", "find_hotspots", "region_of"]

AREA_SUBSAMPLES = 16
"""A grid cell's region area is measured on 16 × 16 points of it."""
MAX_AREA_SAMPLES = 16_000_000
"""Fewer subsamples per grid cell on fine grids over big slides (memory stays ~50 MB)."""
MIN_REGION_SHARE = 0.5
"""A restricted hotspot window must hold at least this share of region area."""


@dataclass(frozen=True)
class Region:
    """The tissue polygons a density is restricted to (level-0 px), named by their class."""

    name: str
    polygons: np.ndarray
    """shapely Polygons."""

    def union(self) -> shapely.Geometry:
        """The polygons merged (overlaps counted once)."""
        return shapely.union_all(self.polygons)

    def contains(self, xy: np.ndarray) -> np.ndarray:
        """Which level-0 points lie inside (boundary included)."""
        if not len(self.polygons) or not len(xy):
            return np.zeros(len(xy), dtype=bool)
        union = self.union()
        shapely.prepare(union)
        return shapely.intersects_xy(union, xy[:, 0], xy[:, 1])

    def area_grid(self, cell_px: float, shape: tuple[int, int]) -> np.ndarray:
        """Region area (level-0 px²) inside each grid cell of ``cell_px``, holes excluded.

        Measured on up to ``AREA_SUBSAMPLES``² points per grid cell (a point counts when it lies
        inside the polygons' union), so the error stays below a fraction of a
        subsample row along the region's border.
        """
        cells = shape[0] * shape[1]
        sub = int(max(1, min(AREA_SUBSAMPLES, np.sqrt(MAX_AREA_SAMPLES / max(cells, 1)))))
        step = cell_px / sub
        parts = shapely.get_parts(self.union()) if len(self.polygons) else []
        rings = [
            np.asarray(ring.coords) / step
            for polygon in parts
            if isinstance(polygon, shapely.Polygon)
            for ring in (polygon.exterior, *polygon.interiors)
        ]
        mask = scanline_fill(rings, (shape[0] * sub, shape[1] * sub))
        counts = mask.reshape(shape[0], sub, shape[1], sub).sum(axis=(1, 3), dtype=np.int64)
        return counts * (step * step)


def scanline_fill(rings: list[np.ndarray], size: tuple[int, int]) -> np.ndarray:
    """Pixels whose centre lies inside the rings (even-odd), as a boolean (rows, cols) mask.

    Ring coordinates are (x, y) in pixel units (pixel ``k`` spans ``[k, k + 1)``). Every edge is
    cut with the pixel-centre rows it crosses; the sorted crossings of a row pair up into spans.
    """
    height, width = size
    xs, rows = [], []
    for ring in rings:
        if len(ring) < 3:
            continue
        a, b = ring, np.roll(ring, -1, axis=0)
        lo, hi = np.minimum(a[:, 1], b[:, 1]), np.maximum(a[:, 1], b[:, 1])
        first = np.ceil(lo - 0.5).astype(np.int64)
        n = np.maximum(np.ceil(hi - 0.5).astype(np.int64) - first, 0)
        if not n.sum():
            continue
        edge = np.repeat(np.arange(len(a)), n)
        row = first[edge] + np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)
        t = (row + 0.5 - a[edge, 1]) / (b[edge, 1] - a[edge, 1])
        xs.append(a[edge, 0] + t * (b[edge, 0] - a[edge, 0]))
        rows.append(row)
    mask = np.zeros(size, dtype=bool)
    if not xs:
        return mask
    x, row = np.concatenate(xs), np.concatenate(rows)
    order = np.lexsort((x, row))
    x, row = x[order], row[order]
    start, end, row = x[0::2], x[1::2], row[0::2]
    keep = (row >= 0) & (row < height)
    c0 = np.clip(np.ceil(start[keep] - 0.5), 0, width).astype(np.int64)
    c1 = np.clip(np.ceil(end[keep] - 0.5), 0, width).astype(np.int64)
    diff = np.zeros((height, width + 1), dtype=np.int16)
    np.add.at(diff, (row[keep], c0), 1)
    np.add.at(diff, (row[keep], c1), -1)
    return np.cumsum(diff, axis=1, dtype=np.int16)[:, :width] > 0


def region_of(regions: ObjectTable, class_name: str) -> Region:
    """The polygons of one tissue class of a region table."""
    keep = np.flatnonzero(regions.classes == class_name)
    return Region(class_name, regions.geometry.to_shapely(keep))


@dataclass(frozen=True)
class DensityMap:
    """Cells per mm² on a square grid over the slide (NaN where the grid cell has no area)."""

    density: np.ndarray
    """(rows, cols) float32 cells per mm²."""
    counts: np.ndarray
    """(rows, cols) cells counted per grid cell."""
    area_mm2: np.ndarray
    """(rows, cols) area each count is divided by."""
    cell_px: float
    """Grid cell side in level-0 pixels."""
    cell_um: float
    label: str

    @property
    def peak(self) -> float:
        """The highest density (0 when empty)."""
        finite = self.density[np.isfinite(self.density)]
        return float(finite.max()) if finite.size else 0.0


def _grid_shape(slide_size: tuple[int, int], cell_px: float) -> tuple[int, int]:
    width, height = slide_size
    return max(1, int(np.ceil(height / cell_px))), max(1, int(np.ceil(width / cell_px)))


def count_grid(xy: np.ndarray, cell_px: float, shape: tuple[int, int]) -> np.ndarray:
    """How many level-0 points fall in each grid cell (points outside the grid are dropped)."""
    cols = np.floor(xy[:, 0] / cell_px).astype(np.int64)
    rows = np.floor(xy[:, 1] / cell_px).astype(np.int64)
    inside = (rows >= 0) & (rows < shape[0]) & (cols >= 0) & (cols < shape[1])
    flat = rows[inside] * shape[1] + cols[inside]
    return np.bincount(flat, minlength=shape[0] * shape[1]).reshape(shape)


def _select(xy: np.ndarray, region: Region | None) -> np.ndarray:
    return xy if region is None else xy[region.contains(xy)]


def density_map(
    xy: np.ndarray,
    slide_size: tuple[int, int],
    mpp: float,
    cell_um: float = 100.0,
    region: Region | None = None,
    label: str = "all cells",
) -> DensityMap:
    """Density of the level-0 points ``xy`` (the chosen cells' centroids) on a ``cell_um`` grid.

    With ``region``, only points inside it count and each grid cell's area is the region's area
    within it; grid cells without region area are NaN.
    """
    if cell_um <= 0 or mpp <= 0:
        raise ValueError(f"grid size ({cell_um} µm) and µm per pixel ({mpp}) must be positive")
    cell_px = cell_um / mpp
    shape = _grid_shape(slide_size, cell_px)
    counts = count_grid(_select(xy, region), cell_px, shape)
    if region is None:
        area = np.full(shape, cell_um * cell_um / 1e6, dtype=np.float64)
        width, height = slide_size  # the last row and column may be cut by the slide's edge
        area[-1, :] *= (height - (shape[0] - 1) * cell_px) / cell_px
        area[:, -1] *= (width - (shape[1] - 1) * cell_px) / cell_px
    else:
        area = region.area_grid(cell_px, shape).astype(np.float64) * (mpp * mpp / 1e6)
    with np.errstate(divide="ignore", invalid="ignore"):
        density = np.where(area > 0, counts / area, np.nan).astype(np.float32)
    if region is not None:
        label = f"{label} in {region.name}"
    return DensityMap(density, counts, area.astype(np.float32), cell_px, cell_um, label)


@dataclass(frozen=True)
class Hotspot:
    """One window: level-0 box, cells counted, area and density."""

    box: tuple[float, float, float, float]
    """(minx, miny, maxx, maxy) in level-0 pixels."""
    count: int
    area_mm2: float
    density: float

    @property
    def center(self) -> tuple[float, float]:
        """Level-0 (x, y) of the window's centre."""
        x0, y0, x1, y1 = self.box
        return (x0 + x1) / 2, (y0 + y1) / 2


def window_sums(grid: np.ndarray, size: int) -> np.ndarray:
    """Sums of every ``size`` × ``size`` window of ``grid`` (a summed-area table)."""
    table = np.zeros((grid.shape[0] + 1, grid.shape[1] + 1), dtype=np.float64)
    table[1:, 1:] = grid.cumsum(0).cumsum(1)
    return (
        table[size:, size:] - table[:-size, size:] - table[size:, :-size] + table[:-size, :-size]
    )


def find_hotspots(
    xy: np.ndarray,
    slide_size: tuple[int, int],
    mpp: float,
    window_um: float = 1000.0,
    top: int = 5,
    steps: int = 4,
    region: Region | None = None,
) -> list[Hotspot]:
    """The ``top`` densest non-overlapping square windows of side ``window_um``.

    Windows move in steps of ``window_um / steps`` over the slide (whole windows only); the
    densest is taken first, then the densest that does not overlap any taken, and so on. With
    ``region``, only points inside it count, density is per mm² of region and a window needs
    at least half of its area in the region.
    """
    if window_um <= 0 or mpp <= 0 or steps < 1:
        raise ValueError("window size, µm per pixel and steps must be positive")
    step_px = window_um / mpp / steps
    shape = (int(slide_size[1] // step_px), int(slide_size[0] // step_px))
    if shape[0] < steps or shape[1] < steps:
        return []  # the slide is smaller than one window
    counts = window_sums(count_grid(_select(xy, region), step_px, shape).astype(np.float64), steps)
    window_mm2 = (window_um / 1000.0) ** 2
    if region is None:
        area = np.full(counts.shape, window_mm2)
    else:
        fine = region.area_grid(step_px, shape).astype(np.float64) * (mpp * mpp / 1e6)
        area = window_sums(fine, steps)
    valid = area >= (MIN_REGION_SHARE * window_mm2 if region is not None else 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        density = np.where(valid & (area > 0), counts / area, -1.0)
    order = np.argsort(-density, axis=None, kind="stable")
    picked: list[tuple[int, int]] = []
    out: list[Hotspot] = []
    for flat in order:
        i, j = divmod(int(flat), density.shape[1])
        if density[i, j] <= 0 or len(out) == top:
            break
        if any(abs(i - a) < steps and abs(j - b) < steps for a, b in picked):
            continue
        picked.append((i, j))
        box = (j * step_px, i * step_px, (j + steps) * step_px, (i + steps) * step_px)
        out.append(Hotspot(box, int(counts[i, j]), float(area[i, j]), float(density[i, j])))
    return out
