"""The reviewer's walk of issue 12 on a real local-tme run of CMU-1-Small-Region, in real viewers.

Colour by area, lymphocytes per mm² within stroma and their hotspots, an ROI and its counts, a
reclassification that every number follows; then napari is closed, a new viewer opens the folder
(File → Open through the plugin's reader, and the dock's loader) and finds the corrections and ROIs
again; then the QuPath GeoJSON exports carry them.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely

from napari_aignostics.cli import main
from napari_aignostics.platform.results_layout import review_sidecar
from napari_aignostics.results.cohort import find_run_folder
from napari_aignostics.results.coords import to_data
from napari_aignostics.results.results_reader import plan_results
from napari_aignostics.results.review import ReviewModel

pytestmark = [pytest.mark.gui, pytest.mark.slow]

ROI_HALF_PX = 300
LYMPHOCYTE, STROMA = "LYMPHOCYTE", "STROMA"


def _wait(qtbot: Any, condition: Any, timeout: int = 60_000) -> None:
    qtbot.waitUntil(lambda: bool(condition()), timeout=timeout)


def _open_viewer(slide: Path) -> tuple[Any, Any]:
    import napari

    from napari_aignostics.widgets.demo import wait_until

    viewer = napari.Viewer(show=True)
    viewer.window.resize(1400, 900)
    viewer.open(str(slide), plugin="napari-aignostics")  # the window is shown: in a worker
    wait_until(lambda: len(viewer.layers), 120, "the slide layer")
    _, widget = viewer.window.add_plugin_dock_widget("napari-aignostics", "Aignostics")
    wait_until(widget.is_ready, 120, "the dock's panels")
    return viewer, widget


def _open_folder(qtbot: Any, viewer: Any, widget: Any, folder: Path) -> None:
    """File → Open of the results folder, as napari's reader menu does it."""
    viewer.open(str(folder), plugin="napari-aignostics")
    _wait(qtbot, lambda: widget.edit.review is not None and widget.review.review is not None)


def _roi_rows(widget: Any) -> list[list[str]]:
    table = widget.edit.table
    return [
        [table.item(r, c).text() for c in range(table.columnCount())]
        for r in range(table.rowCount())
    ]


def _in_square(review: ReviewModel, square: shapely.Polygon, shown: np.ndarray) -> np.ndarray:
    xy = review.table.centroids
    return np.flatnonzero(shown & shapely.contains_xy(square, xy[:, 0], xy[:, 1]))


def _stroma_lymphocytes(widget: Any) -> int:
    """A direct count: shown lymphocytes whose centroid lies in a stroma polygon."""
    review, result = widget.review.review, widget.review.result
    polygons = [
        table.geometry.to_shapely(np.flatnonzero(table.classes == STROMA))
        for _stem, table in result.regions
    ]
    union = shapely.union_all(np.concatenate(polygons))
    code = review.class_names.index(LYMPHOCYTE) + 1
    keep = review.shown() & (review.class_codes == code)
    xy = review.table.centroids[keep]
    return int(shapely.intersects_xy(union, xy[:, 0], xy[:, 1]).sum())


