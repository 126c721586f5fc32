"""Tile heatmaps (a WSInfer-style CSV of ``minx,miny,width,height,prob_*``) → a grid image."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["TileHeatmap", "read_heatmap_tiff", "read_tile_csv"]


@dataclass
class TileHeatmap:
    """One grid per probability column, each cell one tile."""

    grids: dict[str, np.ndarray]
    tile: tuple[float, float]
    """Tile size (width, height) in level-0 pixels."""
    origin: tuple[float, float]


MAX_TILES = 64 * 1024**2
"""Tile positions a heatmap grid may have (256 MiB per probability as float32)."""


def read_tile_csv(path: Path) -> TileHeatmap:
    """Regular tiles → float32 grids (NaN where no tile)."""
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows or not {"minx", "miny", "width", "height"} <= set(rows[0]):
        raise ValueError(f"{path.name}: expected columns minx, miny, width, height and prob_*")
    minx = np.array([float(r["minx"]) for r in rows])
    miny = np.array([float(r["miny"]) for r in rows])
    width, height = float(rows[0]["width"]), float(rows[0]["height"])
    if not (np.isfinite(minx).all() and np.isfinite(miny).all()):
        raise ValueError(f"{path.name}: tile coordinates must be finite numbers")
    if not (np.isfinite([width, height]).all() and width > 0 and height > 0):
        raise ValueError(f"{path.name}: tile width and height must be positive ({width} x {height})")
    span_x = (minx.max() - minx.min()) / width + 1
    span_y = (miny.max() - miny.min()) / height + 1
    if span_x * span_y > MAX_TILES:
        raise ValueError(
            f"{path.name}: the tiles span {span_x:.3g} x {span_y:.3g} tile positions"
            f" (x {minx.min():.6g}..{minx.max():.6g}, y {miny.min():.6g}..{miny.max():.6g});"
            f" more than {MAX_TILES} would not fit in memory: the coordinates look wrong"
        )
    cols = np.round((minx - minx.min()) / width).astype(int)
    rws = np.round((miny - miny.min()) / height).astype(int)
    grids = {}
    for key in (k for k in rows[0] if k.startswith("prob_")):
        grid = np.full((rws.max() + 1, cols.max() + 1), np.nan, dtype=np.float32)
        grid[rws, cols] = [float(r[key]) for r in rows]
        grids[key.removeprefix("prob_")] = grid
    return TileHeatmap(grids, (width, height), (float(minx.min()), float(miny.min())))


def read_heatmap_tiff(path: Path, slide_size: tuple[int, int] | None) -> TileHeatmap:
    """A single-channel probability TIFF covering the slide (uint8 is scaled to 0–1)."""
    import tifffile

    grid = tifffile.imread(path)
    if grid.ndim != 2:
        raise ValueError(f"{path.name}: a heatmap must have one channel")
    values = grid.astype(np.float32) / (255.0 if grid.dtype == np.uint8 else 1.0)
    height, width = grid.shape
    tile = (slide_size[0] / width, slide_size[1] / height) if slide_size else (1.0, 1.0)
    return TileHeatmap({path.stem: values}, tile, (0.0, 0.0))
