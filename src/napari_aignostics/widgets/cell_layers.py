"""Handles to the three layers that show one result set's cells (what the review panel drives)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from napari.layers import Image, Labels, Layer, Points

from ..results.raster import RasterLevel
from ..results.result_layers import CELLS_KEY

__all__ = ["CellLayers", "raster_levels"]


def raster_levels(layer: Layer) -> list[RasterLevel]:
    """The lazily drawn levels behind a raster layer (napari wraps multiscale data)."""
    data = layer.data
    if isinstance(data, RasterLevel):
        return [data]
    return [level for level in data if isinstance(level, RasterLevel)]


@dataclass(frozen=True)
class CellLayers:
    """The overview raster, the in-view centroids and the in-view outlines of one result set."""

    raster: Labels | None = None
    centroids: Points | None = None
    """The centroids of the shown cells in view (at most a few thousand), filled in a worker."""
    outlines: Image | None = None
    """An RGBA image of the cells in view, redrawn in a worker when the camera settles."""

    @classmethod
    def among(cls, layers: Sequence[Layer]) -> CellLayers:
        """The cell layers among freshly made layers (marked by the results side when it made them)."""
        cells = [layer for layer in layers if CELLS_KEY in layer.metadata]
        return cls(
            raster=next((lay for lay in cells if isinstance(lay, Labels)), None),
            centroids=next((lay for lay in cells if isinstance(lay, Points)), None),
            outlines=next((lay for lay in cells if isinstance(lay, Image)), None),
        )
