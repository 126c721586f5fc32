"""Results → napari ``LayerData`` tuples ``(data, kwargs, layer_type)``, aligned with the slide."""

from __future__ import annotations

from weakref import ref

import numpy as np

from ..slides.layers import LayerData
from .coords import raster_placement, to_data, world_scale
from .density import DensityMap, Hotspot
from .heatmap import TileHeatmap
from .outlines import empty_outlines
from .overview_rgba import Palette, RgbaLevel, class_palette, rgba_levels
from .raster import CHUNK, RasterLevel, class_raster
from .review import CONFIDENCE_STEPS, ReviewModel
from .segmap import ClassMap
from .tables import ObjectTable

__all__ = [
    "CELLS_KEY",
    "OVERVIEW_KEY",
    "ARTIFACT_KEY",
    "cell_layers",
    "class_map_layer",
    "contour_labels",
    "tissue_map_look",
    "density_layer",
    "heatmap_layer",
    "hotspot_layer",
    "layer_name",
    "measure_layer",
    "overview_features",
    "is_overview",
    "overview_layer",
    "overview_palette",
    "placeholder_overview",
    "predraw_like",
    "region_layer",
    "shapes_data",
]

CELLS_KEY = "napari_aignostics_cells"
OVERVIEW_KEY = "napari_aignostics_overview"
"""Layer metadata: the layer is a cells overview (RGBA levels of a code raster)."""
ARTIFACT_KEY = "artifact"
"""Layer metadata: the artifact (file stem) a layer shows."""
POINT_SIZE_PX = 8.0
SHORT_NAMES = (
    ("_segmentation_map_image", " map"),
    ("_geojson_polygons", " regions"),
    ("_parquet_polygons", " regions"),
    ("tissue_segmentation", "tissue"),
    ("tissue_qc", "tissue QC"),
)


def layer_name(slide: str, stem: str) -> str:
    """A short layer name grouped under its slide: ``slide · tissue map``."""
    short = stem
    for suffix, replacement in SHORT_NAMES:
        short = short.replace(suffix, replacement)
    return f"{slide} · {short.replace('_', ' ').strip()}"


def contour_labels(labels: np.ndarray, width: int = 1) -> np.ndarray:
    """Only the borders of each labelled region (a tissue map drawn as contours)."""
    edge = np.zeros(labels.shape, dtype=bool)
    edge[:-1, :] |= labels[:-1, :] != labels[1:, :]
    edge[1:, :] |= labels[1:, :] != labels[:-1, :]
    edge[:, :-1] |= labels[:, :-1] != labels[:, 1:]
    edge[:, 1:] |= labels[:, 1:] != labels[:, :-1]
    for _ in range(width - 1):
        edge[1:, :] |= edge[:-1, :].copy()
        edge[:, 1:] |= edge[:, :-1].copy()
    return np.where(edge, labels, 0).astype(labels.dtype)


def class_map_layer(
    name: str,
    classes: ClassMap,
    slide_mpp: float | None,
    slide_size: tuple[int, int] | None,
    contours: bool = True,
) -> LayerData:
    """A low-resolution class map as an RGBA image of its classes over the slide (per-axis
    scale, half-pixel shift).

    Drawn as class-coloured contours by default, so the H&E stays visible (``contours=False``:
    filled); the status bar names the class under the cursor. The filled map stays in
    ``metadata["tissue_map"]`` so that :func:`tissue_map_look` can switch between the two.
    """
    h, w = classes.labels.shape
    if classes.mpp and slide_mpp:
        downsample = (classes.mpp / slide_mpp, classes.mpp / slide_mpp)
    elif slide_size:
        downsample = (slide_size[1] / h, slide_size[0] / w)
    else:
        downsample = (1.0, 1.0)
    scale, translate = raster_placement(downsample, slide_mpp)
    _, units = world_scale(slide_mpp)
    palette = class_palette({0: ("background", (0, 0, 0)), **classes.classes})
    data, opacity = tissue_map_look(classes.labels, contours, palette)
    return (
        data,
        {
            "name": name,
            "rgb": True,
            "contrast_limits": (0, 255),
            "scale": scale,
            "translate": translate,
            "units": units,
            "opacity": opacity,
            "interpolation2d": "nearest",
            "metadata": {
                "classes": {i: n for i, (n, _c) in classes.classes.items()},
                "tissue_map": classes.labels,
                "legend": {n: c for i, (n, c) in classes.classes.items() if i},
            },
        },
        "image",
    )


