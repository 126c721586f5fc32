"""The one coordinate transform of results: level-0 pixels → napari data/world coordinates.

The slide layer's pixel ``j`` (covering level-0 ``[j, j+1)``) has its centre at world ``j * s``
with ``s`` = the slide's scale (µm per pixel, or 1). Result coordinates are continuous level-0
positions, so a point at level-0 ``x`` is at data coordinate ``x - 0.5`` in a layer with the same
scale. A raster whose pixel covers ``d`` level-0 pixels gets scale ``d * s`` and translate
``(d - 1) / 2 * s`` so its borders line up with the slide's.
"""

from __future__ import annotations

import numpy as np

from ..slides.layers import slide_scale

__all__ = ["raster_placement", "to_data", "to_level0", "world_scale"]


def world_scale(mpp: float | None) -> tuple[tuple[float, float], tuple[str, str]]:
    """Scale and units of the slide (and of every vector result layer)."""
    return slide_scale(mpp)


def to_data(xy: np.ndarray) -> np.ndarray:
    """(N, 2) level-0 (x, y) → (N, 2) napari data (row, col) at slide scale."""
    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    return np.subtract(xy[:, ::-1], 0.5, out=np.empty_like(xy))  # one pass, no temporaries


def to_level0(data: np.ndarray) -> np.ndarray:
    """(N, 2) napari data (row, col) at slide scale → (N, 2) level-0 (x, y) (inverse of :func:`to_data`)."""
    data = np.asarray(data, dtype=np.float64)
    return np.column_stack([data[:, -1] + 0.5, data[:, -2] + 0.5])


def raster_placement(
    downsample_yx: tuple[float, float], mpp: float | None
) -> tuple[tuple[float, float], tuple[float, float]]:
    """``scale`` and ``translate`` of a raster whose pixel spans ``downsample`` level-0 pixels."""
    (sy, sx), _units = slide_scale(mpp)
    dy, dx = downsample_yx
    return (dy * sy, dx * sx), ((dy - 1) / 2 * sy, (dx - 1) / 2 * sx)
