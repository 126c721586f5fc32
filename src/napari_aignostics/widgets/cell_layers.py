"""Handles to the three layers that show one result set's cells (what the review panel drives)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from napari.layers import Image, Layer, Points

from ..results.overview_rgba import Palette, RgbaLevel
from ..results.raster import RasterLevel
from ..results.result_layers import CELLS_KEY, OVERVIEW_KEY, is_overview
from ..slides.layers import LayerData

if TYPE_CHECKING:
    from napari.components import ViewerModel

__all__ = [
    "CellLayers",
    "ClassImage",
    "add_unselected",
    "make_layer",
    "overview_palette",
    "raster_levels",
    "update_in_place",
]


class ClassImage(Image):
    """An RGBA image of class codes (the cells' overview, a tissue map): the status bar names
    the class under the cursor, not a colour."""

    @property
    def _type_string(self) -> str:
        return "image"  # saved and listed as the image it is

    def _get_value(self, position: Any) -> Any:
        levels = [level for level in _levels(self) if isinstance(level, RgbaLevel)]
        if not levels:
            return super()._get_value(position)
        level = levels[min(int(self.data_level), len(levels) - 1) if self.multiscale else 0]
        codes = level.codes
        # napari centres level k's pixel j on level-0 pixel j * 2**k
        row, col = (int(np.floor(p / level.downsample + 0.5)) for p in position[-2:])
        if not (0 <= row < codes.shape[0] and 0 <= col < codes.shape[1]):
            return None
        return level.palette.describe(int(np.asarray(codes[row, col])))


def add_unselected(viewer: ViewerModel, layer: Layer) -> None:
    """Add ``layer`` without making it the active layer: the user's selection (the slide) stays,
    and napari skips switching its layer controls to the new layer (0.3–1 s of the main thread per
    layer on a busy machine). Without napari's private switch, the layer is added as usual."""
    layers = getattr(viewer, "__wrapped__", viewer).layers  # the list itself, not a plugin's proxy
    before = getattr(layers, "_activate_on_insert", None)
    if before is None:
        viewer.add_layer(layer)
        return
    layers._activate_on_insert = False
    try:
        viewer.add_layer(layer)
    finally:
        layers._activate_on_insert = before


def make_layer(data: LayerData) -> Layer:
    """A napari layer of ``data``; class codes shown as RGBA become a :class:`ClassImage`."""
    values, kwargs, kind = data
    first = values[0] if isinstance(values, list) and values else values
    if kind == "image" and isinstance(first, RgbaLevel):
        return ClassImage(values, **kwargs)
    if is_overview(data):  # the empty overview added as a big cell file starts loading
        return ClassImage(values, **kwargs)
    return Layer.create(*data)


UPDATED_IN_PLACE = ("colormap", "contrast_limits", "features", "scale", "translate", "metadata")
"""The settings a layer takes again when an item is loaded again (its look stays the user's)."""


def update_in_place(layer: Layer, data: LayerData) -> bool:
    """Show ``data`` in ``layer`` when it is a layer of the same kind (no new visual); else False."""
    values, kwargs, kind = data
    if kind not in ("image", "labels", "points") or layer._type_string != kind:
        return False
    if bool(getattr(layer, "multiscale", False)) != bool(kwargs.get("multiscale")):
        return False
    if kind == "image" and bool(getattr(layer, "rgb", False)) != bool(kwargs.get("rgb")):
        return False
    layer.data = values
    for key in UPDATED_IN_PLACE:
        if key in kwargs:
            setattr(layer, key, kwargs[key])
    return True


def _levels(layer: Layer) -> list[Any]:
    data = layer.data
    return [data] if isinstance(data, RasterLevel | RgbaLevel) else list(data)


def raster_levels(layer: Layer) -> list[RasterLevel]:
    """The lazily drawn code levels behind a raster layer (napari wraps multiscale data)."""
    found = [level.codes if isinstance(level, RgbaLevel) else level for level in _levels(layer)]
    return [level for level in found if isinstance(level, RasterLevel)]


def overview_palette(layer: Layer) -> Palette | None:
    """The palette an overview layer's pixels are looked up in (None for other layers)."""
    level = next(iter(_levels(layer)), None) if isinstance(layer, Image) else None
    return level.palette if isinstance(level, RgbaLevel) else None


@dataclass(frozen=True)
class CellLayers:
    """The overview raster, the in-view centroids and the in-view outlines of one result set."""

    raster: Image | None = None
    """The overview: RGBA levels of the review's code raster (:func:`overview_palette`)."""
    centroids: Points | None = None
    """The centroids of the shown cells in view (at most a few thousand), filled in a worker."""
    outlines: Image | None = None
    """An RGBA image of the cells in view, redrawn in a worker when the camera settles."""

    @classmethod
    def among(cls, layers: Sequence[Layer]) -> CellLayers:
        """The cell layers among freshly made layers (marked by the results side when it made them)."""
        cells = [layer for layer in layers if CELLS_KEY in layer.metadata]
        overview = [lay for lay in cells if isinstance(lay, Image) and OVERVIEW_KEY in lay.metadata]
        return cls(
            raster=next(iter(overview), None),
            centroids=next((lay for lay in cells if isinstance(lay, Points)), None),
            outlines=next(
                (lay for lay in cells if isinstance(lay, Image) and lay not in overview), None
            ),
        )
