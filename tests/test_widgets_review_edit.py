"""The Edit and Table tabs on a bare ViewerModel with real cell outputs: ROIs, corrections, the cell table."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from napari.components import ViewerModel
from napari.layers import Layer
from napari.utils.key_bindings import KeymapHandler

from napari_aignostics.platform.results_layout import review_sidecar
from napari_aignostics.results.coords import to_data
from napari_aignostics.results.geojson import read_geojson
from napari_aignostics.results.result_set import ResultSet
from napari_aignostics.results.review import NOT_A_CELL, ReviewModel
from napari_aignostics.results.roi_stats import cells_in
from napari_aignostics.results.tables import ObjectTable
from napari_aignostics.widgets.cell_layers import CellLayers
from napari_aignostics.widgets.cell_table import CellTablePanel
from napari_aignostics.widgets.review_panel import ReviewPanel
from napari_aignostics.widgets.roi_panel import ROI_LAYER, RoiPanel
from napari_aignostics.widgets.viewport import camera_bounds
from napari_aignostics.widgets.workers import WorkerPool

MPP = 0.5


@pytest.fixture
def pool(qtbot: Any) -> Any:
    workers = WorkerPool()
    yield workers
    workers.cancel_all()


@pytest.fixture(scope="module")
def tiles(test_data: Path) -> tuple[ObjectTable, ObjectTable]:
    """The four real cellseg cell tiles and an area tile moved onto a 2000 x 2000 slide."""
    folder = test_data / "annotations" / "cellseg_gsontools"
    cells = ObjectTable.concat(
        [read_geojson(p, offset=(-41000, -87000)) for p in sorted(folder.glob("*_cells.json"))]
    )
    return cells, read_geojson(folder / "x-41000_y-83000_areas.json", offset=(-41000, -83000))


def _result(tiles: tuple[ObjectTable, ObjectTable], item: Path) -> ResultSet:
    """The tiles as if loaded from ``item`` (a fresh review each time)."""
    cells, areas = tiles
    item.mkdir(exist_ok=True)
    return ResultSet(
        "tiles",
        MPP,
        (2000, 2000),
        cells=cells,
        cells_source=str(item / "cells.json"),
        regions=[("areas", areas)],
        review=ReviewModel(cells),
    )


def _show(viewer: ViewerModel, result: ResultSet, *panels: Any) -> CellLayers:
    layers = []
    for data, kwargs, kind in result.layer_data():
        layers.append(viewer.add_layer(Layer.create(data, kwargs, kind)))
    handles = CellLayers.among(layers)
    handles = CellLayers(handles.raster, handles.centroids)  # in-view outlines need a canvas
    for panel in panels:
        panel.show_results(result, handles)
    return handles


def test_rois_follow_corrections_and_come_back(
    tiles: Any, tmp_path: Path, pool: WorkerPool, qtbot: Any
) -> None:
    viewer = ViewerModel()
    result = _result(tiles, tmp_path / "item")
    review_panel = ReviewPanel(viewer)
    panel = RoiPanel(viewer, pool)
    qtbot.addWidget(review_panel)
    qtbot.addWidget(panel)
    handles = _show(viewer, result, review_panel, panel)
    review = result.review
    assert review is not None
    rois = viewer.layers[ROI_LAYER]
    rectangle = to_data(
        np.array([[200.0, 200.0], [1200.0, 200.0], [1200.0, 1400.0], [200.0, 1400.0]])
    )
    with qtbot.waitSignal(panel.stats_shown, timeout=10_000):
        rois.add_rectangles([rectangle])
    assert panel.table.rowCount() == 1
    assert panel.rois()[0].name == "ROI 1" == panel.table.item(0, 0).text()  # an unnamed shape
    first = panel.stats[0]
    assert first.area_mm2 == pytest.approx(1000 * 1200 * MPP**2 / 1e6, rel=1e-6)
    inside = cells_in(review, panel.rois()[0].polygon)
    assert first.count == len(inside) > 100
    assert panel.table.item(0, 2).text() == str(len(inside))

    rois.selected_data = {0}
    panel.select_shown_in_roi()
    assert np.array_equal(panel.selection, inside)
    panel.target_class.setCurrentIndex(review.table.class_names.index("dead"))
    assert handles.raster is not None
    x, y = np.floor(review.table.centroids[inside]).astype(int).T

    dead_rgb = review.styles["dead"].color

    def dead_share() -> float:  # of the inside cells' centroid pixels in the overview's level 0
        tile = np.asarray(handles.raster.data[0][y.min() : y.max() + 1, x.min() : x.max() + 1])
        drawn = tile[y - y.min(), x - x.min()]  # RGBA, as napari shows it
        return float(np.mean((drawn[:, :3] == dead_rgb).all(axis=1) & (drawn[:, 3] > 0)))

    assert dead_share() < 0.5  # drawn (and cached) before the edit
    with qtbot.waitSignal(panel.stats_shown, timeout=10_000):
        panel.assign.click()
    assert panel.stats[0].counts["dead"] == len(inside)
    assert review_panel.total.text().startswith(f"{len(review.table)} of")  # counts followed
    assert dead_share() > 0.9  # the cached tiles those cells touch were drawn again
    with qtbot.waitSignal(panel.stats_shown, timeout=10_000):
        panel.set_selection(inside[:5])
        panel.not_a_cell.click()
    assert panel.stats[0].count == len(inside) - 5
    assert int(review.shown().sum()) == len(review.table) - 5
    centroids = handles.centroids
    assert centroids is not None and not centroids.visible
    cx, cy = review.table.centroids[inside[0]]
    viewer.camera.center = ((cy - 0.5) * MPP, (cx - 0.5) * MPP)
    viewer.camera.zoom = 4.0
    centroids.visible = True  # shown: the shown cells in view, with their corrected classes
    x0, y0, x1, y1 = camera_bounds(viewer, handles.raster)
    assert x0 <= cx <= x1 and y0 <= cy <= y1
    expected = review.in_view((x0, y0, x1, y1))
    assert inside[0] not in expected and np.isin(inside[5:], expected).any()
    qtbot.waitUntil(lambda: len(centroids.data) == len(expected), timeout=5000)
    assert np.allclose(centroids.data, to_data(review.table.centroids[expected]))
    assert np.allclose(centroids.face_color, review.face_colors(expected))
    centroids.visible = False
    with qtbot.waitSignal(panel.stats_shown, timeout=10_000):
        panel.undo()
    assert panel.stats[0].count == len(inside) and panel.redo_button.isEnabled()
    keys = KeymapHandler()  # what napari asks on a key press: the active layer, then the viewer
    keys.keymap_providers = [handles.raster, viewer]
    with qtbot.waitSignal(panel.stats_shown, timeout=10_000):
        assert keys.press_key("Control-Shift-Z")  # the corrections' redo, with the overview active
    assert panel.stats[0].count == len(inside) - 5 and not panel.redo_button.isEnabled()
    with qtbot.waitSignal(panel.stats_shown, timeout=10_000):
        assert keys.press_key("Control-Z")
    assert panel.stats[0].count == len(inside) and panel.redo_button.isEnabled()
    panel.pick_region.setCurrentIndex(0)
    with qtbot.waitSignal(panel.stats_shown, timeout=10_000):
        panel.add_region.click()
    qtbot.waitUntil(lambda: review_sidecar(tmp_path / "item").is_file(), timeout=10_000)
    qtbot.waitUntil(
        lambda: len(json.loads(review_sidecar(tmp_path / "item").read_text())["rois"]) == 2,
        timeout=10_000,
    )

    exported = panel.export("csv", tmp_path / "rois.csv")
    assert exported is not None
    rows = list(csv.DictReader(exported.open()))
    assert [int(r["cells"]) for r in rows] == [s.count for s in panel.stats]
    annotations = panel.export("geojson", tmp_path / "rois.geojson")
    assert annotations is not None
    features = json.loads(annotations.read_text())["features"]
    assert [f["properties"]["objectType"] for f in features] == ["annotation", "annotation"]
    assert features[1]["properties"]["classification"]["name"] == result.regions[0][1].classes[0]

    # close and reopen: the corrections and both ROIs are back
    again = ViewerModel()
    reopened = _result(tiles, tmp_path / "item")
    panel2 = RoiPanel(again, pool)
    qtbot.addWidget(panel2)
    with qtbot.waitSignal(panel2.stats_shown, timeout=10_000):
        _show(again, reopened, panel2)
    assert reopened.review is not None
    assert np.array_equal(reopened.review.class_codes, review.class_codes)
    assert len(again.layers[ROI_LAYER].data) == 2
    assert [s.count for s in panel2.stats] == [s.count for s in panel.stats]
    assert [r.kind for r in panel2.rois()] == ["rectangle", "region"]
    assert panel2.undo_button.isEnabled()


def test_cell_table_sorts_filters_and_jumps(
    tiles: Any, tmp_path: Path, pool: WorkerPool, qtbot: Any
) -> None:
    viewer = ViewerModel()
    result = _result(tiles, tmp_path / "item")
    panel = CellTablePanel(viewer, pool)
    qtbot.addWidget(panel)
    panel.show_results(result)
    model = panel.model
    assert model is not None and panel.source.count() == 2
    review = result.review
    assert review is not None
    qtbot.waitUntil(
        lambda: panel.count.text().startswith(f"{len(review.table)} of"), timeout=10_000
    )
    area = model.columns["area_um2"]
    column = model.headers.index("area_um2")
    panel.sort(column, descending=True)
    qtbot.waitUntil(lambda: area[model.rows[0]] == area.max(), timeout=10_000)
    assert np.all(np.diff(area[model.rows]) <= 0)
    assert model.data(model.index(0, column)) == f"{area.max():.4g}"

    panel.class_filter.setCurrentIndex(review.table.class_names.index("inflammatory") + 1)
    expected = int((review.table.classes == "inflammatory").sum())
    qtbot.waitUntil(lambda: model.rowCount() == expected, timeout=10_000)
    assert {model.data(model.index(r, 1)) for r in range(model.rowCount())} == {"inflammatory"}
    assert np.all(np.diff(area[model.rows]) <= 0)  # still sorted
    review.set_classes(model.rows[:3], NOT_A_CELL)  # a correction leaves the filtered rows
    qtbot.waitUntil(lambda: model.rowCount() == expected - 3, timeout=10_000)

    assert not panel.low.isEnabled()  # no range until a column is picked
    panel.column.setCurrentText("area_um2")  # the range spans the column: nothing left out yet
    assert panel.low.isEnabled() and panel.low.value() < area.min() <= area.max() < panel.high.value()
    qtbot.wait(50)
    qtbot.waitUntil(lambda: model.rowCount() == expected - 3, timeout=10_000)
    median = float(np.median(area[model.rows]))
    panel.low.setValue(median)
    panel.low.editingFinished.emit()
    kept = int((area[model.rows] >= round(median, 3)).sum())
    qtbot.waitUntil(lambda: model.rowCount() == kept, timeout=10_000)
    assert area[model.rows].min() >= round(median, 3)
    panel.column.setCurrentIndex(0)

    index = panel.jump_to(0)
    assert index == model.rows[0]
    center, zoom = review.jump_target(index, MPP)
    assert tuple(viewer.camera.center[-2:]) == pytest.approx(center)
    assert viewer.camera.zoom == pytest.approx(zoom)
    marker = viewer.layers["highlighted object"]
    assert np.allclose(marker.data[0], to_data(review.table.centroids[[index]])[0])

    panel.source.setCurrentIndex(1)  # the tissue regions
    assert panel.model is not model and panel.model is not None
    qtbot.waitUntil(lambda: panel.model is not None and panel.model.rowCount() == 5, timeout=10_000)
