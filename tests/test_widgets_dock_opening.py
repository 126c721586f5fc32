"""Plugins → Aignostics in a shown viewer: the dock is there at once with "Loading…" tabs, the
panels' imports run off the main thread, then every tab becomes its working panel."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from napari_aignostics.widgets.dock import TAB_NAMES, AignosticsWidget
from napari_aignostics.workflow.session import Session

pytestmark = pytest.mark.gui

OPEN_FROM_MENU = """
import json, sys, threading, time
WATCHED = ("jsonschema", "napari_aignostics.workflow.session",
           "napari_aignostics.platform.client", "napari_aignostics.widgets.submit_panel",
           "napari_aignostics.widgets.review_panel", "napari_aignostics.results.result_set",
           "napari_aignostics.widgets.cohort_panel")
imported = {}

class Watch:
    def find_spec(self, name, path=None, target=None):
        if name in WATCHED:
            imported.setdefault(name, threading.current_thread() is threading.main_thread())
        return None

sys.meta_path.insert(0, Watch())
import napari
from qtpy.QtWidgets import QApplication, QLabel
viewer = napari.Viewer(show=True)
viewer.window.resize(1600, 1000)
for _ in range(20):
    QApplication.processEvents()
_, widget = viewer.window.add_plugin_dock_widget("napari-aignostics", "Aignostics")
at_once = {
    "tabs": [widget.tabs.tabText(i) for i in range(widget.tabs.count())],
    "placeholders": [isinstance(widget.tabs.widget(i), QLabel)
                     and widget.tabs.widget(i).text() == "Loading…"
                     for i in range(widget.tabs.count())],
    "ready": widget.is_ready(),
}
signals = []
widget.ready.connect(lambda: signals.append(1))
deadline = time.monotonic() + 120
while not widget.is_ready() and time.monotonic() < deadline:
    QApplication.processEvents()
    time.sleep(0.01)
for i in range(widget.tabs.count()):
    widget.tabs.setCurrentIndex(i)
    QApplication.processEvents()
print(json.dumps({
    "at_once": at_once,
    "ready": widget.is_ready(), "signals": len(signals),
    "tabs": [widget.tabs.tabText(i) for i in range(widget.tabs.count())],
    "panels": [type(widget.tabs.widget(i)).__name__ for i in range(widget.tabs.count())],
    "visible": widget.tabs.currentWidget().isVisible(),
    "imported_on_main": imported,
}))
widget.shutdown()
viewer.close()
"""


@pytest.mark.slow
def test_the_menu_dock_appears_at_once_and_imports_its_panels_off_the_main_thread(
    tmp_path: Path,
) -> None:
    env = {**os.environ, "QT_API": "pyqt6", "NAPARI_AIGNOSTICS_CONFIG": str(tmp_path / "config")}
    done = subprocess.run(
        [sys.executable, "-c", OPEN_FROM_MENU], capture_output=True, text=True, timeout=240,
        check=True, env=env,
    )
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got["at_once"] == {
        "tabs": list(TAB_NAMES), "placeholders": [True] * len(TAB_NAMES), "ready": False,
    }
    assert got["ready"] and got["signals"] == 1
    assert got["tabs"] == list(TAB_NAMES)
    assert got["panels"] == [
        "ConnectionPanel", "SubmitPanel", "RunsPanel", "ReviewPanel", "CohortPanel", "RoiPanel",
        "CellTablePanel",
    ]
    assert got["visible"]
    # every heavy module was imported, and none of them on the main thread
    assert set(got["imported_on_main"]) >= {
        "napari_aignostics.workflow.session", "napari_aignostics.widgets.submit_panel",
        "napari_aignostics.widgets.review_panel", "napari_aignostics.widgets.cohort_panel",
    }
    assert not any(got["imported_on_main"].values()), got["imported_on_main"]


def test_a_deferred_dock_is_wired_when_ready(make_napari_viewer: Any, qtbot: Any, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Built one panel per event-loop turn, the dock still connects and lists the applications."""
    monkeypatch.setenv("NAPARI_AIGNOSTICS_CONFIG", str(tmp_path / "config"))
    viewer = make_napari_viewer()
    session = Session(local_data_dir=tmp_path / "platform")
    widget = AignosticsWidget(viewer, session, deferred=True)
    viewer.window.add_dock_widget(widget)
    assert not widget.is_ready()
    with qtbot.waitSignal(widget.ready, timeout=120_000):
        pass
    assert widget.session is session
    try:
        widget.connection.local_radio.setChecked(True)
        widget.connection.connect_now()
        qtbot.waitUntil(lambda: widget.submit_panel.application.count() >= 2, timeout=60_000)
        assert widget.tabs.currentWidget() is widget.submit_panel  # the wiring switched tabs
    finally:
        widget.shutdown()
