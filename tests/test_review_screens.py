"""Screenshots of the review display (real canvas under Xvfb): colour bar, aligned density map,
transparent background of the colour-by overview."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from napari.layers import Layer

from napari_aignostics.results.geojson import read_geojson
from napari_aignostics.results.result_set import ResultSet
from napari_aignostics.results.review import ReviewModel
from napari_aignostics.results.tables import ObjectTable
from napari_aignostics.widgets.cell_layers import CellLayers
from napari_aignostics.widgets.review_panel import ReviewPanel

pytestmark = pytest.mark.gui
MPP = 0.25
SLIDE = (2000, 2000)


def _screen(viewer: Any, shot: np.ndarray, world_yx: np.ndarray) -> np.ndarray:
    """Screenshot pixels (row, col) of world (y, x) positions, from the camera."""
    h, w = shot.shape[:2]
    center = np.asarray(viewer.camera.center[-2:])
    rc = (world_yx - center) * viewer.camera.zoom + (h / 2, w / 2)
    return np.floor(rc).astype(int)


def test_colour_bar_density_alignment_and_transparent_background(
        make_napari_viewer: Any, qtbot: Any, test_data: Path) -> None:
    folder = test_data / "annotations" / "cellseg_gsontools"
    cells = ObjectTable.concat([read_geojson(p, offset=(-41000, -87000))
                                for p in sorted(folder.glob("*_cells.json"))])
    result = ResultSet("tile", MPP, SLIDE, cells=cells, review=ReviewModel(cells))
    viewer = make_napari_viewer(show=True)
    white = viewer.add_image(np.full((SLIDE[1], SLIDE[0]), 255, np.uint8), scale=(MPP, MPP),
                             colormap="gray", contrast_limits=(0, 255), name="white")
    layers = [Layer.create(*data) for data in result.layer_data()]
    for layer in layers:
        viewer.add_layer(layer)
    panel = ReviewPanel(viewer)
    qtbot.addWidget(panel)
    panel.show()
    panel.show_results(result, CellLayers.among(layers))

    # colour by area: the colour bar is painted with the colormap's ends
    panel.color_by.setCurrentText("area_um2")
    qtbot.waitUntil(lambda: panel.measure_layer is not None, timeout=10_000)
    bar = panel.color_range.bar
    qtbot.waitUntil(bar.isVisible, timeout=5_000)
    image = bar.grab().toImage()
    y = 22  # inside the gradient strip
    left, right = image.pixelColor(6, y), image.pixelColor(bar.width() - 7, y)
    lut = (bar.lut * 255).round()
    assert abs(left.red() - lut[0, 0]) < 12 and abs(left.blue() - lut[0, 2]) < 12
    assert abs(right.red() - lut[-1, 0]) < 12 and abs(right.green() - lut[-1, 1]) < 12

    # the colour-by overview leaves the slide visible where there are no cells (NaN)
    for layer in viewer.layers:
        layer.visible = layer in (white, panel.measure_layer)
    panel.measure_layer.opacity = 1.0
    viewer.reset_view()
    qtbot.wait(300)
    shot = viewer.screenshot(canvas_only=True, flash=False)[..., :3].astype(int)
    grid = np.mgrid[10:2000:40, 10:2000:40].reshape(2, -1).T  # level-0 (y, x)
    empty = np.array([not len(cells.query((x - 12, y - 12, x + 12, y + 12))) for y, x in grid])
    spots = _screen(viewer, shot, (grid[empty] - 0.5) * MPP)
    inside = (spots >= 0).all(1) & (spots[:, 0] < shot.shape[0]) & (spots[:, 1] < shot.shape[1])
    background = shot[spots[inside, 0], spots[inside, 1]]
    assert inside.sum() > 200 and (background > 240).all(axis=1).mean() > 0.98
    cell_px = _screen(viewer, shot, (cells.centroids[:, ::-1] - 0.5) * MPP)
    assert (shot[cell_px[:, 0], cell_px[:, 1]] < 240).any(axis=1).mean() > 0.8

    # density map: every cell's grid cell is drawn where the cell is (50 µm grid, gray scale)
    density = panel.density
    density.grid.setValue(50.0)
    density.map_button.click()
    qtbot.waitUntil(lambda: density.layer is not None, timeout=10_000)
    dm = density.map
    assert dm is not None
    for layer in viewer.layers:
        layer.visible = layer is density.layer
    density.layer.opacity = 1.0
    density.layer.colormap = "gray"
    density.layer.contrast_limits = (0.0, dm.peak)
    qtbot.wait(300)
    shot = viewer.screenshot(canvas_only=True, flash=False)[..., 0].astype(float)
    at = _screen(viewer, shot, (cells.centroids[:, ::-1] - 0.5) * MPP)
    grid = np.floor(cells.centroids / dm.cell_px).astype(int)
    expected = dm.density[grid[:, 1], grid[:, 0]] / dm.peak * 255
    # cells near a grid line may land on either side on screen: the rest must match
    near = (np.abs(cells.centroids / dm.cell_px - np.round(cells.centroids / dm.cell_px)) *
            dm.cell_px < 6).any(axis=1)
    error = np.abs(shot[at[~near, 0], at[~near, 1]] - expected[~near])
    assert (~near).sum() > 800 and np.median(error) < 4 and (error < 12).mean() > 0.98
