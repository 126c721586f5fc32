"""A big cell file is shown as it is read: partial overviews, then the whole result in the same layer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import shapely

from napari_aignostics.results.parquet import FIRST_BATCH
from napari_aignostics.results.result_set import Partial, iter_results, load_results

CELLS = 120_000  # a first batch of FIRST_BATCH rows, then batches of 50,000 rows


def _write(path: Path, n: int = CELLS) -> None:
    rng = np.random.default_rng(5)
    centres = rng.uniform(10, 20_000, (n, 2))
    square = np.array([[-3, -3], [3, -3], [3, 3], [-3, 3], [-3, -3]], dtype=np.float64)
    polygons = shapely.polygons(centres[:, None, :] + square[None])
    pq.write_table(pa.table({
        "id": np.arange(n).astype(str),
        "geometry": shapely.to_wkb(polygons),
        "class_name": rng.choice(["tumor", "stroma", "immune"], n),
        "confidence": rng.uniform(0, 1, n),
    }), path, row_group_size=60_000)


@pytest.fixture(autouse=True)
def _own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NAPARI_AIGNOSTICS_CACHE", str(tmp_path / "cache"))


def _drawn(levels: Any) -> int:
    """Cells stamped on the coarsest overview level (pixels with a colour)."""
    return int(np.count_nonzero(np.asarray(levels[-1])[..., 3]))


def test_partials_grow_and_end_in_the_same_result(tmp_path: Path) -> None:
    path = tmp_path / "cell_classification_parquet_polygons.parquet"
    _write(path)
    steps = iter_results(path, None, (20_000, 20_000))
    partials: list[Partial] = []
    while True:
        try:
            partials.append(next(steps))
        except StopIteration as finished:
            result = finished.value
            break
    assert FIRST_BATCH < 25_000  # the first overview comes after a small first batch
    shown = [FIRST_BATCH, 50_000, 100_000]
    assert [(p.cells, p.done) for p in partials] == [(n, n / CELLS) for n in shown]
    drawn = [_drawn(p.overview[0]) for p in partials]
    assert 0 < drawn[0] < drawn[1] < drawn[2]
    whole = load_results(path, None, (20_000, 20_000))  # read at once (the cache is off: small)
    assert result.cells is not None and whole.cells is not None and len(result.cells) == CELLS
    np.testing.assert_array_equal(result.cells.geometry.coords, whole.cells.geometry.coords)
    np.testing.assert_array_equal(result.cells.ids, whole.cells.ids)
    assert result.review is not None and whole.review is not None
    np.testing.assert_array_equal(result.review.raster_codes(), whole.review.raster_codes())
    assert drawn[-1] < _drawn(result.layer_data()[0][0])


@pytest.mark.gui
def test_the_viewer_shows_cells_as_they_load(make_napari_viewer: Any, qtbot: Any,
                                             tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from napari_aignostics.widgets.growing_overview import GrowingOverview
    from napari_aignostics.widgets.results_loader import ResultsLoader

    path = tmp_path / "cell_classification_parquet_polygons.parquet"
    _write(path)
    seen: list[tuple[int, int, int]] = []
    waiting: list[float] = []  # the overview's opacity before the first cells came
    update = GrowingOverview.update

    def recorded(self: GrowingOverview, step: Partial) -> None:
        layers = list(viewer.layers)
        if not seen and self.layer is not None:
            waiting.append(self.layer.opacity)
        update(self, step)
        layer = self.layer or next(x for x in viewer.layers if x not in layers)
        seen.append((id(layer), step.cells, _drawn(step.overview[0])))

    monkeypatch.setattr(GrowingOverview, "update", recorded)
    viewer = make_napari_viewer()
    loader = ResultsLoader.of(viewer)
    with qtbot.waitSignal(loader.opened, timeout=60_000):
        loader.open_path(path)
    assert [cells for _, cells, _ in seen] == [FIRST_BATCH, 50_000, 100_000]
    assert waiting == [0.0]  # added empty and transparent as the open started
    assert seen[0][2] < seen[1][2] < seen[2][2]
    overview = [layer for layer in viewer.layers if type(layer).__name__ == "ClassImage"]
    assert len(overview) == 1 and id(overview[0]) == seen[0][0]  # the same layer, now whole
    assert overview[0].opacity > 0.0
    assert _drawn(overview[0].data) > seen[-1][2]
    assert len(viewer.layers) == 3  # overview, centroids, outlines
    assert overview[0].name.endswith("· cells")


def test_the_next_overview_comes_with_the_shown_tiles_drawn(tmp_path: Path) -> None:
    from napari_aignostics.results.raster import CHUNK
    from napari_aignostics.results.result_layers import predraw_like

    path = tmp_path / "cell_classification_parquet_polygons.parquet"
    _write(path)
    first, second = (p.overview for p in _partials_of(path)[:2])
    shown = first[0][1]  # napari looked at a tile of level 1
    np.asarray(shown[:CHUNK, CHUNK : 2 * CHUNK])
    assert predraw_like(second, first) == 1
    codes = second[0][1].codes
    assert codes.cache.recent(5) == [(1, 0, 1)]
    fresh = iter_results(path, None, (20_000, 20_000))
    next(fresh)
    again = next(fresh).overview[0][1]  # the same cells, nothing drawn yet
    np.testing.assert_array_equal(codes[:CHUNK, CHUNK : 2 * CHUNK], again.codes[:CHUNK, CHUNK : 2 * CHUNK])
    assert np.asarray(codes[:CHUNK, CHUNK : 2 * CHUNK]).any()


def _partials_of(path: Path) -> list[Partial]:
    steps = iter_results(path, None, (20_000, 20_000))
    partials: list[Partial] = []
    while True:
        try:
            partials.append(next(steps))
        except StopIteration:
            return partials
