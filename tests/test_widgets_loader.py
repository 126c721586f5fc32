"""Loading an item's results again on a bare ViewerModel updates its layers instead of doubling them."""

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
from napari_aignostics.results.raster import render_chunk
from napari_aignostics.results.result_layers import CELLS_KEY
from napari_aignostics.slides.slide_ref import SlideRef
from napari_aignostics.widgets.cell_layers import CellLayers, raster_levels
from napari_aignostics.widgets.results_loader import ResultsLoader
from napari_aignostics.widgets.workers import WorkerPool
from napari_aignostics.workflow.session import Session


def _write_cells(folder: Path, count: int, seed: int) -> Any:
    corners = np.random.default_rng(seed).uniform(0, 400, (count, 2))
    return write_geojson(folder, "cell_classification:geojson_polygons",
                         [shapely.box(x, y, x + 6, y + 6) for x, y in corners], ["A"] * count,
                         {"A": (255, 0, 0)}, [{"confidence": 0.8}] * count, object_type="cell",
                         polygon_mpp=0.5)


@pytest.mark.slow
def test_loading_results_again_updates_the_same_layers(qtbot: Any, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NAPARI_AIGNOSTICS_CONFIG", str(tmp_path / "config"))
    folder = tmp_path / "item"
    folder.mkdir()
    artifact = _write_cells(folder, 30, seed=1)
    session = Session()
    ref = SlideRef(tmp_path / "slide.svs", (500, 500), 0.5, "AAAAAA==")
    session.run_slides["run-1"] = {ref.external_id: ref}
    viewer = ViewerModel()
    viewer.add_image(np.zeros((8, 8)), name="unrelated")
    pool = WorkerPool()
    loader = ResultsLoader(viewer, session, pool)
    loaded: list[str] = []
    loader.item_loaded.connect(lambda run_id, external_id: loaded.append(external_id))
    handed: list[Any] = []
    loader.cells_shown.connect(lambda result, _cells: handed.append(result))
    metadata = {artifact.path.name: artifact.metadata}
    added: list[object] = []
    removed: list[object] = []
    try:
        loader.load_item("run-1", ref.external_id, folder, metadata)
        qtbot.waitUntil(lambda: len(loaded) == 1, timeout=20_000)
        first = list(viewer.layers)
        assert viewer.layers.selection.active is first[0]  # the slide stays the active layer
        overview = CellLayers.among(first).raster
        assert overview is not None
        data = overview.data
        viewer.layers.events.inserted.connect(added.append)
        viewer.layers.events.removed.connect(removed.append)
        loader.load_item("run-1", ref.external_id, folder, metadata)  # "Load results" again
        qtbot.waitUntil(lambda: len(loaded) == 2, timeout=20_000)
        # nothing changed: the same layers with the same data, the same cells handed on
        assert list(viewer.layers) == first and overview.data is data and not added
        assert handed[1] is handed[0]
        old_review = weakref.ref(handed[0].review)
        _write_cells(folder, 20, seed=2)  # the item's cells changed on disk
        loader.load_item("run-1", ref.external_id, folder, metadata)
        qtbot.waitUntil(lambda: len(loaded) == 3, timeout=20_000)
    finally:
        pool.cancel_all()
    # changed: the same layer objects show the new cells (no second copy, no new visual)
    assert [id(layer) for layer in viewer.layers] == [id(layer) for layer in first]
    assert not added and not removed
    assert overview.data is not data and len(handed[2].review.table) == 20
    cells = CellLayers.among(list(viewer.layers))
    assert cells.centroids is not None
    assert cells.centroids.metadata[CELLS_KEY]["review"]() is handed[2].review
    shown = np.asarray(raster_levels(overview)[0][:, :])  # the overview draws the new cells
    expected = render_chunk(handed[2].review.table, handed[2].review.raster_codes(), 1.0, 0, 0,
                            *shown.shape[::-1], True)
    assert np.array_equal(shown, expected)
    # the old cells are freed although the long-lived heap was frozen when the loader was made
    handed.clear()
    assert gc.get_freeze_count() > 0
    gc.collect()
    assert old_review() is None
