"""In-view outlines: drawn into an RGBA image in a worker, placed exactly over the cells."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from napari.layers import Layer

from napari_aignostics.results.geometry import Polygons
from napari_aignostics.results.outlines import draw_outlines
from napari_aignostics.results.result_set import ResultSet
from napari_aignostics.results.review import ReviewModel
from napari_aignostics.results.tables import ObjectTable

MPP = 0.5


def _squares(corners: list[tuple[float, float]], side: float = 10.0) -> ObjectTable:
    """Closed square cells with top-left level-0 (x, y) ``corners``, classes A and B in turn."""
    rings = [
        np.array([[x, y], [x + side, y], [x + side, y + side], [x, y + side], [x, y]])
        for x, y in corners
    ]
    offsets = np.arange(0, 5 * len(rings) + 1, 5, dtype=np.int64)
    geometry = Polygons(np.vstack(rings), offsets, np.arange(len(rings) + 1, dtype=np.int64))
    classes = np.array(["A", "B"] * (len(rings) // 2) + ["A"] * (len(rings) % 2), dtype=object)
    return ObjectTable(
        geometry=geometry,
        classes=classes,
        colors={"A": (255, 0, 0), "B": (0, 0, 255)},
        ids=np.array([f"c{i}" for i in range(len(rings))], dtype=object),
    )


def test_outlines_are_drawn_on_the_rings_in_their_colours() -> None:
    table = _squares([(20.0, 40.0), (60.0, 10.0)])
    review = ReviewModel(table)
    indices = np.arange(2)
    image = draw_outlines(table, indices, review.face_colors(indices), (0, 0, 100, 80), 1.0)
    assert image.rgba.shape == (80, 100, 4) and image.count == 2
    drawn = image.rgba[..., 3] > 0
    assert drawn[40, 20:31].all() and drawn[40:51, 30].all()  # top and right edges of the first
    assert not drawn[42:49, 22:29].any() and not drawn[:5].any()  # inside and far away: clear
    assert tuple(image.rgba[40, 25]) == (255, 0, 0, 255)
    assert tuple(image.rgba[10, 65]) == (0, 0, 255, 255)
    finer = draw_outlines(table, indices[:1], review.face_colors(indices[:1]), (0, 0, 100, 80), 0.5)
    assert finer.rgba.shape == (160, 200, 4)  # two image pixels per level-0 pixel, 1.5 px wide
    assert (finer.rgba[80:82, 50, 3] > 0).all() and finer.rgba[84, 50, 3] == 0


def _grid_in_review(make_napari_viewer: Any, qtbot: Any) -> tuple[Any, Any, Any, Any]:
    """A real viewer showing a grid of 10 px squares every 40 px through the Review panel."""
    from napari_aignostics.widgets.cell_layers import CellLayers
    from napari_aignostics.widgets.review_panel import ReviewPanel

    corners = [(float(x), float(y)) for x in range(100, 3900, 40) for y in range(100, 3900, 40)]
    table = _squares(corners)
    result = ResultSet("grid", MPP, (4000, 4000), cells=table, review=ReviewModel(table))
    viewer = make_napari_viewer(show=True)
    layers = [Layer.create(*data) for data in result.layer_data()]
    for layer in layers:
        viewer.add_layer(layer)
    panel = ReviewPanel(viewer)
    qtbot.addWidget(panel)
    handles = CellLayers.among(layers)
    panel.show_results(result, handles)
    return viewer, table, panel, handles


@pytest.mark.gui
def test_in_view_outlines_land_on_the_cells(make_napari_viewer: Any, qtbot: Any) -> None:

    viewer, table, panel, handles = _grid_in_review(make_napari_viewer, qtbot)
    outlines = handles.outlines
    assert outlines is not None
    viewer.camera.center = (2000 * MPP, 2000 * MPP)
    viewer.camera.zoom = 2.0 / MPP  # two screen pixels per level-0 pixel: zoomed in
    qtbot.waitUntil(lambda: outlines.metadata.get("cells_drawn", 0) > 0, timeout=10_000)

    rows, cols = np.nonzero(outlines.data[..., 3])
    world = np.asarray(outlines.scale) * np.column_stack([rows, cols]) + outlines.translate
    y, x = (world / MPP + 0.5).T  # level-0 position of each drawn pixel's centre
    ox, oy = (x - 100) % 40, (y - 100) % 40  # offsets from the nearest square's corner

    def near(o: np.ndarray) -> np.ndarray:
        return (np.abs(o) < 1.5) | (np.abs(o - 10) < 1.5) | (np.abs(o - 40) < 1.5)

    def along(o: np.ndarray) -> np.ndarray:
        return (o < 11.5) | (o > 38.5)

    on_edge = (near(ox) & along(oy)) | (near(oy) & along(ox))
    assert on_edge.mean() > 0.99  # every drawn pixel is on a square's edge, none inside
    assert len(rows) > 1000
    view = outlines.metadata["cells_drawn"]
    assert 0 < view < len(table)  # only the cells in view
    viewer.camera.zoom = 0.2 / MPP  # zoomed out: the overview takes over, outlines cleared
    qtbot.waitUntil(lambda: outlines.metadata.get("cells_drawn") == 0, timeout=10_000)
    panel.release()


@pytest.mark.gui
def test_outlines_are_drawn_ahead_of_a_pan(make_napari_viewer: Any, qtbot: Any) -> None:
    from napari_aignostics.widgets.viewport import MARGIN, camera_bounds

    viewer, table, panel, handles = _grid_in_review(make_napari_viewer, qtbot)
    outlines, raster, in_view = handles.outlines, handles.raster, panel._in_view
    assert outlines is not None and raster is not None and in_view is not None
    viewer.camera.center = (2000 * MPP, 2000 * MPP)
    viewer.camera.zoom = 2.0 / MPP

    def settled() -> bool:
        bounds = camera_bounds(viewer, raster)
        extent = in_view.extent
        return in_view._pending is None and extent is not None and extent[0] < bounds[0]

    qtbot.waitUntil(settled, timeout=10_000)
    x0, y0, x1, y1 = camera_bounds(viewer, raster)
    extent = in_view.extent
    assert extent is not None
    width = x1 - x0
    assert extent[0] < x0 - width * MARGIN * 0.9 and extent[2] > x1 + width * MARGIN * 0.9
    data = outlines.data

    def pan(fraction: float) -> None:
        y, x = viewer.camera.center[-2:]
        viewer.camera.center = (y, x + fraction * width * MPP)

    pan(MARGIN / 3)  # still inside the image with room to spare: nothing redrawn, now or on settling
    qtbot.wait(500)
    assert outlines.data is data
    pan(MARGIN / 3)  # within half the margin of the edge: the next image is drawn ahead
    qtbot.waitUntil(lambda: outlines.data is not data and in_view._pending is None, timeout=10_000)
    x0, _, x1, _ = camera_bounds(viewer, raster)
    extent = in_view.extent
    assert extent is not None and extent[0] < x0 and extent[2] > x1 + width * MARGIN * 0.9
    panel.release()


def test_the_view_is_read_without_napari_deprecation_warnings() -> None:
    """napari 0.9 warns on every ``viewer.camera`` access (routed to its notifications on the main
    thread); the view follows the camera where this napari keeps it."""
    import warnings

    from napari.components import ViewerModel

    from napari_aignostics.widgets.camera import camera_of
    from napari_aignostics.widgets.viewport import camera_bounds

    viewer = ViewerModel()
    raster = viewer.add_image([np.zeros((400, 600), np.uint8), np.zeros((200, 300), np.uint8)],
                              multiscale=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        camera = camera_of(viewer)
        camera.center = (100.0, 300.0)
        camera.zoom = 2.0
        x0, y0, x1, y1 = camera_bounds(viewer, raster)
    assert camera.center[-2:] == (100.0, 300.0)
    assert 0 <= x0 < 300 < x1 <= 600 and 0 <= y0 < 100 < y1 <= 400
