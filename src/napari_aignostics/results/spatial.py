"""A bucket-grid spatial index over bounding boxes: numpy arrays only, built in one sort.

Boxes are filed by the grid cell of their lower-left corner, row by row. A cell is as large as
nearly all boxes, so a box meeting a query window has its corner at most one cell before the
window: each grid row in range is one contiguous slice of the sorted order. The few boxes larger
than a cell (tissue regions among cells, say) are kept apart and always tested.
"""

from __future__ import annotations

import numpy as np

from .geometry import concat_ranges

__all__ = ["GridIndex"]

MIN_CELL = 64.0
FAR = 2.0**40
"""Centroids farther out (or not finite) are left out of the centroid grid."""


class GridIndex:
    """Which boxes meet a window, for millions of boxes (the STRtree query without the objects)."""

    def __init__(self, boxes: np.ndarray) -> None:
        self.boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        self._extent: tuple[float, float, float, float] | None = None
        b = self.boxes
        size = np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1])
        self.cell = max(MIN_CELL, float(np.percentile(size, 99))) if len(size) else MIN_CELL
        small = size <= self.cell
        if small.all():  # the usual case: no copy of the corners
            members = np.arange(len(b))
            x, y = b[:, 0], b[:, 1]
        else:
            members = np.flatnonzero(small)
            x, y = b[members, 0], b[members, 1]
        self.big = np.flatnonzero(~small)
        self.origin = np.array([x.min(), y.min()]) if len(members) else np.zeros(2)
        column, row = (self._cells(v, o) for v, o in zip((x, y), self.origin, strict=True))
        self.columns = int(column.max()) + 1 if len(members) else 1
        self.rows = int(row.max()) + 1 if len(members) else 0
        row *= self.columns
        row += column
        self.keys, order = _sorted_keys(row)
        self.order = members[order]

    def _cells(self, values: np.ndarray, origin: float) -> np.ndarray:
        """The grid cell (column or row) of each corner coordinate."""
        cells = values - origin
        cells /= self.cell
        np.floor(cells, out=cells)
        return cells.astype(np.int64)

    STATE = ("boxes", "big", "origin", "keys", "order", "shape")

    def state(self) -> dict[str, np.ndarray]:
        """The index as arrays (to store it and :meth:`restore` it without sorting again)."""
        return {
            "boxes": self.boxes,
            "big": self.big,
            "origin": self.origin,
            "keys": self.keys,
            "order": self.order,
            "shape": np.array([self.cell, self.columns, self.rows], dtype=np.float64),
        }

    @classmethod
    def restore(cls, state: dict[str, np.ndarray]) -> GridIndex:
        """The index :meth:`state` describes."""
        index = cls.__new__(cls)
        index._extent = None
        index.boxes, index.big, index.origin = state["boxes"], state["big"], state["origin"]
        index.keys, index.order = state["keys"], state["order"]
        cell, columns, rows = state["shape"].tolist()
        index.cell, index.columns, index.rows = float(cell), int(columns), int(rows)
        return index

    def query(self, window: tuple[float, float, float, float]) -> np.ndarray:
        """Indices (ascending) of the boxes meeting ``(minx, miny, maxx, maxy)``."""
        x0, y0, x1, y1 = window
        if self._extent is None:
            b = self.boxes
            self._extent = (
                (b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max()) if len(b) else None
            )
        if self._extent is not None:
            e = self._extent
            if x0 <= e[0] and y0 <= e[1] and x1 >= e[2] and y1 >= e[3]:  # all of them
                return np.arange(len(self.boxes))
        found = [self.big]
        if self.rows:
            c0, r0 = np.floor((np.array([x0, y0]) - self.cell - self.origin) / self.cell)
            c1, r1 = np.floor((np.array([x1, y1]) - self.origin) / self.cell)
            c0, r0 = max(int(c0), 0), max(int(r0), 0)
            c1, r1 = min(int(c1), self.columns - 1), min(int(r1), self.rows - 1)
            if c0 <= c1 and r0 <= r1:
                rows = np.arange(r0, r1 + 1, dtype=np.int64) * self.columns
                lo = np.searchsorted(self.keys, rows + c0, side="left")
                hi = np.searchsorted(self.keys, rows + c1, side="right")
                found.append(self.order[concat_ranges(lo, hi - lo)])
        candidates = np.concatenate(found)
        b = self.boxes[candidates]
        meets = (b[:, 0] <= x1) & (b[:, 2] >= x0) & (b[:, 1] <= y1) & (b[:, 3] >= y0)
        return np.sort(candidates[meets])


