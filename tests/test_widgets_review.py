"""Review display controls on a bare ViewerModel (real cell and tissue outputs, no canvas)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from napari.components import ViewerModel
from napari.layers import Image, Layer, Points, Shapes

from napari_aignostics.results.density import density_map, region_of
from napari_aignostics.results.geojson import read_geojson
from napari_aignostics.results.provenance import Provenance
from napari_aignostics.results.raster import render_chunk
from napari_aignostics.results.result_set import ResultSet
from napari_aignostics.results.review import ReviewModel
from napari_aignostics.results.segmap import ClassMap
from napari_aignostics.results.tables import ObjectTable
from napari_aignostics.widgets.cell_layers import CellLayers, ClassImage, make_layer
from napari_aignostics.widgets.review_panel import ReviewPanel
from napari_aignostics.widgets.viewport import camera_bounds

MPP = 0.25
SLIDE = (2000, 2000)


@pytest.fixture(scope="module")
def tables(test_data: Path) -> tuple[ObjectTable, ObjectTable]:
    """The real cell tiles and the real tissue areas of one tile, on one 2000 px square."""
    folder = test_data / "annotations" / "cellseg_gsontools"
    cells = ObjectTable.concat([read_geojson(p, offset=(-41000, -87000))
                                for p in sorted(folder.glob("*_cells.json"))])
    areas = read_geojson(folder / "x-41000_y-83000_areas.json", offset=(-41000, -83000))
    return cells, areas


@pytest.fixture
def shown(tables: tuple[ObjectTable, ObjectTable],
          qtbot: Any) -> tuple[ViewerModel, ReviewPanel, ResultSet]:
    cells, areas = tables
    tissue = ClassMap(np.repeat(np.repeat(np.array([[0, 1], [2, 1]], np.uint8), 8, 0), 8, 1),
                      {0: ("background", (0, 0, 0)), 1: ("tumor", (200, 0, 0)),
                       2: ("stroma", (0, 200, 0))}, mpp=MPP * SLIDE[0] / 16)
    result = ResultSet("tile", MPP, SLIDE, cells=cells, regions=[("tissue_areas", areas)],
                       maps=[("tissue_segmentation_map", tissue)],
                       review=ReviewModel(cells),
                       provenance=Provenance("local-tme", "1.0", "run-7", "item-3", "tile.svs",
                                             platform="http://127.0.0.1:9"))
    viewer = ViewerModel()
    layers: list[Layer] = []
    for data, kwargs, kind in result.layer_data():
        layers.append(make_layer((data, kwargs, kind)))
        viewer.add_layer(layers[-1])
    panel = ReviewPanel(viewer)
    qtbot.addWidget(panel)
    panel.show_results(result, CellLayers.among(layers))
    yield viewer, panel, result
    panel.pool.cancel_all()


def test_colour_by_measurement_range_and_back(shown: Any, qtbot: Any) -> None:
    viewer, panel, result = shown
    assert [panel.color_by.itemText(i) for i in range(panel.color_by.count())] == \
        ["Class", "area_um2"]
    panel.color_by.setCurrentText("area_um2")
    qtbot.waitUntil(lambda: panel.measure_layer is not None, timeout=10_000)
    layer = panel.measure_layer
    review = panel.review
    assert isinstance(layer, Image) and review is not None and review.color_by is not None
    assert tuple(layer.contrast_limits) == pytest.approx((review.color_by.low, review.color_by.high))
    assert panel.color_range.isVisibleTo(panel) and panel.color_range.bar.isVisibleTo(panel)
    assert panel.color_range.bar.labels()[0] == f"{review.color_by.low:.3g}"
    assert viewer.layers.index(layer) == viewer.layers.index(panel.raster) + 1
    panel.color_range.high.setValue(review.color_by.low + 10.0)  # a range change: limits only
    assert review.color_by.high == pytest.approx(review.color_by.low + 10.0)
    assert tuple(layer.contrast_limits)[1] == pytest.approx(review.color_by.high)
    big = int(np.argmax(review.color_by.values))
    x, y = review.table.centroids[big]
    assert np.asarray(layer.data[0])[int(y), int(x)] == pytest.approx(review.color_by.values[big])
    before = np.asarray(layer.data[0])
    panel.set_class_visible(str(review.table.classes[big]), False)  # hidden cells leave it
    after = np.asarray(layer.data[0])
    fresh = render_chunk(review.table, review.overview_values(), 1.0, 0, 0, *SLIDE, True)
    assert np.array_equal(after, fresh, equal_nan=True)
    assert np.isnan(after).sum() > np.isnan(before).sum()
    panel.color_by.setCurrentText("Class")
    assert panel.measure_layer is None and layer not in viewer.layers
    assert review.color_by is None and not panel.color_range.isVisibleTo(panel)


def test_display_modes_keys_and_status_names(shown: Any, qtbot: Any) -> None:
    viewer, panel, result = shown
    assert isinstance(panel.raster, ClassImage) and isinstance(panel.centroids, Points)
    assert panel.centroids.name == f"{result.name} · cells · centroids"
    panel.display.setCurrentText("Centroids")
    review = panel.review
    cx, cy = review.table.centroids[0]
    viewer.camera.center = ((cy - 0.5) * MPP, (cx - 0.5) * MPP)
    viewer.camera.zoom = 4.0  # zoomed in: the centroids of the shown cells in view, in a worker
    x0, y0, x1, y1 = camera_bounds(viewer, panel.raster)
    expected = review.in_view((x0, y0, x1, y1))
    assert 0 < len(expected) < len(review.table)
    # an answer for the view before the camera moved may land first: wait for this view's
    qtbot.waitUntil(lambda: len(panel.centroids.data) == len(expected), timeout=5000)
    assert panel.centroids.visible and not panel.raster.visible
    # no layer holds every cell: the points are those in view
    assert all(len(lay.data) < len(review.table) for lay in viewer.layers if isinstance(lay, Points))
    assert np.allclose(panel.centroids.face_color, review.face_colors(expected))
    hidden = review.classes_of(expected[:1])[0]
    panel.set_class_visible(hidden, False)  # a toggle: only the shown ones stay
    qtbot.waitUntil(lambda: len(panel.centroids.data) == len(review.in_view((x0, y0, x1, y1))),
                    timeout=5000)
    assert len(panel.centroids.data) < len(expected)
    panel.set_class_visible(hidden, True)
    panel.display.setCurrentText("Fill")
    assert not panel.centroids.visible and panel.raster.visible
    panel.centroids.visible = True  # ticked in the layer list: the centroids in view are drawn
    qtbot.waitUntil(lambda: len(panel.centroids.data) == len(expected), timeout=5000)
    panel.centroids.visible = False
    panel.toggle_detections()
    assert not panel.raster.visible and not panel.outlines.visible
    panel.toggle_detections()
    assert panel.raster.visible
    panel.step_opacity(-30)
    assert panel.raster.opacity == pytest.approx(0.5)
    review = panel.review
    cx, cy = review.table.centroids[0]  # the status bar names the class under the cursor
    status = panel.raster.get_status(((cy - 0.5) * MPP, (cx - 0.5) * MPP), world=True)
    assert review.classes_of(np.array([0]))[0] in status["value"]
    assert "confidence ≥" in status["value"] or review.table.confidence is None
    corner = panel.raster.get_status((0.0, 0.0), world=True)["value"]
    assert "background" in corner or review.object_at(0.5, 0.5) is not None
    tissue = next(lay for lay in viewer.layers if lay.name == "tile · tissue areas")
    assert isinstance(tissue, Shapes) and "areastroma" in tissue.metadata["legend"]
    assert "areastroma" in panel.tissue_legend.text()
    assert "run-7" in panel.provenance.text() and "local platform" in panel.provenance.text()
    assert tissue.metadata["provenance"]["item_id"] == "item-3"
    tissue_map = next(lay for lay in viewer.layers if "tissue_map" in lay.metadata)
    filled = tissue_map.metadata["tissue_map"]
    assert isinstance(tissue_map, ClassImage) and "stroma" in panel.tissue_legend.text()

    def coloured() -> int:  # pixels napari shows with a colour (alpha > 0)
        return int(np.count_nonzero(np.asarray(tissue_map.data)[..., 3]))

    assert 0 < coloured() < np.count_nonzero(filled)  # contours by default
    stroma = np.argwhere(filled == 2)[0]  # the status bar names the tissue class, not a colour
    where = tissue_map.data_to_world(stroma)
    assert "stroma" in tissue_map.get_status(where, world=True)["value"]
    panel.tissue_as.setCurrentText("Fill")
    assert coloured() == np.count_nonzero(filled) and tissue_map.opacity == pytest.approx(0.35)
    rgba = np.asarray(tissue_map.data)
    assert tuple(rgba[tuple(stroma)]) == (0, 200, 0, 255)
    panel.tissue_as.setCurrentText("Contours")
    assert coloured() < np.count_nonzero(filled)
    assert tissue_map.opacity == pytest.approx(0.9)


def test_picked_cell_is_highlighted_with_properties_in_micrometres(shown: Any) -> None:
    viewer, panel, result = shown
    panel.pick(7)
    rows = {panel.picked.item(r, 0).text(): panel.picked.item(r, 1).text()
            for r in range(panel.picked.rowCount())}
    area = result.cells.polygon(7).area * MPP * MPP
    assert float(rows["area (µm²)"]) == pytest.approx(area, rel=1e-3)
    assert float(rows["centroid x (µm)"]) == pytest.approx(result.cells.centroids[7, 0] * MPP,
                                                           rel=1e-3)
    assert panel.picked_layer in viewer.layers and panel.picked_layer.nshapes == 1


def test_density_map_hotspots_and_jump(shown: Any, qtbot: Any) -> None:
    viewer, panel, result = shown
    density = panel.density
    assert density.isEnabled()
    density.cell_class.setCurrentText("inflammatory")
    density.region.setCurrentText("areasquam")
    density.grid.setValue(50.0)
    density.map_button.click()
    qtbot.waitUntil(lambda: density.layer is not None, timeout=10_000)
    layer = density.layer
    cells = result.cells
    keep = cells.classes == "inflammatory"
    direct = density_map(cells.centroids[keep], SLIDE, MPP, 50.0,
                         region_of(result.regions[0][1], "areasquam"))
    shown_density = np.where(direct.counts > 0, direct.density, np.nan)  # empty: transparent
    assert np.array_equal(np.asarray(layer.data), shown_density, equal_nan=True)
    assert layer.name == "tile · density of inflammatory in areasquam"
    assert tuple(layer.contrast_limits) == pytest.approx((0.0, direct.peak))
    # aligned: a counted cell's world position falls in a grid cell that counts it
    row, col = np.argwhere(direct.counts > 0)[0]
    inside = cells.centroids[keep]
    hit = inside[(inside[:, 0] // 200 == col) & (inside[:, 1] // 200 == row)][0]
    world = ((hit[1] - 0.5) * MPP, (hit[0] - 0.5) * MPP)
    data = np.round(layer.world_to_data(world)).astype(int)
    assert (data == (row, col)).all()
    density.region.setCurrentText("Whole slide")
    density.cell_class.setCurrentText("All cells")
    density.window_um.setValue(100.0)
    density.top.setValue(3)
    density.hotspot_button.click()
    qtbot.waitUntil(lambda: density.table.rowCount() == 3, timeout=10_000)
    assert density.hotspot_layer is not None and density.hotspot_layer.nshapes == 3
    assert int(density.table.item(0, 1).text()) == density.hotspots[0].count
    density.jump_to(1)
    x, y = density.hotspots[1].center
    assert tuple(viewer.camera.center[-2:]) == pytest.approx(((y - 0.5) * MPP, (x - 0.5) * MPP))


def test_reclassified_cells_update_counts_and_density(shown: Any, qtbot: Any) -> None:
    viewer, panel, result = shown
    density = panel.density
    density.cell_class.setCurrentText("neoplastic")
    density.grid.setValue(100.0)
    density.map_button.click()
    qtbot.waitUntil(lambda: density.map is not None, timeout=10_000)
    before = int(density.map.counts.sum())
    review = panel.review
    picked = np.flatnonzero(review.classes_of() == "connective")[:40]
    review.set_classes(picked, review.class_code("neoplastic"))
    row = review.class_names.index("neoplastic")
    assert panel.classes.cellWidget(row, 3).format().startswith(str(before + 40))
    qtbot.waitUntil(lambda: int(density.map.counts.sum()) == before + 40, timeout=10_000)
