"""Perimeter and convex area of every label of a label image at once, as ``regionprops`` defines
them (``perimeter`` with 4-connectivity, ``area_convex``), without a Python loop per label."""

from __future__ import annotations

import math

import numpy as np
import shapely

__all__ = ["label_convex_areas", "label_perimeters"]

_WEIGHTS = np.zeros(50)
_WEIGHTS[[5, 7, 15, 17, 25, 27]] = 1
_WEIGHTS[[21, 33]] = math.sqrt(2)
_WEIGHTS[[13, 23]] = (1 + math.sqrt(2)) / 2
_SIDES = ((0, 1), (2, 1), (1, 0), (1, 2))
_CORNERS = ((0, 0), (0, 2), (2, 0), (2, 2))


def _border(padded: np.ndarray) -> np.ndarray:
    """Pixels of a label (in a 1-px padded label image) with a 4-neighbour outside the label."""
    centre = padded[1:-1, 1:-1]
    interior = np.ones(centre.shape, dtype=bool)
    for dr, dc in _SIDES:
        interior &= padded[dr : dr + centre.shape[0], dc : dc + centre.shape[1]] == centre
    return (centre > 0) & ~interior


def label_perimeters(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``skimage.measure.perimeter(labels == k, 4)`` for every label ``k`` (index ``k``), and the
    (row, col) of every label's border pixels."""
    padded = np.pad(labels, 1)
    border = np.pad(_border(padded), 1)
    rows, cols = np.nonzero(border[1:-1, 1:-1])
    own = labels[rows, cols]
    code = np.ones(len(rows), dtype=np.int64)
    for offsets, weight in ((_SIDES, 2), (_CORNERS, 10)):
        for dr, dc in offsets:
            r, c = rows + dr, cols + dc
            code += weight * (border[r, c] & (padded[r, c] == own))
    n = int(labels.max()) + 1
    return np.bincount(own, weights=_WEIGHTS[code], minlength=n), np.stack([rows, cols], axis=1)


def label_convex_areas(labels: np.ndarray, border: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """``regionprops``' ``area_convex`` (pixels whose centre is in or on the convex hull of the
    label's pixel diamonds) for the labels ``wanted`` (ascending), from their border pixels."""
    own = labels[border[:, 0], border[:, 1]]
    select = np.isin(own, wanted)
    points, own = border[select], own[select]
    order = np.argsort(own, kind="stable")
    points, own = points[order], own[order]
    diamond = np.array([[-0.5, 0.0], [0.5, 0.0], [0.0, -0.5], [0.0, 0.5]])
    corners = (points[:, None, :] + diamond).reshape(-1, 2)
    index = np.searchsorted(wanted, own)
    # a line through every corner has their convex hull (and needs no Python object per point)
    hulls = shapely.convex_hull(shapely.linestrings(corners, indices=np.repeat(index, 4)))
    shapely.prepare(hulls)
    low = np.full((len(wanted), 2), np.iinfo(np.int64).max)
    high = np.full((len(wanted), 2), -1)
    np.minimum.at(low, index, points)
    np.maximum.at(high, index, points)
    size = high - low + 1
    count = size[:, 0] * size[:, 1]
    which = np.repeat(np.arange(len(wanted)), count)
    step = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    r = low[which, 0] + step // size[which, 1]
    c = low[which, 1] + step % size[which, 1]
    inside = shapely.intersects_xy(hulls[which], r.astype(float), c.astype(float))
    return np.bincount(which, weights=inside, minlength=len(wanted))