def _sorted_keys(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``keys`` sorted and the stable order that sorts them.

    Key and position are packed into one int64 and sorted as values (several times faster than
    an argsort); keys too large to pack are argsorted.
    """
    n = len(keys)
    bits = max(n - 1, 1).bit_length()
    if not n or int(keys.min()) < 0 or int(keys.max()).bit_length() + bits > 62:
        order = np.argsort(keys, kind="stable")
        return keys[order], order
    packed = keys << bits
    packed |= np.arange(n, dtype=np.int64)
    packed.sort()
    order = packed & ((1 << bits) - 1)
    packed >>= bits
    return packed, order


class CentroidGrid:
    """The last object (highest index) whose centroid falls in each pixel of a coarse grid.

    Coarse overview levels stamp one pixel per object at its centroid; where several share a
    pixel the last one shows. The grid holds that answer once, at ``downsample`` level-0 px per
    pixel (a power of two, the grid at most :attr:`MAX_SIDE` px across), so a tile of any level
    at least as coarse is a max over blocks of the grid: no pass over the objects. -1 = none.
    """

    MAX_SIDE = 2048
    MIN_DOWNSAMPLE = 4

    def __init__(self, winners: np.ndarray, downsample: int) -> None:
        self.winners, self.downsample = winners, downsample

    @classmethod
    def build(cls, centroids: np.ndarray) -> CentroidGrid:
        """The grid of ``(N, 2)`` level-0 (x, y) centroids (objects left of or above 0 are left out)."""
        xy = np.asarray(centroids, dtype=np.float64).reshape(-1, 2)
        with np.errstate(invalid="ignore"):
            top = float(np.nanmax(xy, initial=0.0)) if len(xy) else 0.0  # inf stays inf
        extent = min(top, FAR) + 1
        downsample = cls.MIN_DOWNSAMPLE
        while extent / downsample > cls.MAX_SIDE:
            downsample *= 2
        cells = np.floor(xy / downsample)
        with np.errstate(invalid="ignore"):  # NaN and inf fail both tests
            ok = ((cells >= 0) & (cells <= extent / downsample)).all(axis=1)
        inside = np.flatnonzero(ok)
        if len(inside) < len(xy):
            cells = cells[inside]
        height = int(cells[:, 1].max()) + 1 if len(inside) else 1
        width = int(cells[:, 0].max()) + 1 if len(inside) else 1
        winners = np.full((height, width), -1, dtype=np.int32 if len(xy) < 2**31 else np.int64)
        pixel = cells[:, 1].astype(np.int64) * width + cells[:, 0].astype(np.int64)
        np.maximum.at(winners.reshape(-1), pixel, inside.astype(winners.dtype))
        return cls(winners, downsample)

    def covers(self, downsample: float) -> bool:
        """Whether a level of ``downsample`` can be read from the grid."""
        factor = downsample / self.downsample
        return factor >= 1 and factor == int(factor) and int(factor) & (int(factor) - 1) == 0

    def tile(self, downsample: float, y0: int, x0: int, height: int, width: int) -> np.ndarray:
        """Winners (index or -1) of rows ``y0…`` and columns ``x0…`` of a level (see :meth:`covers`)."""
        f = int(downsample // self.downsample)
        out = np.full((height * f, width * f), -1, dtype=self.winners.dtype)
        rows = self.winners[y0 * f : (y0 + height) * f, x0 * f : (x0 + width) * f]
        out[: rows.shape[0], : rows.shape[1]] = rows
        while f > 1:  # halve both sides: the largest of each 2 x 2 block
            out = np.maximum(
                np.maximum(out[0::2, 0::2], out[0::2, 1::2]),
                np.maximum(out[1::2, 0::2], out[1::2, 1::2]),
            )
            f //= 2
        return out
