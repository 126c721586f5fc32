"""A lazy multiscale class raster of many polygons (the overview of millions of cells).

Level ``k`` has one pixel per ``2**k`` level-0 pixels. Only the chunks napari asks for are drawn:
the spatial index finds the polygons in a chunk; fine levels fill the polygons (PIL), coarse
levels stamp the centroids (cells are a few level-0 pixels across), read from the table's
:class:`~.spatial.CentroidGrid` when it is fine enough. Only a bounded cache of drawn tiles is held
in memory.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from .tables import ObjectTable

__all__ = [
    "LazyLevel",
    "RasterLevel",
    "class_raster",
    "expand_index",
    "invalidate_all",
    "invalidate_objects",
    "render_chunk",
]

CHUNK = 1024
CACHED_TILES = 96
"""About 100 MB of uint8 tiles at most."""
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
    Float ``codes`` (values to colour by) draw on a NaN background.
    """
    values = np.issubdtype(codes.dtype, np.floating)
    background = np.nan if values else 0
    if not fill and table.centroid_grid.covers(downsample):
        winners = table.centroid_grid.tile(downsample, y0, x0, height, width)
        drawn = winners >= 0
        out = np.full((height, width), background, dtype=codes.dtype)
        out[drawn] = codes[winners[drawn]]
        return out
    out = np.full((height, width), background, dtype=codes.dtype)
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
    mode = "F" if values else "L" if codes.dtype == np.uint8 else "I"
    image = Image.new(mode, (width, height), background)
    draw = ImageDraw.Draw(image)
    coords, offsets = table.geometry.exteriors(hits)
    flat = (coords / downsample - (x0, y0)).ravel().tolist()
    fills = codes[hits].tolist()
    for k in range(hits.size):
        ring = flat[2 * offsets[k] : 2 * offsets[k + 1]]
        if len(ring) >= 6:
            draw.polygon(ring, fill=fills[k])
    return np.asarray(image).astype(codes.dtype, copy=False)


class TileCache:
    """The most recently drawn tiles of all levels (bounded; shared by the levels of a raster)."""

    def __init__(self, tiles: int = CACHED_TILES) -> None:
        self.tiles = tiles
        self._items: OrderedDict[tuple[int, int, int], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[int, int, int], draw: Callable[[], np.ndarray]) -> np.ndarray:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        tile = draw()
        with self._lock:
            self._items[key] = tile
            while len(self._items) > self.tiles:
                self._items.popitem(last=False)
        return tile

    def recent(self, count: int) -> list[tuple[int, int, int]]:
        """The keys ``(level, row, col)`` of the ``count`` tiles asked for last, newest last."""
        with self._lock:
            return list(self._items)[-count:]

    def drop(self, keep: Callable[[tuple[int, int, int]], bool]) -> int:
        """Forget the tiles ``keep`` says no to (they are drawn again when next asked for)."""
        with self._lock:
            gone = [key for key in self._items if not keep(key)]
            for key in gone:
                del self._items[key]
        return len(gone)


class LazyLevel:
    """What napari asks of a lazily drawn pyramid level besides indexing: its length and, for a
    whole copy, every pixel (``self[:, :]``)."""

    shape: tuple[int, ...]

    def __len__(self) -> int:
        return self.shape[0]

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        out = self[:, :]
        return out if dtype is None else out.astype(dtype)

    def __getitem__(self, key: Any) -> np.ndarray:
        raise NotImplementedError


