"""The Edit tab on a real canvas (Xvfb): a drawn ROI is visible and has its table row; the density
controls fit the dock's default width."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely
from napari.layers import Layer
from qtpy.QtWidgets import QWidget

from napari_aignostics.results.coords import to_data
from napari_aignostics.results.geojson import read_geojson
from napari_aignostics.results.result_set import ResultSet
from napari_aignostics.results.review import ReviewModel
from napari_aignostics.results.tables import ObjectTable
from napari_aignostics.widgets.cell_layers import CellLayers
from napari_aignostics.widgets.review_panel import ReviewPanel
from napari_aignostics.widgets.roi_panel import RoiPanel

pytestmark = pytest.mark.gui
MPP = 0.25
SLIDE = (2000, 2000)
DOCK_WIDTH = 400


def _screen(viewer: Any, shot: np.ndarray, world_yx: np.ndarray) -> np.ndarray:
    """Screenshot pixels (row, col) of world (y, x) positions, from the camera."""
    h, w = shot.shape[:2]
    center = np.asarray(viewer.camera.center[-2:])
    return np.floor((world_yx - center) * viewer.camera.zoom + (h / 2, w / 2)).astype(int)


def test_roi_drawn_shows_on_canvas_and_in_table_and_density_fits(
    make_napari_viewer: Any, qtbot: Any, test_data: Path
) -> None:
    folder = test_data / "annotations" / "cellseg_gsontools"
    cells = ObjectTable.concat(
        [read_geojson(p, offset=(-41000, -87000)) for p in sorted(folder.glob("*_cells.json"))]
    )
    result = ResultSet("tile", MPP, SLIDE, cells=cells, review=ReviewModel(cells))
    viewer = make_napari_viewer(show=True)
    white = viewer.add_image(
        np.full((SLIDE[1], SLIDE[0]), 255, np.uint8),
        scale=(MPP, MPP),
        colormap="gray",
        contrast_limits=(0, 255),
        name="white",
    )
    layers = [Layer.create(*data) for data in result.layer_data()]
    for layer in layers:
        viewer.add_layer(layer)
    panel, edit = ReviewPanel(viewer), RoiPanel(viewer)
    for widget in (panel, edit):
        qtbot.addWidget(widget)
        widget.resize(DOCK_WIDTH, 900)
        widget.show()
    panel.show_results(result, CellLayers.among(layers))
    edit.show_results(result, CellLayers.among(layers))

    # an ROI drawn in the ROIs layer: its row appears with the count shapely gives
    shown: list[int] = []
    edit.stats_shown.connect(lambda: shown.append(1))
    box = shapely.box(500, 600, 1300, 1400)
    assert edit.rois_layer is not None
    edit.rois_layer.add_rectangles([to_data(np.asarray(box.exterior.coords)[:-1])])
    qtbot.waitUntil(lambda: bool(shown), timeout=10_000)
    xy = cells.centroids
    inside = int(shapely.contains_xy(box, xy[:, 0], xy[:, 1]).sum())
    assert edit.table.rowCount() == 1 and inside > 20
    assert edit.table.item(0, 0).text() == "ROI 1" and edit.table.item(0, 2).text() == str(inside)
    assert edit.table.item(0, 1).text() == f"{box.area * MPP * MPP / 1e6:.4f}"

    # the ROI on the canvas: yellow along its edges, the white slide inside
    for layer in viewer.layers:
        layer.visible = layer in (white, edit.rois_layer)
    viewer.reset_view()
    qtbot.wait(300)
    shot = viewer.screenshot(canvas_only=True, flash=False)[..., :3].astype(int)
    t = np.linspace(0.1, 0.9, 40)
    x0, y0, x1, y1 = box.bounds
    edges = np.concatenate(
        [
            np.column_stack([np.full_like(t, y0), x0 + t * (x1 - x0)]),
            np.column_stack([np.full_like(t, y1), x0 + t * (x1 - x0)]),
            np.column_stack([y0 + t * (y1 - y0), np.full_like(t, x0)]),
            np.column_stack([y0 + t * (y1 - y0), np.full_like(t, x1)]),
        ]
    )
    spots = _screen(viewer, shot, (edges - 0.5) * MPP)
    near = np.array([shot[r - 2 : r + 3, c - 2 : c + 3].reshape(-1, 3) for r, c in spots])
    yellow = (near[..., 0] > 200) & (near[..., 1] > 200) & (near[..., 2] < 80)
    assert yellow.any(axis=1).mean() > 0.95
    r, c = _screen(viewer, shot, (np.array([[(y0 + y1) / 2, (x0 + x1) / 2]]) - 0.5) * MPP)[0]
    assert (shot[r, c] > 240).all()

    # the density controls are not clipped at the dock's default width
    panel.resize(DOCK_WIDTH, 1200)
    qtbot.wait(100)
    density = panel.density
    assert density.width() <= DOCK_WIDTH
    for child in density.findChildren(QWidget):
        if not child.isVisibleTo(density) or child.parent() is not density:
            continue
        geometry = child.geometry()
        assert geometry.right() < density.width(), child
        assert geometry.width() >= child.minimumSizeHint().width(), child
