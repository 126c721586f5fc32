"""Opening results in napari through the plugin's reader and saving cells with its writers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from napari_aignostics.apps.base import AnalysisContext
from napari_aignostics.apps.builtin import LOCAL_TME
from napari_aignostics.results.coords import to_data
from napari_aignostics.results.result_layers import CELLS_KEY
from napari_aignostics.widgets.viewport import camera_bounds

pytestmark = pytest.mark.gui


@pytest.fixture(scope="module")
def item_folder(cmu_slide: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("results") / "CMU-1-Small-Region"
    out.mkdir()
    LOCAL_TME.versions[0].run(AnalysisContext(cmu_slide, {}, out))
    return out


CENTROIDS = "CMU-1-Small-Region · cells · centroids"


def test_results_folder_opens_onto_the_slide(make_napari_viewer: Any, qtbot: Any, cmu_slide: Path,
                                             item_folder: Path, tmp_path: Path) -> None:
    viewer = make_napari_viewer()
    slide = viewer.open(str(cmu_slide), plugin="napari-aignostics")[0]
    from napari_aignostics.widgets.results_loader import ResultsLoader

    with qtbot.waitSignal(ResultsLoader.of(viewer).opened, timeout=30_000):
        assert viewer.open(str(item_folder), plugin="napari-aignostics") == []  # parsed later
    kinds = {layer.name: type(layer).__name__ for layer in viewer.layers}
    assert kinds["CMU-1-Small-Region · cells"] == "ClassImage"  # RGBA
    points = viewer.layers[CENTROIDS]
    assert tuple(points.scale) == pytest.approx(tuple(slide.scale))
    review = points.metadata[CELLS_KEY]["review"]()  # the cells behind the in-view centroids
    assert len(points.data) < len(review.table) and len(review.table) > 1000
    for name in review.styles:
        review.set_visible(name, name == "LYMPHOCYTE")
    target = tmp_path / "lymphocytes.geojson"
    viewer.layers.selection = {points}
    written = viewer.layers.save(str(target), selected=True, plugin="napari-aignostics")
    assert written == [str(target)]
    features = json.loads(target.read_text())["features"]
    assert len(features) == int(review.shown().sum()) > 0
    assert {f["properties"]["classification"]["name"] for f in features} == {"LYMPHOCYTE"}
    assert features[0]["geometry"]["type"] == "Polygon"  # outlines, not centroids
    csv_path = tmp_path / "lymphocytes.csv"
    viewer.layers.save(str(csv_path), selected=True, plugin="napari-aignostics")
    assert len(csv_path.read_text().splitlines()) == len(features) + 1
    # without the dock too, the ticked centroids layer draws the shown cells in view
    x, y = review.table.centroids[np.flatnonzero(review.shown())[0]]
    viewer.camera.center = ((y - 0.5) * slide.scale[0], (x - 0.5) * slide.scale[1])
    viewer.camera.zoom = 4.0
    assert not points.visible
    points.visible = True
    view = camera_bounds(viewer, viewer.layers["CMU-1-Small-Region · cells"])
    expected = review.in_view(view)
    assert 0 < len(expected) < int(review.shown().sum())
    qtbot.waitUntil(lambda: len(points.data) == len(expected), timeout=10_000)
    assert np.allclose(points.data, to_data(review.table.centroids[expected]))


def test_a_cell_file_alone_opens_with_a_warning(make_napari_viewer: Any, qtbot: Any,
                                               item_folder: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from napari_aignostics.results import results_reader as reader

    warnings: list[str] = []
    monkeypatch.setattr("napari.utils.notifications.show_warning", warnings.append)
    viewer = make_napari_viewer()
    from napari_aignostics.widgets.results_loader import ResultsLoader

    with qtbot.waitSignal(ResultsLoader.of(viewer).opened, timeout=30_000):
        viewer.open(str(item_folder / "cell_classification_parquet_polygons.parquet"),
                    plugin="napari-aignostics")
    assert {type(layer).__name__ for layer in viewer.layers} >= {"ClassImage", "Points"}
    assert any("no slide is open" in w for w in warnings)
    assert reader.get_reader(str(item_folder / "readout_generation_slide_readouts.csv")) is None


def test_results_open_without_choosing_a_reader(make_napari_viewer: Any, qtbot: Any,
                                                cmu_slide: Path,
                                                item_folder: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import npe2
    from napari._qt.dialogs.qt_reader_dialog import QtReaderDialog

    from napari_aignostics.widgets.results_loader import ResultsLoader

    def no_dialog(*_: object) -> None:
        raise AssertionError("the Choose reader dialog was shown")

    monkeypatch.setattr(QtReaderDialog, "exec_", no_dialog)
    viewer = make_napari_viewer()
    manager = npe2.PluginManager.instance()
    manager.deactivate("napari-aignostics")
    manager.activate("napari-aignostics")  # first use in a session sets the preference
    qt_open = viewer.window._qt_viewer._qt_open  # what File > Open and drag-and-drop call
    qt_open([str(cmu_slide)], stack=False)
    with qtbot.waitSignal(ResultsLoader.of(viewer).opened, timeout=30_000):
        qt_open([str(item_folder)], stack=False)
    assert CENTROIDS in viewer.layers
    before = len(viewer.layers)
    with qtbot.waitSignal(ResultsLoader.of(viewer).opened, timeout=30_000):
        qt_open([str(item_folder / "cell_classification_parquet_polygons.parquet")], stack=False)
    assert len(viewer.layers) > before


def _dock_over_slide(viewer: Any, slide: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                     deferred: bool = False) -> tuple[Any, Any]:
    """The viewer with the slide open and the dock added (built at once, or in turns)."""
    from napari_aignostics.widgets.dock import AignosticsWidget
    from napari_aignostics.workflow.session import Session

    monkeypatch.setenv("NAPARI_AIGNOSTICS_CONFIG", str(tmp_path / "config"))
    viewer.open(str(slide), plugin="napari-aignostics")
    widget = AignosticsWidget(viewer, Session(local_data_dir=tmp_path / "platform"),
                              deferred=deferred)
    viewer.window.add_dock_widget(widget)
    return viewer, widget


def test_file_open_parses_off_the_main_thread_and_reaches_the_review_tab(
        make_napari_viewer: Any, qtbot: Any, cmu_slide: Path, item_folder: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from napari_aignostics.widgets.results_loader import ResultsLoader

    viewer, widget = _dock_over_slide(make_napari_viewer(), cmu_slide, tmp_path, monkeypatch)
    try:
        assert ResultsLoader.of(viewer) is widget.loader
        with qtbot.waitSignal(widget.loader.opened, timeout=30_000):
            viewer.open(str(item_folder), plugin="napari-aignostics")
            assert CENTROIDS not in viewer.layers  # the reader returned before parsing
        assert widget.review.centroids is viewer.layers[CENTROIDS]
    finally:
        widget.shutdown()


def test_file_open_while_the_dock_builds_its_panels_reaches_its_review_tab(
        make_napari_viewer: Any, qtbot: Any, cmu_slide: Path, item_folder: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from napari_aignostics.widgets.results_loader import ResultsLoader

    viewer, widget = _dock_over_slide(make_napari_viewer(), cmu_slide, tmp_path, monkeypatch,
                                      deferred=True)
    try:
        assert not widget.is_ready()
        assert viewer.open(str(item_folder), plugin="napari-aignostics") == []  # waits for the dock
        with qtbot.waitSignal(widget.ready, timeout=120_000):
            pass
        assert ResultsLoader.of(viewer) is widget.loader
        qtbot.waitUntil(lambda: CENTROIDS in viewer.layers, timeout=30_000)
        qtbot.waitUntil(lambda: widget.review.centroids is viewer.layers[CENTROIDS],
                        timeout=30_000)
        assert sum(layer.name == CENTROIDS for layer in viewer.layers) == 1  # opened once
    finally:
        widget.shutdown()


def test_file_open_survives_a_dock_closed_before_it_is_built(
        make_napari_viewer: Any, qtbot: Any, cmu_slide: Path, item_folder: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    viewer, widget = _dock_over_slide(make_napari_viewer(), cmu_slide, tmp_path, monkeypatch,
                                      deferred=True)
    assert not widget.is_ready()
    assert viewer.open(str(item_folder), plugin="napari-aignostics") == []  # waits for the dock
    with qtbot.waitSignal(widget.destroyed, timeout=10_000):
        viewer.window.remove_dock_widget(widget)
        widget.deleteLater()
    qtbot.waitUntil(lambda: CENTROIDS in viewer.layers, timeout=30_000)  # a loader of its own
