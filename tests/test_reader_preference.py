"""napari opens slides through this plugin without its "Choose reader" dialog."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from napari_aignostics.reader_preference import FOLDER_PATTERN, PLUGIN_NAME, our_patterns

pytestmark = pytest.mark.gui


def test_a_slide_opens_without_choosing_a_reader(
    make_napari_viewer: Any, cmu_slide: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import npe2
    from napari._qt.dialogs.qt_reader_dialog import QtReaderDialog
    from napari.errors import MultipleReaderError
    from napari.settings import get_settings

    viewer = make_napari_viewer()
    new_session = npe2.PluginManager.instance()
    new_session.deactivate(PLUGIN_NAME)  # as in a new napari session: not yet activated
    plugins = get_settings().plugins
    plugins.extension2reader = {"*.tif": "napari"}  # a choice the user made before
    with pytest.raises(MultipleReaderError):  # what napari does without a preference
        viewer.open(str(cmu_slide), plugin=None)

    new_session.activate(PLUGIN_NAME)  # first use: the dock, the sample, the demo, or any read
    assert plugins.extension2reader["*.tif"] == "napari"  # never overridden
    for pattern in ("*.svs", "*.tiff", "*.ndpi", "*.scn", "*.bif", "*.dcm", "*.csv",
                    "*.geojson", "*.parquet", FOLDER_PATTERN):
        assert plugins.extension2reader[pattern] == PLUGIN_NAME
    assert set(our_patterns()) - {"*.tif"} <= set(plugins.extension2reader)

    layers = viewer.open(str(cmu_slide), plugin=None)  # no plugin named: napari picks
    assert layers[0].metadata["napari_aignostics"]["path"] == str(cmu_slide)

    def no_dialog(*_: object) -> None:
        raise AssertionError("the Choose reader dialog was shown")

    monkeypatch.setattr(QtReaderDialog, "exec_", no_dialog)
    # what `napari slide.svs`, File > Open and drag-and-drop call
    viewer.window._qt_viewer._qt_open([str(cmu_slide)], stack=False)
    assert len(viewer.layers) == 2
    assert viewer.layers[-1].metadata["napari_aignostics"]["path"] == str(cmu_slide)
