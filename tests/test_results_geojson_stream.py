"""GeoJSON cells shown as the file streams in: partial tables, then exactly the whole file's table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from napari_aignostics.results import geojson_stream
from napari_aignostics.results.geojson import read_geojson
from napari_aignostics.results.geojson_stream import iter_geojson
from napari_aignostics.results.result_set import Partial, iter_results, loads_progressively
from napari_aignostics.results.tables import ObjectTable


@pytest.fixture(autouse=True)
def _own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NAPARI_AIGNOSTICS_CACHE", str(tmp_path / "cache"))


def _feature(i: int, rng: np.random.Generator, style: int) -> dict[str, Any]:
    k = int(rng.integers(6, 41))
    angle = np.linspace(0, 2 * np.pi, k, endpoint=False)
    cx, cy = rng.uniform(50, 9000, 2)
    ring = np.column_stack([cx + 5 * np.cos(angle), cy + 5 * np.sin(angle)]).round(2).tolist()
    values = {"area": float(i % 97), "eosin": 0.5}
    props: dict[str, Any] = {
        "classification": {"name": ["tumor", "stroma", "immune"][i % 3], "color": [i % 3, 9, 9]},
        "measurements": ([{"name": n, "value": v} for n, v in values.items()]
                         if style % 2 else values),
        "note": 'a "quoted" }, {"type": string\\',  # boundaries inside strings are not cuts
    }
    geometry = {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}
    members = [("type", "Feature"), ("id", i if style else f"cell-{i}"),
               ("geometry", geometry), ("properties", props)]
    return dict(members[::-1] if i % 2 else members)  # key order varies feature by feature


def _write(path: Path, n: int, style: int) -> None:
    rng = np.random.default_rng(style)
    features = [_feature(i, rng, style) for i in range(n)]
    document = ({"features": features, "name": "x", "type": "FeatureCollection"} if style
                else {"type": "FeatureCollection", "features": features})
    path.write_text(json.dumps(document, indent=2 if style else None))


def _same(a: ObjectTable, b: ObjectTable) -> None:
    np.testing.assert_array_equal(a.geometry.coords, b.geometry.coords)
    np.testing.assert_array_equal(a.geometry.ring_offsets, b.geometry.ring_offsets)
    np.testing.assert_array_equal(a.classes, b.classes)
    np.testing.assert_array_equal(a.ids, b.ids)
    assert a.colors == b.colors and a.problems == b.problems
    assert a.measurements.keys() == b.measurements.keys()
    for name in a.measurements:
        np.testing.assert_array_equal(a.measurements[name], b.measurements[name])


@pytest.mark.parametrize("style", [0, 1, 2], ids=["compact", "pretty-qupath-list", "pretty"])
def test_partials_grow_and_end_in_the_whole_files_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, style: int
) -> None:
    monkeypatch.setattr(geojson_stream, "FIRST_BLOCK", 64 * 1024)
    monkeypatch.setattr(geojson_stream, "BLOCK", 128 * 1024)
    path = tmp_path / "cells.json"
    _write(path, 3000, style)
    steps = list(iter_geojson(path, partial=True))
    sizes = [len(table) for table, _ in steps]
    assert len(steps) >= 3 and sizes == sorted(sizes) and 0 < sizes[0] < 3000 == sizes[-1]
    assert [done for _, done in steps][-1] == 1.0
    _same(steps[-1][0], read_geojson(path))
    first = steps[0][0]
    np.testing.assert_array_equal(first.ids, read_geojson(path).ids[: len(first)])


def test_a_layout_it_does_not_take_is_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "cells.json"
    _write(path, 50, 0)
    feature = json.loads(path.read_text())["features"][0]
    path.write_text(json.dumps(feature))  # one Feature, no collection
    [(table, done)] = list(iter_geojson(path, partial=True))
    assert (len(table), done) == (1, 1.0)


def test_a_big_geojson_cell_file_loads_progressively(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from napari_aignostics.results import result_set

    monkeypatch.setattr(geojson_stream, "FIRST_BLOCK", 64 * 1024)
    monkeypatch.setattr(geojson_stream, "BLOCK", 256 * 1024)
    monkeypatch.setattr(result_set, "PROGRESSIVE_BYTES", 1024)
    path = tmp_path / "cell_classification_geojson_polygons.json"
    _write(path, 3000, 0)
    assert loads_progressively(path) and loads_progressively(tmp_path)
    steps = iter_results(path, None, (10_000, 10_000))
    partials: list[Partial] = []
    while True:
        try:
            partials.append(next(steps))
        except StopIteration as finished:
            result = finished.value
            break
    assert partials and all(0 < p.cells < 3000 for p in partials)
    assert np.count_nonzero(np.asarray(partials[0].overview[0][-1])[..., 3]) > 0
    assert result.cells is not None and len(result.cells) == 3000
