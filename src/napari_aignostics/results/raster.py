"""A lazy multiscale class raster of many polygons (the overview of millions of cells).

Level ``k`` has one pixel per ``2**k`` level-0 pixels. Only the chunks napari asks for are drawn:
the spatial index finds the polygons in a chunk; fine levels fill the polygons (PIL), coarse
levels stamp the centroids (cells are a few level-0 pixels across). Nothing is held in memory
beyond the chunks being drawn.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import dask.array as da
import numpy as np
from PIL import Image, ImageDraw

from .tables import ObjectTable

__all__ = ["class_raster", "render_chunk"]

CHUNK = 1024
POLYGON_LEVELS = 2
"""Levels 0 and 1 fill polygons; coarser ones stamp centroids."""


def render_chunk(
    table: ObjectTable,
    codes: np.ndarray,
    downsample: float,
    y0: int,
    x0: int,
    height: int,
    width: int,
    fill: bool,
) -> np.ndarray:
    """Label codes (one per object, 0 = background) of one raster chunk.

    The chunk covers rows ``y0…`` and columns ``x0…`` of the level with ``downsample``.
    """
    out = np.zeros((height, width), dtype=codes.dtype)
    hits = table.query(
        (x0 * downsample, y0 * downsample, (x0 + width) * downsample, (y0 + height) * downsample)
    )
    if hits.size == 0:
        return out
    if not fill:
        xy = table.centroids[hits] / downsample
        cols = np.floor(xy[:, 0]).astype(np.int64) - x0
        rows = np.floor(xy[:, 1]).astype(np.int64) - y0
        inside = (rows >= 0) & (rows < height) & (cols >= 0) & (cols < width)
        out[rows[inside], cols[inside]] = codes[hits[inside]]
        return out
    image = Image.new("L" if codes.dtype == np.uint8 else "I", (width, height), 0)
    draw = ImageDraw.Draw(image)
    coords, offsets = table.geometry.exteriors(hits)
    flat = (coords / downsample - (x0, y0)).ravel().tolist()
    for k in range(hits.size):
        ring = flat[2 * offsets[k] : 2 * offsets[k + 1]]
        if len(ring) >= 6:
            draw.polygon(ring, fill=int(codes[hits[k]]))
    return np.asarray(image).astype(codes.dtype, copy=False)


def class_raster(
    table: ObjectTable, slide_size: tuple[int, int], codes: np.ndarray | None = None
) -> list[da.Array]:
    """Levels (level 0 = slide level 0) down to about 1024 px, as lazy dask arrays.

    Pixels hold ``codes`` (one per object; the class index by default), as uint8 when they fit.

    The graphs are written directly (one task per chunk): ``map_blocks`` would spend more time
    describing the ten thousand chunks of a 100000-pixel-wide slide than drawing the first one.
    """
    from dask.highlevelgraph import HighLevelGraph

    width, height = slide_size
    codes = table.class_index() if codes is None else codes
    dtype = np.uint8 if not len(codes) or int(codes.max()) < 256 else np.uint16
    codes = codes.astype(dtype, copy=False)
    levels = []
    level = 0
    while True:
        downsample = 2**level
        h, w = max(1, -(-height // downsample)), max(1, -(-width // downsample))
        rows, cols = _chunks(h), _chunks(w)
        draw = partial(render_chunk, table, codes, float(downsample), fill=level < POLYGON_LEVELS)
        name = f"cells-raster-{id(table)}-{level}"
        graph: dict[Any, Any] = {
            (name, i, j): (draw, i * CHUNK, j * CHUNK, rh, cw)
            for i, rh in enumerate(rows)
            for j, cw in enumerate(cols)
        }
        levels.append(
            da.Array(
                HighLevelGraph.from_collections(name, graph, dependencies=()),
                name,
                chunks=(rows, cols),
                dtype=dtype,
                meta=np.empty((0, 0), dtype),
            )
        )
        if max(h, w) <= CHUNK:
            return levels
        level += 1


def _chunks(size: int) -> tuple[int, ...]:
    full, rest = divmod(size, CHUNK)
    return (CHUNK,) * full + ((rest,) if rest else ())
