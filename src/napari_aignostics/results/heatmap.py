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


def read_tile_csv(path: Path) -> TileHeatmap:
    """Regular tiles → float32 grids (NaN where no tile)."""
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows or not {"minx", "miny", "width", "height"} <= set(rows[0]):
        raise ValueError(f"{path.name}: expected columns minx, miny, width, height and prob_*")
    minx = np.array([float(r["minx"]) for r in rows])
    miny = np.array([float(r["miny"]) for r in rows])
    width, height = float(rows[0]["width"]), float(rows[0]["height"])
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
