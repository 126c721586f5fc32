"""The Cohort tab with a real viewer: a results folder becomes the table, a click opens the right
slide with aligned results, previous/next close the last slide's layers, a plot point opens a slide."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from qtpy.QtCore import Qt

from napari_aignostics.apps.base import AnalysisContext
from napari_aignostics.apps.builtin import LOCAL_TME
from napari_aignostics.results.coords import to_data
from napari_aignostics.results.result_layers import CELLS_KEY
from napari_aignostics.widgets.dock import AignosticsWidget
from napari_aignostics.workflow.session import Session

pytestmark = [pytest.mark.gui, pytest.mark.slow]


@pytest.fixture(scope="module")
def cohort_folder(cmu_slide: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run folder of three items: two copies of CMU with real local-tme results, one failed."""
    root = tmp_path_factory.mktemp("cohort")
    (root / "analysis").mkdir()
    produced = LOCAL_TME.versions[0].run(AnalysisContext(cmu_slide, {}, root / "analysis"))
    run = root / "results" / "run-1"
    items = []
    for name in ("alpha", "beta"):
        slide = root / "slides" / f"{name}.svs"
        slide.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(cmu_slide, slide)
        shutil.copytree(root / "analysis", run / name)
        artifacts = [
            {"name": a.name, "file": f"{name}/{a.path.name}", "media_type": a.metadata["media_type"],
             "checksum_base64_crc32c": a.metadata["checksum_base64_crc32c"], "metadata": a.metadata}
            for a in produced
        ]
        items.append({"external_id": str(slide), "folder": name, "state": "TERMINATED",
                      "termination_reason": "SUCCEEDED", "error_message": None,
                      "artifacts": artifacts})
    items.append({"external_id": str(root / "slides" / "gamma.svs"), "folder": "gamma",
                  "state": "TERMINATED", "termination_reason": "USER_ERROR",
                  "error_message": "gamma.svs: no tissue found", "artifacts": []})
    (run / "manifest.json").write_text(json.dumps(
        {"run_id": "run-1", "application_id": "local-tme", "version_number": "1.2.0",
         "state": "TERMINATED", "items": items}))
    return run


@pytest.fixture
def dock(make_napari_viewer: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("NAPARI_AIGNOSTICS_CONFIG", str(tmp_path / "config"))
    monkeypatch.setenv("NAPARI_AIGNOSTICS_CACHE", str(tmp_path / "cache"))
    viewer = make_napari_viewer()
    session = Session(local_data_dir=tmp_path / "platform")
    widget = AignosticsWidget(viewer, session)
    viewer.window.add_dock_widget(widget)
    yield viewer, widget
    widget.shutdown()


def _names(viewer: Any) -> list[str]:
    return [layer.name for layer in viewer.layers]


def test_click_a_row_opens_the_slide_with_aligned_results(
    dock: Any, qtbot: Any, cohort_folder: Path
) -> None:
    viewer, widget = dock
    panel = widget.cohort
    widget.tabs.setCurrentWidget(panel)
    panel.show_folder(cohort_folder.parent)
    qtbot.waitUntil(lambda: panel.model.rowCount() == 3, timeout=30_000)
    qtbot.waitUntil(lambda: len(panel.model.thumbnails) == 2, timeout=60_000)
    model = panel.model
    assert [model.data(model.index(r, 0)) for r in range(3)] == ["alpha.svs", "beta.svs", "gamma.svs"]
    assert model.data(model.index(2, 2)) == "gamma.svs: no tissue found"  # failed, still listed

    cells_column = panel.table.columns.index("cells")
    panel.view.sortByColumn(cells_column, Qt.SortOrder.DescendingOrder)
    # the failed item has no cells and stays last
    assert model.row_at(2) == 2

    rect = panel.view.visualRect(model.index(model.view_row_of(1), 0))
    qtbot.mouseClick(panel.view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.waitUntil(lambda: "beta · cells · centroids" in _names(viewer), timeout=60_000)
    slide, points = viewer.layers["beta"], viewer.layers["beta · cells · centroids"]
    assert str(slide.source.path).endswith("beta.svs")
    assert tuple(points.scale) == pytest.approx(tuple(slide.scale))
    extent = np.asarray(slide.extent.world)
    cells = points.metadata[CELLS_KEY]["review"]().table  # behind the in-view centroids
    centres = to_data(cells.centroids)
    assert (centres.min(axis=0) * slide.scale >= extent[0] - 1).all()
    assert (centres.max(axis=0) * slide.scale <= extent[1] + 1).all()
    assert len(cells) == panel.table.rows[1].cells

    panel.step(-1)  # to alpha: beta's layers close
    qtbot.waitUntil(lambda: "alpha · cells · centroids" in _names(viewer), timeout=60_000)
    assert not any(name.startswith("beta") for name in _names(viewer))
    panel.pin.setChecked(True)
    panel.step(1)  # back to beta: alpha is pinned and stays
    qtbot.waitUntil(lambda: "beta · cells · centroids" in _names(viewer), timeout=60_000)
    assert "alpha · cells · centroids" in _names(viewer)

    plots = panel.plots
    plots.kind.setCurrentText("phenotype")
    assert sorted(plots.points) == [0, 1]
    x_column, y_column = panel.table.rule.columns(panel.table.readout_columns)
    row = panel.table.rows[0].readouts
    x_px, y_px = plots.figure.axes[0].transData.transform((row[x_column], row[y_column]))
    assert plots.nearest(x_px, y_px) in (0, 1)  # both copies sit on the same point

    shots = os.environ.get("NAPARI_AIGNOSTICS_SCREENSHOTS")
    if shots:
        viewer.window._qt_window.resize(1500, 950)
        panel.view.selectRow(model.view_row_of(1))
        viewer.reset_view()
        qtbot.wait(500)
        widget.grab().save(str(Path(shots) / "cohort-tab.png"))
        viewer.window._qt_window.grab().save(str(Path(shots) / "cohort-viewer.png"))
