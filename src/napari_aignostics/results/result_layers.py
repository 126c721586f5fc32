"""Results → napari ``LayerData`` tuples ``(data, kwargs, layer_type)``, aligned with the slide."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..slides.layers import LayerData
from .coords import raster_placement, to_data, world_scale
from .heatmap import TileHeatmap
from .raster import class_raster
from .review import ReviewModel
from .segmap import ClassMap
from .tables import ObjectTable

__all__ = [
    "CELLS_KEY",
    "cell_layers",
    "class_map_layer",
    "heatmap_layer",
    "region_layer",
    "shapes_data",
]

CELLS_KEY = "napari_aignostics_cells"
POINT_SIZE_PX = 8.0


def _colormap(colors: Mapping[int | None, tuple[float, ...]]) -> Any:
    from napari.utils.colormaps import DirectLabelColormap

    return DirectLabelColormap(color_dict=colors)


def class_map_layer(
    name: str, classes: ClassMap, slide_mpp: float | None, slide_size: tuple[int, int] | None
) -> LayerData:
    """A low-resolution class map as Labels over the slide (per-axis scale, half-pixel shift)."""
    h, w = classes.labels.shape
    if classes.mpp and slide_mpp:
        downsample = (classes.mpp / slide_mpp, classes.mpp / slide_mpp)
    elif slide_size:
        downsample = (slide_size[1] / h, slide_size[0] / w)
    else:
        downsample = (1.0, 1.0)
    scale, translate = raster_placement(downsample, slide_mpp)
    colors: dict[int | None, tuple[float, ...]] = {None: (0, 0, 0, 0), 0: (0, 0, 0, 0)}
    for index, (_label, rgb) in classes.classes.items():
        if index:
            colors[index] = (rgb[0] / 255, rgb[1] / 255, rgb[2] / 255, 1.0)
    _, units = world_scale(slide_mpp)
    return (
        classes.labels,
        {
            "name": name,
            "scale": scale,
            "translate": translate,
            "units": units,
            "colormap": _colormap(colors),
            "opacity": 0.5,
            "metadata": {"classes": {i: n for i, (n, _c) in classes.classes.items()}},
        },
        "labels",
    )


def shapes_data(table: ObjectTable, indices: np.ndarray) -> list[np.ndarray]:
    """Exterior rings of the given objects in data coordinates."""
    if len(indices) == 0:
        return []
    coords, offsets = table.geometry.exteriors(indices)
    data = to_data(coords)
    rings = np.split(data, offsets[1:-1])
    return [ring[:-1] if len(ring) > 3 and (ring[0] == ring[-1]).all() else ring for ring in rings]


def region_layer(name: str, table: ObjectTable, slide_mpp: float | None) -> LayerData:
    """Tissue regions (hundreds of polygons) as a Shapes layer with class colours."""
    scale, units = world_scale(slide_mpp)
    review = ReviewModel(table)
    colors = review.face_colors()
    edge = colors.copy()
    colors[:, 3] = 0.35
    return (
        shapes_data(table, np.arange(len(table))),
        {
            "name": name,
            "shape_type": "polygon",
            "scale": scale,
            "units": units,
            "face_color": colors,
            "edge_color": edge,
            "edge_width": 2.0,
            "features": table.features(),
            "opacity": 0.8,
        },
        "shapes",
    )


def cell_layers(
    name: str,
    review: ReviewModel,
    slide_mpp: float | None,
    slide_size: tuple[int, int],
    source: str | None = None,
) -> list[LayerData]:
    """Overview raster (lazy multiscale Labels), centroid Points and in-view outlines (Shapes)."""
    table = review.table
    scale, units = world_scale(slide_mpp)
    raster = class_raster(table, slide_size, review.raster_codes())
    meta = {CELLS_KEY: {"name": name, "source": source}}
    single = len(raster) == 1  # napari wants a plain array, not a one-level pyramid
    overview: LayerData = (
        raster[0] if single else raster,
        {
            "name": f"{name} (overview)",
            "multiscale": not single,
            "scale": scale,
            "units": units,
            "colormap": _colormap(review.label_colors()),
            "opacity": review.opacity,
            "metadata": meta,
        },
        "labels",
    )
    points: LayerData = (
        to_data(table.centroids) if len(table) else np.zeros((0, 2)),
        {
            "name": f"{name} (cells)",
            "scale": scale,
            "units": units,
            "features": table.features(),
            "face_color": review.face_colors(),
            "border_width": 0,
            "size": POINT_SIZE_PX,
            "shown": review.shown(),
            "metadata": meta,
            "visible": False,
        },
        "points",
    )
    outlines: LayerData = (
        [],
        {
            "name": f"{name} (outlines)",
            "shape_type": "polygon",
            "scale": scale,
            "units": units,
            "face_color": "transparent",
            "edge_width": 1.0,
            "metadata": meta,
        },
        "shapes",
    )
    return [overview, points, outlines]


def heatmap_layer(name: str, heatmap: TileHeatmap, key: str, slide_mpp: float | None) -> LayerData:
    """One probability grid as an Image over the slide."""
    grid = heatmap.grids[key]
    scale, translate = raster_placement((heatmap.tile[1], heatmap.tile[0]), slide_mpp)
    name = name if key == name else f"{name} {key}"
    (sy, sx), units = world_scale(slide_mpp)
    translate = (translate[0] + heatmap.origin[1] * sy, translate[1] + heatmap.origin[0] * sx)
    return (
        grid,
        {
            "name": name,
            "scale": scale,
            "translate": translate,
            "units": units,
            "colormap": "inferno",
            "contrast_limits": (0.0, 1.0),
            "opacity": 0.5,
            "interpolation2d": "nearest",
        },
        "image",
    )
