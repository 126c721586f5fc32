"""Maxima of a distance map per object, as ``skimage.feature.peak_local_max`` finds them with
``labels`` (same peaks, same order) without its loop over every object."""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi
from skimage._shared.coord import ensure_spacing

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
    keep = np.ones(len(points), dtype=bool)
    crowded = _crowded(points, min_distance)
    if len(crowded):
        spaced = ensure_spacing(points[crowded], spacing=min_distance, p_norm=np.inf)
        keep[crowded] = False
        kept = np.isin(found[crowded], spaced[:, 0] * width + spaced[:, 1])
        keep[crowded[kept]] = True
    return np.asarray(points[keep, :2])


def _crowded(points: np.ndarray, spacing: int) -> np.ndarray:
    """Indices (ascending) of the points with another point closer than ``spacing``."""
    from scipy.spatial import cKDTree

    if len(points) < 2:
        return np.zeros(0, dtype=np.int64)
    pairs = cKDTree(points).query_pairs(spacing, p=np.inf, output_type="ndarray")
    return np.unique(pairs) if len(pairs) else np.zeros(0, dtype=np.int64)
