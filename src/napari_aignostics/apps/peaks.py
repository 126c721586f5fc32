"""Maxima of a distance map per object, as ``skimage.feature.peak_local_max`` finds them with
``labels`` (same peaks, same order) without its loop over every object."""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

__all__ = ["object_peaks"]


def object_peaks(distance: np.ndarray, labels: np.ndarray, min_distance: int) -> np.ndarray:
    """(row, col) of each object's maxima: a pixel is a peak when no pixel of its own object
    within ``min_distance`` (Chebyshev) is higher and it is above the image's minimum; peaks of one
    object closer than ``min_distance`` keep the highest (ties: the first in raster order).

    Ordered by label, then highest first, as ``peak_local_max(..., labels=labels,
    exclude_border=False)`` returns them. ``labels`` must label 8-connected objects (so a 3 × 3
    window never sees two objects).
    """
    width = distance.shape[1]
    inside = labels > 0
    top = ndi.maximum_filter(distance, size=2 * min_distance + 1, mode="nearest")
    peak = inside & (distance == top) & (distance > distance.min())
    # a local maximum beaten only by another object's pixels is still its own object's peak
    local = inside & (distance == ndi.maximum_filter(distance, size=3, mode="nearest"))
    for flat in np.flatnonzero(local & ~peak):
        r, c = divmod(int(flat), width)
        window = (
            slice(max(0, r - min_distance), r + min_distance + 1),
            slice(max(0, c - min_distance), c + min_distance + 1),
        )
        own = labels[window] == labels[r, c]
        if distance[r, c] >= distance[window][own].max():
            peak.flat[flat] = True
    found = np.flatnonzero(peak)
    label = labels.ravel()[found].astype(np.int64)
    order = np.lexsort((found, -distance.ravel()[found], label))
    found, label = found[order], label[order]
    rows, cols = np.divmod(found, width)
    # a third axis keeps objects apart: spacing applies within an object only
    points = np.stack([rows, cols, label * (4 * sum(distance.shape))], axis=1)
    keep = _spaced(points, min_distance)
    return np.asarray(points[keep, :2])


def _spaced(points: np.ndarray, spacing: int) -> np.ndarray:
    """Which of ``points`` (integer coordinates, in order of preference) to keep so that no two kept
    are closer than ``spacing`` (Chebyshev): each point not yet rejected is kept and rejects the
    later points closer to it (as ``peak_local_max`` spaces its peaks)."""
    from scipy.spatial import cKDTree

    keep = np.ones(len(points), dtype=bool)
    if len(points) < 2:
        return keep
    tree = cKDTree(points)
    # integer coordinates: closer than ``spacing`` is at most ``spacing - 1``
    near = tree.query_ball_point(points, r=spacing - 1, p=np.inf)
    for i, others in enumerate(near):
        if keep[i]:
            keep[[j for j in others if j > i]] = False
    return keep
