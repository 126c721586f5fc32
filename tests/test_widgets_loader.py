"""Loading an item's results twice on a bare ViewerModel replaces its layers instead of doubling them."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely
from napari.components import ViewerModel

from napari_aignostics.apps.writers import write_geojson
from napari_aignostics.slides.slide_ref import SlideRef
from napari_aignostics.widgets.results_loader import ResultsLoader
from napari_aignostics.widgets.workers import WorkerPool
from napari_aignostics.workflow.session import Session


@pytest.mark.slow
def test_loading_results_twice_keeps_one_copy(qtbot: Any, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NAPARI_AIGNOSTICS_CONFIG", str(tmp_path / "config"))
    folder = tmp_path / "item"
    folder.mkdir()
    corners = np.random.default_rng(1).uniform(0, 400, (30, 2))
    artifact = write_geojson(folder, "cell_classification:geojson_polygons",
                             [shapely.box(x, y, x + 6, y + 6) for x, y in corners], ["A"] * 30,
                             {"A": (255, 0, 0)}, [{"confidence": 0.8}] * 30, object_type="cell",
                             polygon_mpp=0.5)
    session = Session()
    ref = SlideRef(tmp_path / "slide.svs", (500, 500), 0.5, "AAAAAA==")
    session.run_slides["run-1"] = {ref.external_id: ref}
    viewer = ViewerModel()
    viewer.add_image(np.zeros((8, 8)), name="unrelated")
    pool = WorkerPool()
    loader = ResultsLoader(viewer, session, pool)
    loaded: list[str] = []
    loader.item_loaded.connect(lambda run_id, external_id: loaded.append(external_id))
    metadata = {artifact.path.name: artifact.metadata}
    try:
        loader.load_item("run-1", ref.external_id, folder, metadata)
        qtbot.waitUntil(lambda: len(loaded) == 1, timeout=20_000)
        first = [layer.name for layer in viewer.layers]
        old = [weakref.ref(layer) for layer in viewer.layers if layer.name != "unrelated"]
        batches: list[object] = []
        viewer.layers.events.begin_batch.connect(batches.append)
        loader.load_item("run-1", ref.external_id, folder, metadata)  # "Load results" again
        qtbot.waitUntil(lambda: len(loaded) == 2, timeout=20_000)
    finally:
        pool.cancel_all()
    names = [layer.name for layer in viewer.layers]
    assert len(first) > 1 and sorted(names) == sorted(first)
    assert len(names) == len(set(names)) and "unrelated" in names
    # the old layers left in one batch (napari cleans up once), and are freed although the
    # long-lived heap was frozen when the loader was made
    assert len(batches) == 1
    assert gc.get_freeze_count() > 0
    gc.collect()
    assert len(old) > 1 and all(ref() is None for ref in old)
