"""The dock widget end to end on the real local platform: connect, submit, follow, review, export."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from napari_aignostics.results.coords import to_data
from napari_aignostics.widgets.dock import AignosticsWidget
from napari_aignostics.workflow.session import Session

pytestmark = pytest.mark.gui


@pytest.fixture
def dock(make_napari_viewer: Any, qtbot: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
         cmu_slide: Path) -> Any:
    monkeypatch.setenv("NAPARI_AIGNOSTICS_CONFIG", str(tmp_path / "config"))
    viewer = make_napari_viewer()
    viewer.open(str(cmu_slide), plugin="napari-aignostics")
    session = Session(local_data_dir=tmp_path / "platform")
    session.settings.results_dir = str(tmp_path / "results")
    session.settings.poll_interval_s = 0.3
    widget = AignosticsWidget(viewer, session)
    viewer.window.add_dock_widget(widget)
    yield viewer, widget
    widget.shutdown()


def test_submit_follow_review_export(dock: Any, qtbot: Any, tmp_path: Path,
                                     cmu_slide: Path) -> None:
    viewer, widget = dock
    widget.connection.local_radio.setChecked(True)
    widget.connection.connect_now()
    qtbot.waitUntil(lambda: widget.session.info is not None, timeout=60_000)
    panel = widget.submit_panel
    qtbot.waitUntil(lambda: panel.application.count() >= 2, timeout=30_000)
    assert panel.select_application("local-tme")
    qtbot.waitUntil(lambda: bool(panel.schema), timeout=30_000)
    panel.set_form_value("specimen.disease", "COLORECTAL_CANCER")
    if not panel.rows:
        panel.add_selected_layer()
    qtbot.waitUntil(lambda: panel.submit_button.isEnabled(), timeout=60_000)
    finished: dict[str, str] = {}
    widget.run_finished.connect(lambda run_id, label: finished.setdefault(run_id, label))
    panel.submit_button.click()
    qtbot.waitUntil(lambda: bool(finished), timeout=180_000)
    run_id, label = next(iter(finished.items()))
    assert label == "completed"

    names = [layer.name for layer in viewer.layers]
    assert "CMU-1-Small-Region · cells" in names
    assert "CMU-1-Small-Region · cells · centroids" in names
    slide = viewer.layers["CMU-1-Small-Region"]
    points = viewer.layers["CMU-1-Small-Region · cells · centroids"]
    raster = viewer.layers["CMU-1-Small-Region · cells"]
    seg = next(layer for layer in viewer.layers
               if layer.metadata.get("artifact", "").startswith("tissue_segmentation_seg"))
    assert tuple(points.scale) == pytest.approx(tuple(slide.scale))
    assert tuple(raster.scale) == pytest.approx(tuple(slide.scale))
    model = widget.review.review  # the cells: the model's table (the layer holds those in view)
    assert model is not None and points is widget.review.centroids
    centres = to_data(model.table.centroids)
    extent = np.asarray(slide.extent.world)
    assert (centres.min(axis=0) * slide.scale >= extent[0] - 1).all()
    assert (centres.max(axis=0) * slide.scale <= extent[1] + 1).all()
    map_end = np.asarray(seg.translate) + (np.asarray(seg.data.shape[:2]) - 0.5) * seg.scale
    slide_end = (np.asarray(slide.data[0].shape[:2]) - 0.5) * slide.scale
    assert (np.abs(map_end - slide_end) < np.asarray(seg.scale)).all()  # within one map pixel
    map_start = np.asarray(seg.translate) - np.asarray(seg.scale) / 2
    assert np.allclose(map_start, -np.asarray(slide.scale) / 2)  # borders line up exactly

    review = widget.review
    features = model.table.features()
    total = len(model.table)
    lymph = int((features["class"] == "LYMPHOCYTE").sum())
    review.set_class_visible("LYMPHOCYTE", False)
    assert int(model.shown().sum()) == total - lymph
    review.confidence.setValue(60)
    assert (features["confidence"][model.shown()] >= 0.6).all()
    assert "cells shown" in review.total.text()
    exported = review._export("geojson", tmp_path / "out" / "cells.geojson")
    data = json.loads(exported.read_text())
    assert len(data["features"]) == int(model.shown().sum())
    assert {f["properties"]["classification"]["name"] for f in data["features"]} <= {
        "EPITHELIAL", "FIBROBLAST", "OTHER"}

    manifest = Path(widget.session.results_root()) / run_id / "manifest.json"
    assert json.loads(manifest.read_text())["items"][0]["external_id"] == str(cmu_slide.resolve())

    viewer.camera.center = tuple(np.mean(extent, axis=0))
    viewer.camera.zoom = 1.5
    shot = viewer.screenshot(canvas_only=True, flash=False)
    assert shot.shape[2] == 4 and shot[..., :3].std() > 10


def test_undecodable_slide_is_refused_before_any_run(dock: Any, qtbot: Any,
                                                    test_data: Path) -> None:
    _viewer, widget = dock
    panel = widget.submit_panel
    panel.clear_slides()
    panel.add_slide(test_data / "wsi_edge_cases" / "unreadable.svs")
    qtbot.waitUntil(lambda: bool(panel.rows[0]["error"]), timeout=30_000)
    problems = panel.slide_problems(panel.rows[0])
    assert "could not be decoded (Jpeg8Error: Bogus marker length)" in problems[0]
    assert not panel.submit_button.isEnabled()
