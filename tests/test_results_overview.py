"""The coarse overview levels read from the centroid grid: the same pixels as stamping each cell."""

from __future__ import annotations

import numpy as np
import pytest

from napari_aignostics.results.geometry import Polygons
from napari_aignostics.results.raster import class_raster, render_chunk
from napari_aignostics.results.spatial import CentroidGrid
from napari_aignostics.results.tables import ObjectTable


def _squares(centres: np.ndarray, half: float = 2.0) -> ObjectTable:
    """Closed squares around ``centres`` (their centroids are the centres)."""
    corners = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1], [-1, -1]], dtype=np.float64) * half
    coords = (centres[:, None, :] + corners[None]).reshape(-1, 2)
    n = len(centres)
    offsets = np.arange(n + 1, dtype=np.int64)
    return ObjectTable(
        geometry=Polygons(coords, offsets * 5, offsets),
        classes=np.array(["a", "b", "c"], dtype=object)[np.arange(n) % 3],
        colors={"a": (255, 0, 0), "b": (0, 255, 0), "c": (0, 0, 255)},
        ids=np.arange(n).astype(str).astype(object),
    )


def _stamped(table: ObjectTable, codes: np.ndarray, ds: float, y0: int, x0: int, h: int,
             w: int) -> np.ndarray:
    """Each cell's code at its centroid's pixel, in index order (the last one shows)."""
    out = np.zeros((h, w), dtype=codes.dtype)
    for k, (x, y) in enumerate(table.centroids):
        row, col = int(np.floor(y / ds)) - y0, int(np.floor(x / ds)) - x0
        if 0 <= row < h and 0 <= col < w:
            out[row, col] = codes[k]
    return out


def test_grid_tiles_match_stamping_every_cell() -> None:
    rng = np.random.default_rng(3)
    centres = np.concatenate([
        rng.uniform(0, 9000, (3000, 2)),
        np.repeat(rng.uniform(0, 9000, (50, 2)), 4, axis=0),  # several cells share a pixel
        [[-40.0, 100.0], [100.0, -40.0]],  # left of and above the slide
    ])
    table = _squares(centres)
    codes = (np.arange(len(table)) % 250 + 1).astype(np.uint8)
    grid = table.centroid_grid
    assert grid.downsample == 8 and grid.winners.shape == (1125, 1125)
    for ds, (y0, x0, h, w) in [(8, (0, 0, 1125, 1125)), (16, (0, 0, 600, 600)),
                               (32, (100, 40, 200, 300)), (64, (0, 0, 150, 150))]:
        assert grid.covers(ds)
        np.testing.assert_array_equal(render_chunk(table, codes, ds, y0, x0, h, w, fill=False),
                                      _stamped(table, codes, ds, y0, x0, h, w))
    assert not grid.covers(4) and not grid.covers(24)
    np.testing.assert_array_equal(render_chunk(table, codes, 4, 0, 0, 300, 300, fill=False),
                                  _stamped(table, codes, 4, 0, 0, 300, 300))


def test_grid_follows_codes_changed_in_place_and_values_keep_nan() -> None:
    table = _squares(np.array([[100.0, 100.0], [5000.0, 3000.0], [5001.0, 3001.0]]))
    levels = class_raster(table, (8000, 6000))
    top = levels[-1]
    assert table.centroid_grid.covers(top.downsample)
    before = np.asarray(top)
    assert (before > 0).sum() == 2 and set(np.unique(before)) == {0, 1, 3}  # two share a pixel
    top.codes[2] = 2
    top.cache.drop(lambda _key: False)
    after = np.asarray(top)
    assert set(np.unique(after)) == {0, 1, 2}
    values = np.array([0.5, np.nan, 2.0], dtype=np.float32)
    drawn = render_chunk(table, values, top.downsample, 0, 0, *top.shape, fill=False)
    assert np.isnan(drawn).sum() == drawn.size - 2 and np.nansum(drawn) == pytest.approx(2.5)


def test_grid_of_no_cells_and_nan_centroids() -> None:
    empty = CentroidGrid.build(np.zeros((0, 2)))
    assert (empty.tile(4, 0, 0, 3, 3) == -1).all()
    grid = CentroidGrid.build(np.array([[np.nan, 5.0], [9.0, 9.0]]))
    assert grid.tile(4, 0, 0, 4, 4)[2, 2] == 1 and (grid.tile(4, 0, 0, 4, 4) >= 0).sum() == 1
