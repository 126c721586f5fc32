"""Dock widget paths besides the happy one: cancel, a bad slide, the platform gone mid-run, overlay colours."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from napari_aignostics.server.embedded import LocalPlatform
from napari_aignostics.widgets import workers
from napari_aignostics.widgets.dock import AignosticsWidget
from napari_aignostics.workflow.session import Session

pytestmark = pytest.mark.gui


def _dock(viewer: Any, tmp_path: Path, **platform_settings: Any) -> AignosticsWidget:
    session = Session(local_data_dir=tmp_path / "platform")
    session.settings.results_dir = str(tmp_path / "results")
    session.settings.poll_interval_s = 0.3
    if platform_settings:
        session.local = LocalPlatform(tmp_path / "platform", **platform_settings).start()
    widget = AignosticsWidget(viewer, session)
    viewer.window.add_dock_widget(widget)
    widget.connection.local_radio.setChecked(True)
    widget.connection.connect_now()
    return widget


def _prepare(widget: AignosticsWidget, qtbot: Any, app: str = "test-app") -> None:
    panel = widget.submit_panel
    qtbot.waitUntil(lambda: widget.session.info is not None, timeout=60_000)
    qtbot.waitUntil(lambda: panel.application.count() >= 2, timeout=30_000)
    assert panel.select_application(app)
    qtbot.waitUntil(lambda: bool(panel.schema), timeout=30_000)


@pytest.fixture
def errors(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    shown: list[str] = []
    monkeypatch.setattr(workers, "show_error", lambda text: shown.append(str(text)))
    return shown


def test_cancel_a_queued_run(make_napari_viewer: Any, qtbot: Any, tmp_path: Path,
                             cmu_slide: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NAPARI_AIGNOSTICS_CONFIG", str(tmp_path / "config"))
    viewer = make_napari_viewer()
    viewer.open(str(cmu_slide), plugin="napari-aignostics")
    widget = _dock(viewer, tmp_path, worker_threads=0)  # runs wait in the queue
    try:
        _prepare(widget, qtbot)
        panel = widget.submit_panel
        panel.add_selected_layer()
        qtbot.waitUntil(lambda: panel.submit_button.isEnabled(), timeout=60_000)
        panel.submit_button.click()
        runs = widget.runs
        qtbot.waitUntil(lambda: runs.table.rowCount() == 1, timeout=30_000)
        runs.table.selectRow(0)
        runs.cancel_button.click()
        qtbot.waitUntil(lambda: runs.runs and runs.runs[0].termination_reason is not None
                        and runs.runs[0].state == "TERMINATED", timeout=30_000)
        assert str(runs.runs[0].termination_reason) == "CANCELED_BY_USER"
        qtbot.waitUntil(lambda: "cancelled" in runs.table.item(0, 1).text(), timeout=10_000)
    finally:
        widget.shutdown()


def test_a_bad_slide_is_marked_and_not_submitted(make_napari_viewer: Any, qtbot: Any,
                                                 tmp_path: Path, test_data: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NAPARI_AIGNOSTICS_CONFIG", str(tmp_path / "config"))
    viewer = make_napari_viewer()
    widget = _dock(viewer, tmp_path)
    try:
        _prepare(widget, qtbot)
        panel = widget.submit_panel
        panel.add_slide(test_data / "wsi_edge_cases" / "boxes.tiff")
        panel.add_slide(test_data / "images" / "ihc.png")
        qtbot.waitUntil(lambda: all(r["metadata"] is not None or r["error"] for r in panel.rows),
                        timeout=30_000)
        marks = [panel.table.item(i, 1).text() for i in range(panel.table.rowCount())]
        assert marks == ["✘", "✘"]
        reasons = [panel.table.item(i, 1).toolTip() for i in range(panel.table.rowCount())]
        assert "resolution_mpp" in reasons[0] or "pixel" in reasons[0]
        assert "ihc.png" in reasons[1] or "slide" in reasons[1].lower()
        assert not panel.submit_button.isEnabled()
    finally:
        widget.shutdown()


def test_platform_gone_mid_run_is_reported_not_fatal(make_napari_viewer: Any, qtbot: Any,
                                                     tmp_path: Path, cmu_slide: Path,
                                                     errors: list[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NAPARI_AIGNOSTICS_CONFIG", str(tmp_path / "config"))
    viewer = make_napari_viewer()
    viewer.open(str(cmu_slide), plugin="napari-aignostics")
    widget = _dock(viewer, tmp_path, worker_threads=0)
    widget.session.settings.follow_patience_s = 2.0  # reconnecting gives up after 2 s
    try:
        _prepare(widget, qtbot)
        panel = widget.submit_panel
        panel.add_selected_layer()
        qtbot.waitUntil(lambda: panel.submit_button.isEnabled(), timeout=60_000)
        panel.submit_button.click()
        qtbot.waitUntil(lambda: widget.runs.table.rowCount() == 1, timeout=30_000)
        widget.session.local.stop()  # the platform goes away while the run is followed
        qtbot.waitUntil(lambda: bool(errors), timeout=120_000)
        assert any("127.0.0.1" in e and "no answer" in e and "run follow" in e for e in errors)
        assert viewer.layers  # napari is still there, the slide untouched
    finally:
        widget.shutdown()


def test_overlay_pixels_have_the_class_colours(make_napari_viewer: Any, qtbot: Any,
                                               tmp_path: Path, cmu_slide: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NAPARI_AIGNOSTICS_CONFIG", str(tmp_path / "config"))
    viewer = make_napari_viewer(show=True)
    viewer.open(str(cmu_slide), plugin="napari-aignostics")  # the window is shown: in a worker
    qtbot.waitUntil(lambda: len(viewer.layers) == 1, timeout=120_000)
    widget = _dock(viewer, tmp_path)
    try:
        _prepare(widget, qtbot, "test-app")
        panel = widget.submit_panel
        panel.add_selected_layer()
        qtbot.waitUntil(lambda: panel.submit_button.isEnabled(), timeout=60_000)
        done: list[str] = []
        widget.run_finished.connect(lambda run_id, label: done.append(label))
        panel.submit_button.click()
        qtbot.waitUntil(lambda: bool(done), timeout=120_000)
        seg = next(layer for layer in viewer.layers
                   if layer.metadata.get("artifact", "").startswith("tissue_segmentation_segmentation_map"))
        for layer in viewer.layers:
            layer.visible = layer is seg
        seg.opacity = 1.0
        viewer.reset_view()
        qtbot.wait(300)
        shot = viewer.screenshot(canvas_only=True, flash=False)[..., :3].reshape(-1, 3)
        colors = {tuple(int(c) for c in rgb) for rgb in np.unique(shot, axis=0)}
        expected = {(200, 40, 160), (250, 150, 180)}  # CELL_DENSE, STROMA
        assert expected <= colors, sorted(colors)[:20]
    finally:
        widget.shutdown()
