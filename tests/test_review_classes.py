"""The review model's one class array and its change seam (Qt-free, real cell outputs)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from napari_aignostics.results import raster
from napari_aignostics.results.geojson import read_geojson
from napari_aignostics.results.review import ReviewModel
from napari_aignostics.results.tables import ObjectTable


@pytest.fixture(scope="module")
def cells(test_data: Path) -> ObjectTable:
    folder = test_data / "annotations" / "cellseg_gsontools"
    tables = [read_geojson(p, offset=(-41000, -87000)) for p in sorted(folder.glob("*_cells.json"))]
    return ObjectTable.concat(tables)


def test_set_classes_updates_counts_colours_and_tells_listeners(cells: ObjectTable) -> None:
    review = ReviewModel(cells)
    assert np.array_equal(review.class_codes, cells.class_index())
    before = review.counts()
    heard: list[np.ndarray] = []
    review.on_classes_changed.append(heard.append)
    codes = review.raster_codes()
    source = review.class_names.index("inflammatory") + 1
    target = review.class_code("neoplastic")
    picked = np.flatnonzero(review.class_codes == source)[:25]
    review.set_classes(picked, target)
    assert len(heard) == 1 and np.array_equal(heard[0], picked)
    after = review.counts()
    assert after["inflammatory"][1] == before["inflammatory"][1] - 25
    assert after["neoplastic"][1] == before["neoplastic"][1] + 25
    assert set(review.classes_of(picked)) == {"neoplastic"}
    assert review.raster_codes() is codes  # updated in place, the raster reads the same array
    rgb = tuple(int(c) for c in review.rgba_lut()[codes[picked[0]], :3])
    assert rgb == review.styles["neoplastic"].color
    assert np.allclose(review.face_colors()[picked, :3] * 255, review.styles["neoplastic"].color)
    review.set_classes(picked[:5], 0)  # not a cell: never shown, never counted
    assert not review.shown()[picked[:5]].any() and (codes[picked[:5]] == 0).all()
    assert sum(t for _s, t in review.counts().values()) == len(cells) - 5
    with pytest.raises(ValueError, match="class code"):
        review.set_classes(picked, 99)


def test_new_class_gets_a_code_and_a_colour(cells: ObjectTable) -> None:
    review = ReviewModel(cells)
    code = review.class_code("artefact", (1, 2, 3))
    assert code == len(cells.colors) + 1 and review.styles["artefact"].color == (1, 2, 3)
    review.set_classes(np.array([0, 1]), code)
    assert review.counts()["artefact"] == (2, 2)


def test_reclassified_cells_redraw_only_their_tiles(
    cells: ObjectTable, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(raster, "CHUNK", 256)
    review = ReviewModel(cells)
    levels = raster.class_raster(cells, (2000, 2000), review.raster_codes())
    whole = np.asarray(levels[0])  # every tile drawn and cached
    tiles = len(levels[0].cache._items)
    picked = np.flatnonzero(cells.centroids[:, 0] < 200)[:10]
    review.set_classes(picked, review.class_code("dead"))
    dropped = raster.invalidate_objects(levels, cells.boxes[picked])
    assert 0 < dropped < tiles
    redrawn = np.asarray(levels[0])
    fresh = raster.render_chunk(cells, review.raster_codes(), 1.0, 0, 0, 2000, 2000, True)
    assert np.array_equal(redrawn, fresh) and not np.array_equal(redrawn, whole)
