"""A lazy multiscale class raster of many polygons (the overview of millions of cells).

Level ``k`` has one pixel per ``2**k`` level-0 pixels. Only the chunks napari asks for are drawn:
the spatial index finds the polygons in a chunk; fine levels fill the polygons (PIL), coarse
levels stamp the centroids (cells are a few level-0 pixels across). Nothing is held in memory
beyond the chunks being drawn.
"""

from __future__ import annotations

from typing import Any

import dask.array as da
import numpy as np
import shapely
from PIL import Image, ImageDraw

from .tables import ObjectTable

__all__ = ["class_raster", "render_chunk"]

CHUNK = 1024
POLYGON_LEVELS = 2
"""Levels 0 and 1 fill polygons; coarser ones stamp centroids."""


def render_chunk(
    table: ObjectTable,
    class_index: np.ndarray,
    downsample: float,
    y0: int,
    x0: int,
    height: int,
    width: int,
    fill: bool,
) -> np.ndarray:
    """Class indices of one raster chunk (rows ``y0…``, cols ``x0…`` at ``downsample``)."""
    out = np.zeros((height, width), dtype=np.uint8)  # class indices (< 256 classes)
    box = shapely.box(
        x0 * downsample, y0 * downsample, (x0 + width) * downsample, (y0 + height) * downsample
    )
    hits = table.tree.query(box)
    if hits.size == 0:
        return out
    if not fill:
        xy = table.centroids[hits] / downsample
        cols = np.floor(xy[:, 0]).astype(np.int64) - x0
        rows = np.floor(xy[:, 1]).astype(np.int64) - y0
        inside = (rows >= 0) & (rows < height) & (cols >= 0) & (cols < width)
        out[rows[inside], cols[inside]] = class_index[hits[inside]]
        return out
    image = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(image)
    coords, offsets = shapely.get_coordinates(
        shapely.get_exterior_ring(table.polygons[hits]), return_index=True
    )
    coords = coords / downsample - (x0, y0)
    starts = np.searchsorted(offsets, np.arange(hits.size))
    ends = np.append(starts[1:], len(offsets))
    for k in range(hits.size):
        ring = coords[starts[k] : ends[k]]
        if len(ring) >= 3:
            draw.polygon([tuple(p) for p in ring.tolist()], fill=int(class_index[hits[k]]))
    return np.asarray(image, dtype=np.uint8)


def class_raster(table: ObjectTable, slide_size: tuple[int, int]) -> list[da.Array]:
    """Levels (level 0 = slide level 0) down to about 1024 px, as lazy dask arrays."""
    width, height = slide_size
    class_index = table.class_index()
    levels = []
    level = 0
    while True:
        downsample = 2**level
        h, w = max(1, -(-height // downsample)), max(1, -(-width // downsample))
        chunks = (_chunks(h), _chunks(w))

        def block(
            block_info: Any = None,
            d: float = float(downsample),
            fill: bool = level < POLYGON_LEVELS,
        ) -> np.ndarray:
            info = block_info[None]
            (r0, r1), (c0, c1) = info["array-location"]
            return render_chunk(table, class_index, d, r0, c0, r1 - r0, c1 - c0, fill)

        levels.append(
            da.map_blocks(
                block,
                chunks=chunks,
                dtype=np.uint8,
                meta=np.empty((0, 0), np.uint8),
                name=f"cells-raster-{id(table)}-{level}",
            )
        )
        if max(h, w) <= CHUNK:
            return levels
        level += 1


def _chunks(size: int) -> tuple[int, ...]:
    full, rest = divmod(size, CHUNK)
    return (CHUNK,) * full + ((rest,) if rest else ())
