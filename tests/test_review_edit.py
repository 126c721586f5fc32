"""Review editing on real outputs (Qt-free): ROI statistics, corrections, the sidecar, exports, table rows."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import shapely

from napari_aignostics.platform.results_layout import review_sidecar
from napari_aignostics.results import roi_stats as roi_stats_module
from napari_aignostics.results.coords import to_data
from napari_aignostics.results.corrections import Corrections, load_review, save_review
from napari_aignostics.results.export import (
    export_csv,
    export_geojson,
    export_roi_csv,
    export_roi_geojson,
)
from napari_aignostics.results.geojson import read_geojson
from napari_aignostics.results.object_columns import (
    RowFilter,
    filter_rows,
    numeric_columns,
    sort_rows,
)
from napari_aignostics.results.review import NOT_A_CELL, ReviewModel
from napari_aignostics.results.roi_stats import Roi, cells_in, roi_from_shape, roi_stats
from napari_aignostics.results.tables import ObjectTable

MPP = 0.25  # the cellseg tiles come without a slide; any scale will do


@pytest.fixture(scope="module")
def cells(test_data: Path) -> ObjectTable:
    """The four real cellseg tiles (a 2x2 block of 1000 px tiles) as one table."""
    tiles = sorted((test_data / "annotations" / "cellseg_gsontools").glob("*_cells.json"))
    return ObjectTable.concat([read_geojson(p) for p in tiles])


@pytest.fixture()
def review(cells: ObjectTable) -> ReviewModel:
    return ReviewModel(cells)


def _direct(review: ReviewModel, polygon: shapely.Polygon) -> np.ndarray:
    """The cells whose centroid shapely finds in ``polygon``, one by one."""
    points = shapely.points(review.table.centroids)
    inside = np.array([polygon.contains(p) for p in points])
    return np.flatnonzero(inside & (review.class_codes > 0))


@pytest.mark.parametrize("grid_from", [20_000, 0], ids=["direct", "grid"])
def test_roi_statistics_match_shapely(
    review: ReviewModel, grid_from: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(roi_stats_module, "GRID_FROM", grid_from)  # many points: the grid path
    rectangle = shapely.box(41300, 87400, 42500, 88300)
    lasso = shapely.Polygon([(41100, 87100), (42900, 87500), (42000, 88900), (41200, 88200)])
    corners = to_data(np.array([[41500, 87500], [42500, 87500], [42500, 88500], [41500, 88500]]))
    ellipse = roi_from_shape("e", "ellipse", corners)
    assert ellipse.polygon.area == pytest.approx(np.pi * 500 * 500, rel=0.01)
    area = numeric_columns(review.table, MPP)["area_um2"]
    for roi in (Roi("r", rectangle, "rectangle"), Roi("l", lasso), ellipse):
        expected = _direct(review, roi.polygon)
        assert len(expected) > 100
        assert np.array_equal(cells_in(review, roi.polygon), expected)
        stats = roi_stats(review, roi, MPP, area, "area_um2")
        assert stats.count == len(expected)
        assert stats.area_mm2 == pytest.approx(roi.polygon.area * MPP**2 / 1e6)
        assert stats.density == pytest.approx(len(expected) / stats.area_mm2)
        classes = review.table.classes[expected]
        for name in review.table.class_names:
            assert stats.counts[name] == int((classes == name).sum())
        assert sum(stats.share(n) for n in review.table.class_names) == pytest.approx(1.0)
        assert stats.mean == pytest.approx(float(area[expected].mean()), rel=1e-6)


def test_corrections_follow_undo_and_redo(review: ReviewModel) -> None:
    seen: list[np.ndarray] = []
    review.on_classes_changed.append(seen.append)
    corrections = Corrections(review, author="tester")
    before = review.class_codes.copy()
    counts = review.counts()
    chosen = cells_in(review, shapely.box(41000, 87000, 41600, 87600))
    dead = review.table.class_names.index("dead") + 1
    moved = int((before[chosen] != dead).sum())
    edit = corrections.assign(chosen, dead)
    assert edit is not None and len(edit.indices) == moved and seen[-1] is edit.indices
    assert review.counts()["dead"][1] == counts["dead"][1] + moved
    assert (review.class_codes[chosen] == dead).all()
    assert corrections.assign(chosen, dead) is None  # nothing changes
    gone = corrections.assign(chosen[:10], NOT_A_CELL)
    assert gone is not None and not review.shown()[chosen[:10]].any()
    assert sum(total for _s, total in review.counts().values()) == len(review.table) - 10
    assert review.properties(int(chosen[0]))["class"] == "not a cell"
    assert corrections.undo() is gone and corrections.undo() is edit
    assert np.array_equal(review.class_codes, before) and review.counts() == counts
    assert corrections.undo() is None
    corrections.redo()
    assert (review.class_codes[chosen] == dead).all() and len(corrections.changed()) == moved
    codes = review.raster_codes()
    assert corrections.assign(chosen[:5], NOT_A_CELL) is not None
    assert (codes[chosen[:5]] == 0).all()  # the overview's codes follow in place


def test_review_sidecar_round_trip_and_exports(review: ReviewModel, tmp_path: Path) -> None:
    corrections = Corrections(review, author="tester")
    chosen = cells_in(review, shapely.box(41000, 87000, 41500, 87500))
    corrections.assign(chosen, 1)
    corrections.assign(chosen[:7], NOT_A_CELL)
    rois = [
        Roi("box", shapely.box(41000, 87000, 41500, 87500), "rectangle"),
        Roi("stroma", shapely.box(41500, 87000, 42000, 88000), "region", "areastroma"),
    ]
    path = save_review(tmp_path, corrections, rois)
    assert path == review_sidecar(tmp_path) and not list(path.parent.glob(".*tmp"))
    saved = json.loads(path.read_text())
    assert [e["author"] for e in saved["edits"]] == ["tester", "tester"]

    again = ReviewModel(review.table)  # the folder opened again
    back, back_rois, problems = load_review(tmp_path, again)
    assert problems == []
    assert np.array_equal(again.class_codes, review.class_codes)
    assert [(r.name, r.kind, r.classification) for r in back_rois] == [
        ("box", "rectangle", None),
        ("stroma", "region", "areastroma"),
    ]
    assert back_rois[0].polygon.equals(rois[0].polygon)
    assert back.done[0].author == "tester" and back.undo() is not None
    assert review.class_codes[chosen[:7]].tolist() == [0] * 7
    assert (again.class_codes[chosen[:7]] > 0).all()  # undone after reopening

    codes = review.class_codes
    cells = export_geojson(review.table, tmp_path / "cells.geojson", codes=codes)
    features = json.loads(cells.read_text())["features"]
    assert len(features) == len(review.table) - 7
    read = read_geojson(cells)
    first = review.table.class_names[0]
    kept = chosen[7:]
    position = {int(row): k for k, row in enumerate(np.flatnonzero(codes > 0))}
    for i in kept[:50]:  # ids repeat across the tiles: match features by their order
        props = features[position[int(i)]]["properties"]
        assert props["classification"]["name"] == first
        if review.table.classes[i] != first:
            assert props["metadata"]["original_class"] == review.table.classes[i]
    assert int((read.classes == first).sum()) == review.counts()[first][1]
    rows = list(csv.DictReader(export_csv(review.table, tmp_path / "c.csv", codes=codes).open()))
    assert len(rows) == len(review.table) - 7
    assert sum(r["class"] != r["original_class"] for r in rows) == len(corrections.changed()) - 7

    stats = [roi_stats(review, roi, MPP) for roi in rois]
    table = list(
        csv.reader(export_roi_csv(stats, review.table.class_names, tmp_path / "r.csv").open())
    )
    assert table[0][:5] == ["roi", "area_mm2", "area_px", "cells", "cells_per_mm2"]
    assert [int(r[3]) for r in table[1:]] == [s.count for s in stats]
    annotations = json.loads(export_roi_geojson(rois, tmp_path / "rois.geojson", stats).read_text())
    props = [f["properties"] for f in annotations["features"]]
    assert {p["objectType"] for p in props} == {"annotation"}
    assert (
        props[1]["classification"]["name"] == "areastroma" and "color" in props[1]["classification"]
    )
    assert props[0]["measurements"]["Num cells"] == stats[0].count
    assert shapely.from_geojson(json.dumps(annotations["features"][0]["geometry"])).equals(
        rois[0].polygon
    )


def test_a_sidecar_that_no_longer_fits_is_reported(review: ReviewModel, tmp_path: Path) -> None:
    path = review_sidecar(tmp_path)
    path.parent.mkdir()
    path.write_text("{not json")
    corrections, rois, problems = load_review(tmp_path, review)
    assert not corrections.done and not rois and "not readable" in problems[0]
    path.write_text(
        json.dumps(
            {
                "version": 1,
                "edits": [
                    {"class": "dead", "rows": [0, 1], "ids": ["someone else", "x"]},
                    {"class": "no such class", "rows": [0], "ids": [str(review.table.ids[0])]},
                    {
                        "class": "dead",
                        "rows": [0],
                        "ids": [str(review.table.ids[0])],
                        "author": "a",
                    },
                ],
                "rois": [{"name": "bad", "wkt": "POINT (1 2)"}],
            }
        )
    )
    corrections, rois, problems = load_review(tmp_path, review)
    assert len(corrections.done) == 1 and review.class_name(0) == "dead"
    assert [p.split("(")[0].split(": ")[1] for p in problems] == [
        "edit 1 skipped ",
        "edit 2 skipped ",
        "ROI 1 skipped ",
    ]
    assert "review.json in" in problems[0]


def test_table_rows_sort_and_filter(review: ReviewModel) -> None:
    columns = numeric_columns(review.table, MPP)
    area = columns["area_um2"]
    rows = np.arange(len(review.table))
    ascending = sort_rows(rows, area)
    assert np.array_equal(area[ascending], np.sort(area))
    descending = sort_rows(rows, area, descending=True)
    assert np.array_equal(area[descending], np.sort(area)[::-1])
    with_nan = area.copy()
    with_nan[:3] = np.nan
    assert set(sort_rows(rows, with_nan, descending=True)[-3:].tolist()) == {0, 1, 2}
    code = review.table.class_names.index("inflammatory") + 1
    wanted = RowFilter(class_code=code, column="area_um2", low=2.0, high=8.0)
    found = filter_rows(review, columns, wanted)
    expected = (review.table.classes == "inflammatory") & (area >= 2.0) & (area <= 8.0)
    assert np.array_equal(found, np.flatnonzero(expected)) and 0 < len(found) < len(rows)
    review.set_classes(found[:4], NOT_A_CELL)
    assert len(filter_rows(review, columns, wanted)) == len(found) - 4
    text = str(review.table.ids[10])
    assert 10 in filter_rows(review, columns, RowFilter(text=text))