class RasterLevel(LazyLevel):
    """One overview level: a read-only 2D array whose pixels are drawn when napari slices it.

    It offers what napari needs of layer data (``shape``, ``dtype``, ``ndim``, ``size``,
    ``__getitem__``). A slice is put together from ``CHUNK``-sized tiles, drawn on first use and
    kept in a small cache, so panning redraws only the new tiles.
    """

    def __init__(
        self,
        table: ObjectTable,
        codes: np.ndarray,
        level: int,
        shape: tuple[int, int],
        cache: TileCache,
    ) -> None:
        self.table, self.codes, self.level, self.cache = table, codes, level, cache
        self.shape = shape
        self.dtype = codes.dtype
        self.ndim = 2
        self.size = shape[0] * shape[1]
        self.downsample = float(2**level)
        self.fill = level < POLYGON_LEVELS

    def __getitem__(self, key: Any) -> np.ndarray:
        keys = _expand(key)
        (r0, r1), (c0, c1) = (_span(k, n) for k, n in zip(keys, self.shape, strict=True))
        block = self._block(r0, r1, c0, c1)
        return block[
            tuple(_relative(k, lo, n) for k, lo, n in zip(keys, (r0, c0), self.shape, strict=True))
        ]

    def _block(self, r0: int, r1: int, c0: int, c1: int) -> np.ndarray:
        """Rows ``r0:r1`` and columns ``c0:c1``, from the tiles that cover them."""
        out = np.zeros((max(r1 - r0, 0), max(c1 - c0, 0)), dtype=self.dtype)
        if r1 <= r0 or c1 <= c0:
            return out
        for ti in range(r0 // CHUNK, (r1 - 1) // CHUNK + 1):
            for tj in range(c0 // CHUNK, (c1 - 1) // CHUNK + 1):
                tile = self.cache.get((self.level, ti, tj), partial(self._draw, ti, tj))
                y0, x0 = ti * CHUNK, tj * CHUNK
                ys, ye = max(r0, y0), min(r1, y0 + tile.shape[0])
                xs, xe = max(c0, x0), min(c1, x0 + tile.shape[1])
                out[ys - r0 : ye - r0, xs - c0 : xe - c0] = tile[
                    ys - y0 : ye - y0, xs - x0 : xe - x0
                ]
        return out

    def _draw(self, ti: int, tj: int) -> np.ndarray:
        y0, x0 = ti * CHUNK, tj * CHUNK
        height, width = min(CHUNK, self.shape[0] - y0), min(CHUNK, self.shape[1] - x0)
        return render_chunk(
            self.table, self.codes, self.downsample, y0, x0, height, width, self.fill
        )


def expand_index(key: Any, ndim: int, what: str) -> list[Any]:
    """An index of ``ndim`` axes, one entry per axis: Ellipsis expanded, missing axes as full
    slices; ``IndexError`` naming ``what`` for too many."""
    keys = list(key) if isinstance(key, tuple) else [key]
    if any(k is Ellipsis for k in keys):
        at = next(i for i, k in enumerate(keys) if k is Ellipsis)
        keys[at : at + 1] = [slice(None)] * (ndim - (len(keys) - 1))
    keys += [slice(None)] * (ndim - len(keys))
    if len(keys) != ndim:
        raise IndexError(f"too many indices for {what}: {key!r}")
    return keys


def _expand(key: Any) -> tuple[Any, Any]:
    """A 2D index as (rows, cols)."""
    rows, cols = expand_index(key, 2, "a 2D raster")
    return rows, cols


def _span(key: Any, size: int) -> tuple[int, int]:
    """The range of rows (or columns) an index touches."""
    if isinstance(key, slice):
        covered = range(*key.indices(size))
        return (
            (min(covered[0], covered[-1]), max(covered[0], covered[-1]) + 1) if covered else (0, 0)
        )
    index = np.asarray(key)
    if index.dtype == bool or not np.issubdtype(index.dtype, np.integer):
        raise IndexError(f"the overview raster takes integers and slices, not {key!r}")
    index = np.where(index < 0, index + size, index)
    if index.size and (index.min() < 0 or index.max() >= size):
        raise IndexError(f"index {key!r} is out of bounds for size {size}")
    return (int(index.min()), int(index.max()) + 1) if index.size else (0, 0)


def _relative(key: Any, lo: int, size: int) -> Any:
    """``key`` for the block that starts at ``lo``."""
    if isinstance(key, slice):
        covered = range(*key.indices(size))
        if not covered:
            return slice(0, 0)
        stop = covered[-1] - lo + (1 if covered.step > 0 else -1)
        return slice(covered[0] - lo, stop if stop >= 0 else None, covered.step)
    index = np.asarray(key)
    return np.where(index < 0, index + size, index) - lo


def class_raster(
    table: ObjectTable, slide_size: tuple[int, int], codes: np.ndarray | None = None
) -> list[RasterLevel]:
    """Levels (level 0 = slide level 0) down to about 1024 px, drawn lazily.

    Pixels hold ``codes`` (one per object; the class index, as uint8 when it fits, by default).
    Given ``codes`` are used as they are, not copied: changing some of them in place and
    calling :func:`invalidate_objects` redraws only the tiles those objects touch.
    """
    width, height = slide_size
    if codes is None:
        codes = table.class_index()
        dtype = np.uint8 if not len(codes) or int(codes.max()) < 256 else np.uint16
        codes = codes.astype(dtype, copy=False)
    cache = TileCache()
    levels = []
    level = 0
    while True:
        downsample = 2**level
        h, w = max(1, -(-height // downsample)), max(1, -(-width // downsample))
        levels.append(RasterLevel(table, codes, level, (h, w), cache))
        if max(h, w) <= CHUNK:
            return levels
        level += 1


def invalidate_objects(levels: list[RasterLevel], boxes: np.ndarray) -> int:
    """Forget the cached tiles that meet any level-0 box ``(minx, miny, maxx, maxy)``.

    Called after some objects' codes changed in place; returns how many tiles were dropped.
    """
    if not levels or not len(boxes):
        return 0
    downsample = {level.level: level.downsample for level in levels}
    minx, miny, maxx, maxy = (np.ascontiguousarray(boxes[:, k], dtype=np.float64) for k in range(4))

    def touched(key: tuple[int, int, int]) -> bool:
        """Whether a box meets the tile (the cache holds ~100 tiles: one vector test each)."""
        level, i, j = key
        if level not in downsample:
            return False
        span, margin = CHUNK * downsample[level], downsample[level]  # edges may round outwards
        x0, y0 = j * span - margin, i * span - margin
        x1, y1 = x0 + span + 2 * margin, y0 + span + 2 * margin
        return bool(np.any((minx < x1) & (maxx >= x0) & (miny < y1) & (maxy >= y0)))

    return levels[0].cache.drop(lambda key: not touched(key))


def invalidate_all(levels: list[RasterLevel]) -> int:
    """Forget every cached tile (the codes of many objects changed in place)."""
    return levels[0].cache.drop(lambda _key: False) if levels else 0