def tissue_map_look(
    labels: np.ndarray, contours: bool, palette: Palette
) -> tuple[RgbaLevel, float]:
    """A tissue map's image and opacity: class-coloured contours, or a translucent fill."""
    if contours:
        return RgbaLevel(contour_labels(labels), palette), 0.9
    return RgbaLevel(labels, palette), 0.35


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
    colors[:, 3] = 0.0  # contours: the tissue stays visible
    return (
        shapes_data(table, np.arange(len(table))),
        {
            "name": name,
            "shape_type": "polygon",
            "scale": scale,
            "units": units,
            "face_color": colors,
            "edge_color": edge,
            "edge_width": 3.0,
            "features": table.features(),
            "opacity": 0.9,
            "metadata": {"legend": dict(table.colors)},
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
    """Overview raster (lazy multiscale RGBA Image), in-view centroids (Points) and in-view
    outlines (an RGBA Image).

    The centroids and outlines layers start empty: the review panel fills them with the shown
    cells in view. The centroids layer carries a weak reference to the review model
    (``metadata[CELLS_KEY]["review"]``: napari may keep a removed layer a while, the cells must
    not stay with it), so saving it writes the shown cells with their corrections.
    """
    scale, units = world_scale(slide_mpp)
    meta = {CELLS_KEY: {"name": name, "source": source}}
    overview = overview_layer(name, review, slide_mpp, slide_size, source)
    points: LayerData = (
        np.zeros((0, 2)),
        {
            "name": f"{name} · centroids",
            "scale": scale,
            "units": units,
            "border_width": 0,
            "size": POINT_SIZE_PX,
            "opacity": review.opacity,
            "metadata": {CELLS_KEY: {"name": name, "source": source, "review": ref(review)}},
            "visible": False,
        },
        "points",
    )
    outlines: LayerData = (
        empty_outlines().rgba,
        {
            "name": f"{name} · outlines",
            "rgb": True,
            "scale": scale,
            "units": units,
            "metadata": meta,
        },
        "image",
    )
    return [overview, points, outlines]


def overview_layer(
    name: str,
    review: ReviewModel,
    slide_mpp: float | None,
    slide_size: tuple[int, int],
    source: str | None = None,
) -> LayerData:
    """The cells' overview: lazy multiscale RGBA, coloured by class and confidence.

    The pixels are the review's raster codes looked up in a palette (:func:`overview_palette`):
    napari draws it as a plain RGBA image, far cheaper to make than a Labels layer.
    """
    scale, units = world_scale(slide_mpp)
    codes = class_raster(review.table, slide_size, review.raster_codes())
    raster = rgba_levels(codes, overview_palette(review))
    single = len(raster) == 1  # napari wants a plain array, not a one-level pyramid
    return (
        raster[0] if single else raster,
        {
            "name": f"{name}",
            "multiscale": not single,
            "rgb": True,
            "contrast_limits": (0, 255),
            "scale": scale,
            "units": units,
            "opacity": review.opacity,
            "interpolation2d": "nearest",
            "metadata": {CELLS_KEY: {"name": name, "source": source}, OVERVIEW_KEY: True},
        },
        "image",
    )


def overview_palette(review: ReviewModel) -> Palette:
    """The colours and class names of the review's overview codes."""
    features = overview_features(review)
    return Palette(review.rgba_lut(), features["class"], features["confidence ≥"])


PREDRAWN_TILES = 12
"""Tiles of the shown overview drawn again for its next version (a screen holds a few)."""


def predraw_like(data: LayerData, shown: LayerData) -> int:
    """Draw the tiles of overview ``data`` that napari last asked ``shown`` for (in a worker,
    before ``data`` replaces ``shown``: the GUI thread then finds them drawn); how many."""
    new, old = _code_levels(data), _code_levels(shown)
    if not new or not old:
        return 0
    keys = old[0].cache.recent(PREDRAWN_TILES)
    for level, row, col in keys:
        if level < len(new):
            new[level][row * CHUNK : (row + 1) * CHUNK, col * CHUNK : (col + 1) * CHUNK]
    return len(keys)


def _code_levels(data: LayerData) -> list[RasterLevel]:
    values = data[0] if isinstance(data[0], list) else [data[0]]
    return [v.codes for v in values if isinstance(v, RgbaLevel) and isinstance(v.codes, RasterLevel)]


def is_overview(data: LayerData) -> bool:
    """``data`` is a cells overview (or the empty one added as a big file starts loading)."""
    return bool(data[1].get("metadata", {}).get(OVERVIEW_KEY))


def placeholder_overview(name: str, slide_mpp: float | None) -> LayerData:
    """An empty, transparent cells overview (multiscale, like a big slide's): added as a big cell
    file starts loading, so napari makes the layer and its visual while the file is read."""
    scale, units = world_scale(slide_mpp)
    return (
        [np.zeros((2, 2, 4), np.uint8), np.zeros((1, 1, 4), np.uint8)],
        {
            "name": name,
            "multiscale": True,
            "rgb": True,
            "contrast_limits": (0, 255),
            "scale": scale,
            "units": units,
            "opacity": 0.0,
            "interpolation2d": "nearest",
            "metadata": {OVERVIEW_KEY: True},
        },
        "image",
    )


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


def overview_features(review: ReviewModel) -> dict[str, np.ndarray]:
    """Per raster code: class name and confidence step (the status bar names, not codes)."""
    codes, names, confidence = [0], ["background"], [np.nan]
    for index, name in enumerate(review.class_names):
        for step in range(review.bins):
            codes.append(index * review.bins + step + 1)
            names.append(name)
            confidence.append(step / CONFIDENCE_STEPS if review.bins > 1 else np.nan)
    return {
        "index": np.array(codes),
        "class": np.array(names, dtype=object),
        "confidence ≥": np.array(confidence),
    }


def measure_layer(
    name: str,
    review: ReviewModel,
    values: np.ndarray,
    slide_mpp: float | None,
    slide_size: tuple[int, int],
) -> LayerData:
    """The cells coloured by a measurement: a lazy multiscale Image of ``values`` (NaN: none).

    ``values`` (float32 per cell, see ``ReviewModel.overview_values``) is read when tiles are
    drawn; the range is the layer's contrast limits, so changing it redraws nothing.
    """
    assert review.color_by is not None
    scale, units = world_scale(slide_mpp)
    levels = class_raster(review.table, slide_size, values)
    single = len(levels) == 1
    return (
        levels[0] if single else levels,
        {
            "name": name,
            "multiscale": not single,
            "scale": scale,
            "units": units,
            "colormap": review.color_by.colormap,
            "contrast_limits": (review.color_by.low, review.color_by.high),
            "opacity": review.opacity,
            "interpolation2d": "nearest",
            "metadata": {"measure": review.color_by.name},
        },
        "image",
    )


def density_layer(name: str, density: DensityMap, slide_mpp: float | None) -> LayerData:
    """A density map as an Image aligned with the slide.

    Grid cells without cells (or without area) are transparent, so the slide shows through.
    """
    scale, translate = raster_placement((density.cell_px, density.cell_px), slide_mpp)
    _, units = world_scale(slide_mpp)
    high = density.peak or 1.0
    return (
        np.where(density.density > 0, density.density, np.float32(np.nan)),
        {
            "name": name,
            "scale": scale,
            "translate": translate,
            "units": units,
            "colormap": "magma",
            "contrast_limits": (0.0, high),
            "opacity": 0.6,
            "interpolation2d": "nearest",
            "metadata": {"density": density.label, "cell_um": density.cell_um},
        },
        "image",
    )


def hotspot_layer(name: str, spots: list[Hotspot], slide_mpp: float | None) -> LayerData:
    """Hotspot windows as rectangles (Shapes), numbered by rank in their features."""
    scale, units = world_scale(slide_mpp)
    boxes = [
        to_data(np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]]))
        for x0, y0, x1, y1 in (spot.box for spot in spots)
    ]
    return (
        boxes,
        {
            "name": name,
            "shape_type": "rectangle",
            "scale": scale,
            "units": units,
            "face_color": "transparent",
            "edge_color": "cyan",
            "edge_width": 4.0,
            "features": {
                "rank": np.arange(1, len(spots) + 1),
                "cells": np.array([s.count for s in spots], dtype=np.int64),
                "per_mm2": np.array([s.density for s in spots]),
            },
            "text": {"string": "#{rank}", "color": "cyan", "size": 12},
        },
        "shapes",
    )