@pytest.mark.server(builtin=True)
def test_review_walk_survives_closing_napari(
    server: Any, wsi_dir: Path, tmp_path: Path, qtbot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NAPARI_AIGNOSTICS_CONFIG", str(tmp_path / "config"))
    slides = tmp_path / "slides"
    slides.mkdir()
    slide = slides / "CMU-1-Small-Region.svs"
    shutil.copy(wsi_dir / slide.name, slide)
    results = tmp_path / "results"
    assert (
        main(
            [
                "--api-root",
                server.api_root,
                "--token",
                server.token,
                "run",
                "submit",
                "local-tme",
                str(slides),
                "--metadata",
                "staining_method=H&E",
                "--metadata",
                "disease=LUNG_CANCER",
                "--download",
                str(results),
                "--interval",
                "0.2",
            ]
        )
        == 0
    )
    (item,) = {p.parent for p in find_run_folder(results).rglob("*.parquet")}

    viewer, widget = _open_viewer(slide)
    try:
        _open_folder(qtbot, viewer, widget, item)
        review, edit, density = widget.review, widget.edit, widget.review.density
        model = review.review
        assert model is not None and len(model.table) > 1000
        assert "LYMPHOCYTE" in model.class_names and len(model.class_names) > 2

        # colour by area: a value overview and the colour bar
        widget.tabs.setCurrentWidget(review)
        review.color_by.setCurrentText("area_um2")
        _wait(qtbot, lambda: review.measure_layer is not None)
        assert model.color_by is not None and model.color_by.name == "area_um2"
        assert review.color_range.isVisible()

        # lymphocytes per mm² within stroma, against a direct count; then the hotspots
        density.cell_class.setCurrentText(LYMPHOCYTE)
        density.region.setCurrentText(STROMA)
        density.grid.setValue(50.0)
        density.window_um.setValue(250.0)
        density.map_button.click()
        _wait(qtbot, lambda: density.map is not None)
        first_map = density.map
        assert int(first_map.counts.sum()) == _stroma_lymphocytes(widget) > 0
        density.hotspot_button.click()
        _wait(qtbot, lambda: density.hotspot_layer is not None)
        densities = [spot.density for spot in density.hotspots]
        assert densities and densities == sorted(densities, reverse=True)
        assert density.table.rowCount() == len(density.hotspots)

        # an ROI around the densest hotspot: its counts against shapely
        widget.tabs.setCurrentWidget(edit)
        cx, cy = density.hotspots[0].center
        square = shapely.box(cx - ROI_HALF_PX, cy - ROI_HALF_PX, cx + ROI_HALF_PX, cy + ROI_HALF_PX)
        ring = np.asarray(square.exterior.coords)[:-1]
        shown: list[int] = []
        edit.stats_shown.connect(lambda: shown.append(1))
        assert edit.rois_layer is not None
        edit.rois_layer.add_rectangles([to_data(ring)])
        _wait(qtbot, lambda: shown)
        inside = _in_square(model, square, model.shown())
        assert edit.stats[0].count == len(inside) > 20
        assert _roi_rows(widget)[0][2] == str(len(inside))

        # reclassify the ROI's shown cells as lymphocytes: every number follows
        before = model.counts()
        edit.rois_layer.selected_data = {0}
        edit.select_shown_in_roi()
        assert len(edit.selection) == len(inside)
        edit.target_class.setCurrentText(LYMPHOCYTE)
        changed = int((model.class_codes[inside] != model.class_names.index(LYMPHOCYTE) + 1).sum())
        assert changed > 0
        seen = len(shown)
        edit.assign.click()
        after = model.counts()
        assert after[LYMPHOCYTE][1] == before[LYMPHOCYTE][1] + changed
        assert sum(t for _s, t in after.values()) == sum(t for _s, t in before.values())
        _wait(qtbot, lambda: len(shown) > seen)
        assert edit.stats[0].counts[LYMPHOCYTE] == len(inside)
        assert f"{LYMPHOCYTE} 100%" in _roi_rows(widget)[0][4]
        _wait(qtbot, lambda: density.map is not first_map)
        assert int(density.map.counts.sum()) == _stroma_lymphocytes(widget)
        sidecar = review_sidecar(item)
        _wait(qtbot, lambda: sidecar.is_file() and json.loads(sidecar.read_text())["edits"])
        counts, rows = model.counts(), _roi_rows(widget)
        codes = model.class_codes.copy()
    finally:
        closed: list[int] = []
        widget.destroyed.connect(lambda *_: closed.append(1))
        viewer.close()
        qtbot.wait(200)
    assert closed, "the dock widget outlived its viewer"

    # a new napari: the folder reopened through File → Open finds the review again
    viewer, widget = _open_viewer(slide)
    try:
        _open_folder(qtbot, viewer, widget, item)
        _wait(qtbot, lambda: widget.edit.table.rowCount() == 1)
        reopened = widget.review.review
        assert reopened.counts() == counts
        assert np.array_equal(reopened.class_codes, codes)
        assert _roi_rows(widget) == rows
        assert widget.edit.undo_button.isEnabled()  # the replayed edit can be undone

        # the Review and Edit tabs export the corrected cells and the ROI for QuPath
        cells_path = widget.review._export("geojson", tmp_path / "cells.geojson")
        rois_path = widget.edit.export("geojson", tmp_path / "rois.geojson")
        cells = json.loads(cells_path.read_text())
        classes = [f["properties"]["classification"]["name"] for f in cells["features"]]
        assert classes.count(LYMPHOCYTE) == counts[LYMPHOCYTE][0]
        originals = [
            f["properties"].get("metadata", {}).get("original_class") for f in cells["features"]
        ]
        assert sum(o is not None for o in originals) == changed
        assert cells["provenance"]["application"].startswith("local-tme")
        (roi,) = json.loads(rois_path.read_text())["features"]
        assert roi["properties"]["objectType"] == "annotation"
        assert roi["properties"]["measurements"]["Num cells"] == len(inside)
        assert roi["properties"]["measurements"][f"Num {LYMPHOCYTE}"] == len(inside)
        assert shapely.geometry.shape(roi["geometry"]).equals_exact(square, 0.5)

        # the same folder through the dock's loader, as the Runs tab loads an item
        first = widget.review.review
        plan = plan_results(item, list(viewer.layers))
        assert plan is not None
        folder, _slide, _name, metadata = plan
        for layer in [lay for lay in viewer.layers if "artifact" in lay.metadata]:
            viewer.layers.remove(layer)
        run_id = widget.review.result.provenance.run_id
        widget.loader.load_item(run_id, slide.name, folder, metadata or {})
        _wait(qtbot, lambda: widget.review.review is not None and widget.review.review is not first)
        _wait(qtbot, lambda: widget.edit.table.rowCount() == 1 and widget.edit.stats)
        assert np.array_equal(widget.review.review.class_codes, codes)
        assert widget.review.review.counts() == counts
        assert _roi_rows(widget) == rows
    finally:
        viewer.close()
        qtbot.wait(200)
