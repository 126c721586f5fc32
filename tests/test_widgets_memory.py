"""Going from slide to slide keeps memory flat: once a slide's layers leave the viewer, its
ReviewModel, cell table, layers and slide file are let go (checked by weak references and the
process's open files), and napari's dask cache holds none of its decoded chunks."""

from __future__ import annotations

import gc
import os
import shutil
import weakref
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely
from napari.layers import Image
from napari.utils import resize_dask_cache

from napari_aignostics.apps.writers import write_geojson
from napari_aignostics.widgets.dock import AignosticsWidget
from napari_aignostics.workflow.session import Session

pytestmark = [pytest.mark.gui, pytest.mark.slow]


def _open_files(folder: Path) -> int:
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            count += os.readlink(f"/proc/self/fd/{fd}").startswith(str(folder))
        except OSError:
            continue
    return count


def _cached_bytes(names: set[str]) -> int:
    """Bytes in napari's dask cache under keys named ``names`` (or ``finalize-*`` for "finalize")."""
    cache = resize_dask_cache().cache
    total = 0
    for key in cache.data:
        name = str(key[0] if isinstance(key, tuple) else key)
        if name in names or ("finalize" in names and name.startswith("finalize-")):
            total += cache.nbytes[key]
    return total


def test_closed_results_and_slides_are_released(
    make_napari_viewer: Any,
    qtbot: Any,
    cmu_slide: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NAPARI_AIGNOSTICS_CONFIG", str(tmp_path / "config"))
    monkeypatch.setenv("NAPARI_AIGNOSTICS_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "item"
    folder.mkdir()
    corners = np.random.default_rng(3).uniform(0, 1500, (400, 2))
    artifact = write_geojson(
        folder,
        "cell_classification:geojson_polygons",
        [shapely.box(x, y, x + 8, y + 8) for x, y in corners],
        ["A", "B"] * 200,
        {"A": (255, 0, 0), "B": (0, 0, 255)},
        [{"confidence": 0.9}] * 400,
        object_type="cell",
        polygon_mpp=0.499,
    )
    metadata = {artifact.path.name: artifact.metadata}
    slides = tmp_path / "slides"
    slides.mkdir()
    viewer = make_napari_viewer()  # a real window: napari's task list holds every worker
    widget = AignosticsWidget(viewer, Session(local_data_dir=tmp_path / "platform"))
    viewer.window.add_dock_widget(widget)
    loaded: list[str] = []
    widget.loader.item_loaded.connect(lambda _run, external_id: loaded.append(external_id))
    kept: list[list[weakref.ref[Any]]] = []
    closed: set[str] = set()  # the dask names of the closed slides' levels
    try:
        for k in range(3):
            slide = slides / f"slide-{k}.svs"
            shutil.copy(cmu_slide, slide)
            widget.loader.load_item("run-1", str(slide), folder, metadata)
            qtbot.waitUntil(lambda s=str(slide): s in loaded, timeout=60_000)
            review = widget.review.review
            assert review is not None and _open_files(slides) == 1
            viewer.camera.zoom *= 8  # zoomed in: the in-view outlines query in a worker
            qtbot.waitUntil(lambda: not widget.pool.busy, timeout=20_000)
            kept.append([weakref.ref(review), weakref.ref(review.table)])
            kept[-1] += [weakref.ref(layer) for layer in viewer.layers]
            del review
            slide_layer = next(
                la for la in viewer.layers if isinstance(la, Image) and la.multiscale
            )
            names = {level.name for level in slide_layer.data}
            del slide_layer
            assert _cached_bytes(names) > 0  # napari cached the chunks drawn
            viewer.layers.clear()  # the slide and its results close (as the Cohort tab does)
            qtbot.waitUntil(lambda: not widget.pool.busy, timeout=20_000)
            closed |= names
            assert _cached_bytes(closed) == 0
            assert _cached_bytes({"finalize"}) == 0  # nor views assembled from them
    finally:
        widget.shutdown()
    qtbot.wait(100)  # napari deletes the removed layers' controls from the event loop
    gc.collect()
    # napari's global key-binding manager keeps the last removed Points/Shapes layers' mode
    # buttons until new layer controls replace them: of the last slide, check its cells' models
    checked = [*kept[0], *kept[1], *kept[2][:2]]
    alive = [type(ref()).__name__ for ref in checked if ref() is not None]
    assert alive == []
    assert _open_files(slides) == 0
    assert widget.review.review is None and widget.edit.review is None
