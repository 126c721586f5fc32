"""Density maps, hotspots and colour by measurement on real cell outputs (Qt-free)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import shapely

from napari_aignostics.results import raster
from napari_aignostics.results.density import density_map, find_hotspots, region_of
from napari_aignostics.results.geojson import read_geojson
from napari_aignostics.results.measure_colors import AREA, MeasureColors, numeric_columns
from napari_aignostics.results.review import ReviewModel
from napari_aignostics.results.tables import ObjectTable

MPP = 0.25
SLIDE = (2000, 2000)


@pytest.fixture(scope="module")
def folder(test_data: Path) -> Path:
    return test_data / "annotations" / "cellseg_gsontools"


@pytest.fixture(scope="module")
def cells(folder: Path) -> ObjectTable:
    tables = [read_geojson(p, offset=(-41000, -87000)) for p in sorted(folder.glob("*_cells.json"))]
    return ObjectTable.concat(tables)


@pytest.fixture(scope="module")
def areas(folder: Path) -> ObjectTable:
    """The real tissue areas of one tile, laid over the cell tiles (same 1000 px tile grid)."""
    return read_geojson(folder / "x-41000_y-83000_areas.json", offset=(-41000, -83000))


def _direct_density(xy: np.ndarray, cell_px: float, row: int, col: int) -> int:
    x0, y0 = col * cell_px, row * cell_px
    return int(((xy[:, 0] >= x0) & (xy[:, 0] < x0 + cell_px)
                & (xy[:, 1] >= y0) & (xy[:, 1] < y0 + cell_px)).sum())


def test_density_matches_a_direct_count(cells: ObjectTable) -> None:
    xy = cells.centroids[cells.classes == "inflammatory"]
    dm = density_map(xy, SLIDE, MPP, cell_um=60.0, label="inflammatory")
    assert dm.cell_px == pytest.approx(240.0) and dm.density.shape == (9, 9)
    assert int(dm.counts.sum()) == len(xy)
    rng = np.random.default_rng(3)
    for row, col in rng.integers(0, 8, (20, 2)):  # whole grid cells: 60 × 60 µm
        direct = _direct_density(xy, 240.0, row, col)
        assert dm.counts[row, col] == direct
        assert dm.density[row, col] == pytest.approx(direct / 0.0036, rel=1e-5)
    # the last column is cut by the slide's edge: 80 px of 240, a third of the area
    assert dm.area_mm2[0, -1] == pytest.approx(0.0036 / 3, rel=1e-5)


def test_density_restricted_to_a_tissue_region(cells: ObjectTable, areas: ObjectTable) -> None:
    stroma = region_of(areas, "areastroma")
    assert len(stroma.polygons) >= 1
    xy = cells.centroids
    dm = density_map(xy, SLIDE, MPP, cell_um=50.0, region=stroma)
    union = shapely.union_all(stroma.polygons)
    inside = shapely.contains_xy(union, xy[:, 0], xy[:, 1])
    assert int(dm.counts.sum()) == int(inside.sum()) > 0
    cell_px = dm.cell_px
    errors = []
    for row, col in zip(*np.nonzero(dm.counts), strict=True):
        box = shapely.box(col * cell_px, row * cell_px, (col + 1) * cell_px, (row + 1) * cell_px)
        exact = shapely.area(shapely.intersection(union, box)) * MPP * MPP / 1e6
        errors.append(abs(float(dm.area_mm2[row, col]) - exact) / 0.0025)
    assert max(errors) < 0.03 and float(np.mean(errors)) < 0.01  # of a 50 µm grid cell
    outside = ~np.isfinite(dm.density)
    assert outside.any() and (dm.counts[outside] == 0).all()
    assert "in areastroma" in dm.label


def test_hotspots_match_brute_force(cells: ObjectTable) -> None:
    xy = cells.centroids
    spots = find_hotspots(xy, SLIDE, MPP, window_um=100.0, top=4, steps=4)
    assert len(spots) == 4
    step = 100.0 / MPP / 4
    windows = []
    for i in range(int(SLIDE[1] // step) - 3):
        for j in range(int(SLIDE[0] // step) - 3):
            x0, y0 = j * step, i * step
            n = int(((xy[:, 0] >= x0) & (xy[:, 0] < x0 + 4 * step)
                     & (xy[:, 1] >= y0) & (xy[:, 1] < y0 + 4 * step)).sum())
            windows.append((n, i, j))
    windows.sort(key=lambda w: -w[0])
    picked: list[tuple[int, int, int]] = []
    for n, i, j in windows:
        if len(picked) < 4 and not any(abs(i - a) < 4 and abs(j - b) < 4 for _n, a, b in picked):
            picked.append((n, i, j))
    assert [s.count for s in spots] == [n for n, _i, _j in picked]
    assert all(s.density == pytest.approx(s.count / 0.01) for s in spots)
    for a in spots:  # never overlapping
        for b in spots:
            if a is not b:
                assert a.box[2] <= b.box[0] or b.box[2] <= a.box[0] or \
                    a.box[3] <= b.box[1] or b.box[3] <= a.box[1]
    assert find_hotspots(xy, SLIDE, MPP, window_um=1000.0) == []  # larger than the slide


def test_colour_by_measurement_pixels_and_range(cells: ObjectTable) -> None:
    review = ReviewModel(cells)
    columns = numeric_columns(cells, MPP)
    assert AREA in columns
    area = columns[AREA]
    assert area[0] == pytest.approx(cells.polygon(0).area * MPP * MPP, rel=1e-4)
    review.color_by = MeasureColors.of(AREA, area, "viridis")
    low, high = review.color_by.low, review.color_by.high
    assert low < np.median(area) < high
    lut = review.color_by.lut
    small, large = int(np.argmin(area)), int(np.argmax(area))
    colors = review.face_colors()
    assert np.allclose(colors[small], lut[0]) and np.allclose(colors[large], lut[-1])
    review.color_by.set_range(float(area.min()) - 1, float(area.max()) + 1)
    assert not np.allclose(review.face_colors()[large], lut[-1])  # inside the range now
    with pytest.raises(ValueError, match="low < high"):
        review.color_by.set_range(5, 5)
    # the overview draws the value of each shown cell under it, NaN elsewhere
    review.set_visible("inflammatory", False)
    values = review.overview_values()
    levels = raster.class_raster(cells, SLIDE, values)
    pixels = np.asarray(levels[0])
    x, y = cells.centroids[large]
    assert pixels[int(y), int(x)] == pytest.approx(area[large])
    assert np.isnan(pixels[0:3, 0:3]).all() or not np.isfinite(pixels).all()
    hidden = np.flatnonzero(cells.classes == "inflammatory")
    hx, hy = cells.centroids[hidden[0]]
    assert np.isnan(pixels[int(hy), int(hx)])
    assert np.allclose(review.face_colors(hidden[:3]), review.color_by.colors(hidden[:3]))
    review.color_by = None  # back to class colours in one step
    assert np.allclose(review.face_colors()[large, :3] * 255,
                       review.styles[str(cells.classes[large])].color)
