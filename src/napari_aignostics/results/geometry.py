"""Many polygons as flat coordinate arrays (the GeoArrow layout): no Python object per polygon.

Polygon ``i`` owns rings ``geom_offsets[i]:geom_offsets[i + 1]`` (the first is the exterior, the
rest are holes); ring ``r`` owns vertices ``coords[ring_offsets[r]:ring_offsets[r + 1]]``. A million
cells cost their vertices (16 bytes each) and two offset arrays. Shapely objects are made only for
the few polygons that need them (a lookup under the cursor, an export).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely

__all__ = ["Polygons", "concat_ranges", "offsets_of"]

BLOCK = 16_384
"""Polygons per block for the vectorised area and centroid sums (bounds the temporaries)."""


def concat_ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """``concatenate([arange(s, s + c) for s, c in zip(starts, counts)])``, vectorised."""
    counts = np.asarray(counts, dtype=np.int64)
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    before = np.cumsum(counts) - counts
    return np.repeat(np.asarray(starts, dtype=np.int64) - before, counts) + np.arange(total)


def offsets_of(counts: np.ndarray) -> np.ndarray:
    """Offsets (``len(counts) + 1``, from 0) of consecutive runs of ``counts`` items."""
    out = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=out[1:])
    return out


@dataclass
class Polygons:
    """N polygons with holes, in level-0 pixel (x, y)."""

    coords: np.ndarray
    ring_offsets: np.ndarray
    geom_offsets: np.ndarray

    @classmethod
    def empty(cls) -> Polygons:
        """No polygons."""
        zero = np.zeros(1, dtype=np.int64)
        return cls(np.zeros((0, 2)), zero, zero.copy())

    @classmethod
    def from_shapely(cls, geometries: np.ndarray | Sequence[shapely.Polygon]) -> Polygons:
        """Polygons from shapely Polygons (None is not allowed)."""
        geometries = np.asarray(geometries, dtype=object)
        if not len(geometries):
            return cls.empty()
        _kind, coords, (ring_offsets, geom_offsets) = shapely.to_ragged_array(geometries)
        return cls(coords, ring_offsets.astype(np.int64), geom_offsets.astype(np.int64))

    @classmethod
    def concat(cls, parts: Sequence[Polygons]) -> Polygons:
        """All polygons of ``parts``, in order."""
        if not parts:
            return cls.empty()
        coords = np.concatenate([p.coords for p in parts])
        ring_counts = np.concatenate([np.diff(p.ring_offsets) for p in parts])
        geom_counts = np.concatenate([np.diff(p.geom_offsets) for p in parts])
        return cls(coords, offsets_of(ring_counts), offsets_of(geom_counts))

    def __len__(self) -> int:
        return len(self.geom_offsets) - 1

    def take(self, indices: np.ndarray) -> Polygons:
        """The polygons at ``indices`` (vectorised gather)."""
        indices = np.asarray(indices, dtype=np.int64)
        ring_starts = self.geom_offsets[indices]
        ring_counts = self.geom_offsets[indices + 1] - ring_starts
        rings = concat_ranges(ring_starts, ring_counts)
        point_starts = self.ring_offsets[rings]
        point_counts = self.ring_offsets[rings + 1] - point_starts
        points = concat_ranges(point_starts, point_counts)
        return Polygons(self.coords[points], offsets_of(point_counts), offsets_of(ring_counts))

    def exteriors(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Exterior rings of ``indices``: their vertices and offsets (``len(indices) + 1``)."""
        rings = self.geom_offsets[np.asarray(indices, dtype=np.int64)]
        starts = self.ring_offsets[rings]
        counts = self.ring_offsets[rings + 1] - starts
        return self.coords[concat_ranges(starts, counts)], offsets_of(counts)

    def rings(self, index: int) -> list[np.ndarray]:
        """The rings (exterior first) of one polygon."""
        first, last = self.geom_offsets[index], self.geom_offsets[index + 1]
        return [
            self.coords[self.ring_offsets[r] : self.ring_offsets[r + 1]] for r in range(first, last)
        ]

    def to_shapely(self, indices: np.ndarray | None = None) -> np.ndarray:
        """shapely Polygons (all, or those at ``indices``)."""
        sub = self if indices is None else self.take(indices)
        if not len(sub):
            return np.empty(0, dtype=object)
        return shapely.from_ragged_array(
            shapely.GeometryType.POLYGON, sub.coords, (sub.ring_offsets, sub.geom_offsets)
        )

    def bounds(self) -> np.ndarray:
        """(N, 4) ``minx, miny, maxx, maxy`` per polygon (holes lie inside their exterior)."""
        if not len(self):
            return np.zeros((0, 4))
        starts = self.ring_offsets[self.geom_offsets[:-1]]
        x, y = self.coords[:, 0], self.coords[:, 1]
        return np.column_stack(
            [
                np.minimum.reduceat(x, starts),
                np.minimum.reduceat(y, starts),
                np.maximum.reduceat(x, starts),
                np.maximum.reduceat(y, starts),
            ]
        )

    def _ring_sums(self, first: int, last: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per ring of rings ``first:last``: twice the signed area and the centroid moments.

        Vertices are taken relative to each ring's first vertex (no cancellation far from 0);
        edges are consecutive vertices, plus each ring's closing edge (last → first).
        """
        starts = self.ring_offsets[first:last]
        counts = self.ring_offsets[first + 1 : last + 1] - starts
        lo, hi = int(self.ring_offsets[first]), int(self.ring_offsets[last])
        xy = self.coords[lo:hi] - np.repeat(self.coords[starts], counts, axis=0)
        x, y = xy[:, 0], xy[:, 1]
        ends = np.cumsum(counts) - 1  # local index of each ring's last vertex
        cross = np.empty(hi - lo)
        sx = np.empty(hi - lo)
        sy = np.empty(hi - lo)
        np.subtract(x[:-1] * y[1:], x[1:] * y[:-1], out=cross[:-1])
        np.add(x[:-1], x[1:], out=sx[:-1])
        np.add(y[:-1], y[1:], out=sy[:-1])
        # each ring's last vertex closes to its own first vertex, which is (0, 0) here
        cross[ends] = 0.0
        sx[ends] = x[ends]
        sy[ends] = y[ends]
        local = starts - lo
        area2 = np.add.reduceat(cross, local)
        mx = np.add.reduceat(sx * cross, local)
        my = np.add.reduceat(sy * cross, local)
        return area2, mx, my

    def areas(self) -> np.ndarray:
        """Area per polygon (exterior minus holes), in level-0 px²."""
        out = np.zeros(len(self))
        for g0 in range(0, len(self), BLOCK):
            g1 = min(g0 + BLOCK, len(self))
            r0, r1 = int(self.geom_offsets[g0]), int(self.geom_offsets[g1])
            area2 = np.abs(self._ring_sums(r0, r1)[0]) / 2
            owner = np.repeat(np.arange(g1 - g0), np.diff(self.geom_offsets[g0 : g1 + 1]))
            exterior = self.geom_offsets[g0:g1] - r0
            signed = np.where(np.isin(np.arange(r1 - r0), exterior), area2, -area2)
            out[g0:g1] = np.bincount(owner, weights=signed, minlength=g1 - g0)
        return out

    def centroids(self) -> np.ndarray:
        """(N, 2) centroid (x, y) of each exterior ring (vertex mean when it has no area)."""
        out = np.zeros((len(self), 2))
        for g0 in range(0, len(self), BLOCK):
            g1 = min(g0 + BLOCK, len(self))
            exterior = self.geom_offsets[g0:g1]
            starts = self.ring_offsets[exterior]
            counts = self.ring_offsets[exterior + 1] - starts
            if len(self.ring_offsets) - 1 == len(self):  # no holes: exteriors are contiguous
                ring, first = self, g0
            else:
                points = concat_ranges(starts, counts)
                ring = Polygons(self.coords[points], offsets_of(counts), np.arange(g1 - g0 + 1))
                first = 0
            area2, mx, my = ring._ring_sums(first, first + g1 - g0)
            origin = self.coords[starts]
            flat = np.abs(area2) < 1e-9
            with np.errstate(invalid="ignore", divide="ignore"):
                cx = mx / (3 * area2)
                cy = my / (3 * area2)
            for k in np.flatnonzero(flat):  # degenerate rings: the mean of their vertices
                vertices = self.coords[starts[k] : starts[k] + counts[k]]
                cx[k], cy[k] = vertices.mean(axis=0) - origin[k]
            out[g0:g1, 0] = origin[:, 0] + cx
            out[g0:g1, 1] = origin[:, 1] + cy
        return out
