"""The reopen cache: same table back without parsing, never stale, safe when opened at once."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import shapely

from napari_aignostics.results import cellcache
from napari_aignostics.results.cellcache import cached_table, cell_cache_dir, wait_for_writes
from napari_aignostics.results.parquet import read_cells_parquet
from napari_aignostics.results.tables import ObjectTable


@pytest.fixture(autouse=True)
def _own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NAPARI_AIGNOSTICS_CACHE", str(tmp_path / "cache"))


def _write(
    path: Path, n: int = 400, seed: int = 0, reverse: bool = False, ids: list[str] | None = None
) -> None:
    rng = np.random.default_rng(seed)
    centers = rng.uniform(0, 4000, (n, 2))
    polygons = [shapely.Polygon(shapely.Point(c).buffer(5, 3).exterior) for c in centers]
    table = pa.table(
        {
            "id": ids or [f"c{seed}-{i}" for i in range(n)],
            "geometry": shapely.to_wkb(polygons),
            "class_name": rng.choice(["tumor", "stroma", "immune"], n),
            "confidence": rng.uniform(0, 1, n),
            "area": rng.uniform(10, 90, n).astype(np.float32),
        }
    )
    if reverse:  # the same values in another order: the same size
        table = table.take(np.arange(n)[::-1])
    pq.write_table(table, path, compression="none", use_dictionary=False, write_statistics=False)


def _files() -> list[Path]:
    """The entries and temporary files of the cache (not its folder of remembered checksums),
    once the writes under way finished."""
    wait_for_writes()
    return [p for p in cell_cache_dir().iterdir() if p.is_file()]


class _Reader:
    def __init__(self, path: Path) -> None:
        self.path, self.calls = path, 0

    def __call__(self) -> ObjectTable:
        self.calls += 1
        return read_cells_parquet(self.path)


def _same(a: ObjectTable, b: ObjectTable) -> None:
    np.testing.assert_array_equal(a.geometry.coords, b.geometry.coords)
    np.testing.assert_array_equal(a.geometry.ring_offsets, b.geometry.ring_offsets)
    np.testing.assert_array_equal(a.geometry.geom_offsets, b.geometry.geom_offsets)
    np.testing.assert_array_equal(a.classes, b.classes)
    np.testing.assert_array_equal(a.ids, b.ids)
    assert a.colors == b.colors and a.problems == b.problems
    np.testing.assert_array_equal(a.confidence, b.confidence)  # type: ignore[arg-type]
    assert a.measurements.keys() == b.measurements.keys()
    np.testing.assert_array_equal(a.measurements["area"], b.measurements["area"])
    np.testing.assert_array_equal(a.centroids, b.centroids)
    np.testing.assert_array_equal(a.class_index(), b.class_index())
    window = (1000.0, 1000.0, 2500.0, 2000.0)
    np.testing.assert_array_equal(a.query(window), b.query(window))


def test_reopen_gives_the_same_table_without_reading(tmp_path: Path) -> None:
    path = tmp_path / "cells.parquet"
    _write(path)
    reader = _Reader(path)
    first = cached_table(path, reader, how="test", min_bytes=0)
    again = cached_table(path, reader, how="test", min_bytes=0)
    assert reader.calls == 1
    _same(first, again)
    entries = _files()
    assert [e.suffix for e in entries] == [".cells"]
    assert cached_table(path, reader, how="other scale", min_bytes=0) is not None
    assert reader.calls == 2  # read another way: another entry


def test_a_changed_file_is_never_served_stale(tmp_path: Path) -> None:
    path = tmp_path / "cells.parquet"
    _write(path, seed=1)
    reader = _Reader(path)
    old = cached_table(path, reader, how="test", min_bytes=0)
    stat = path.stat()
    _write(path, seed=1, reverse=True)  # other content, same size; mtime put back
    assert path.stat().st_size == stat.st_size
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    new = cached_table(path, reader, how="test", min_bytes=0)
    assert reader.calls == 2
    assert new.ids[0] == "c1-399" and old.ids[0] == "c1-0"
    _same(new, read_cells_parquet(path))


def test_the_entry_is_written_after_the_hand_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The table is handed over first; the entry follows from a snapshot taken then (a later
    correction of the codes does not reach it), byte for byte what a write in place gives."""
    path = tmp_path / "cells.parquet"
    _write(path, n=3000)

    def derive(table: ObjectTable) -> dict[str, np.ndarray]:
        return {"codes": (np.arange(len(table)) % 7).astype(np.uint16)}

    gate = threading.Event()
    store = cellcache._store

    def held(*args: object) -> None:
        gate.wait(30)
        store(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(cellcache, "_store", held)
    table = cached_table(path, _Reader(path), how="t", derive=derive, min_bytes=0)
    assert not [p for p in cell_cache_dir().iterdir() if p.is_file()]  # not written yet
    table.derived["codes"][:10] = 6  # a correction, made after the hand-over
    gate.set()
    [entry] = _files()
    written = entry.read_bytes()

    fresh = read_cells_parquet(path)
    fresh.derived.update(derive(fresh))
    in_place = tmp_path / "in_place" / entry.name
    store(in_place.parent, in_place, cellcache._snapshot(fresh))
    assert written == in_place.read_bytes()

    reader = _Reader(path)
    again = cached_table(path, reader, how="t", derive=derive, min_bytes=0)
    assert reader.calls == 0
    _same(again, fresh)
    np.testing.assert_array_equal(again.derived["codes"], derive(fresh)["codes"])


def test_concurrent_opens_and_damaged_entries(tmp_path: Path) -> None:
    path = tmp_path / "cells.parquet"
    _write(path)
    reference = read_cells_parquet(path)
    with ThreadPoolExecutor(4) as pool:
        tables = list(
            pool.map(lambda _: cached_table(path, _Reader(path), how="t", min_bytes=0), range(8))
        )
    for table in tables:
        _same(table, reference)
    entries = _files()
    assert len(entries) == 1 and entries[0].suffix == ".cells"  # no temporary file left
    entries[0].write_bytes(entries[0].read_bytes()[:1000])  # damaged (a crash, a full disk)
    reader = _Reader(path)
    _same(cached_table(path, reader, how="t", min_bytes=0), reference)
    assert reader.calls == 1
    _same(cached_table(path, reader, how="t", min_bytes=0), reference)
    assert reader.calls == 1  # rewritten whole


def test_cache_is_trimmed_least_recently_used_first(tmp_path: Path) -> None:
    paths = []
    for k in range(3):
        paths.append(tmp_path / f"cells{k}.parquet")
        _write(paths[-1], seed=k)
        cached_table(paths[-1], _Reader(paths[-1]), how="t", min_bytes=0)
        entry = max(_files(), key=lambda p: p.stat().st_mtime_ns)
        os.utime(entry, (1000 + k, 1000 + k))
    size = _files()[0].stat().st_size
    cached_table(paths[0], _Reader(paths[0]), how="t", min_bytes=0)  # used again: newest
    cached_table(paths[0], _Reader(paths[0]), how="u", min_bytes=0, limit_bytes=int(2.5 * size))
    wait_for_writes()  # the trim after the last write
    reader = _Reader(paths[1])
    cached_table(paths[1], reader, how="t", min_bytes=0)
    assert reader.calls == 1  # the least recently used entry went
    assert len(_files()) <= 3


@pytest.mark.parametrize("odd", ["long", "nul"])
def test_ids_come_back_exactly(tmp_path: Path, odd: str) -> None:
    """Short ids are mapped back as a fixed-width array; one very long id or a trailing NUL (which
    fixed-width strings would bloat or drop) take the exact UTF-8 path."""
    for name, ids in {
        "plain": None,
        odd: [f"k{i}" for i in range(399)] + ["é" * 20_000 if odd == "long" else "tail\0"],
    }.items():
        path = tmp_path / f"{name}.parquet"
        _write(path, ids=ids)
        reader = _Reader(path)
        first = cached_table(path, reader, how="t", min_bytes=0)
        again = cached_table(path, reader, how="t", min_bytes=0)
        assert reader.calls == 1
        _same(first, again)
        assert [str(v) for v in again.ids] == (ids or [f"c0-{i}" for i in range(400)])
        assert (again.ids.dtype.kind == "U") == (name == "plain")


def test_reopen_maps_the_overview_and_derived_arrays(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from napari_aignostics.results import cellcache
    from napari_aignostics.results.raster import render_chunk
    from napari_aignostics.results.result_set import load_results

    monkeypatch.setattr(cellcache, "MIN_FILE_BYTES", 0)
    path = tmp_path / "cell_classification_parquet_polygons.parquet"
    _write(path, n=3000)
    first = load_results(path, slide_size=(4000, 4000))
    again = load_results(path, slide_size=(4000, 4000))
    assert first.review is not None and again.review is not None
    assert first.cells is not None and again.cells is not None
    assert not again.cells.centroid_grid.winners.flags.owndata  # mapped from the entry
    assert not again.review.raster_codes().flags.owndata
    np.testing.assert_array_equal(first.review.raster_codes(), again.review.raster_codes())
    fresh = ObjectTable(
        first.cells.geometry,
        first.cells.classes,
        first.cells.colors,
        first.cells.ids,
        first.cells.confidence,
    )
    codes = again.review.raster_codes()
    for ds in (8.0, 16.0):
        np.testing.assert_array_equal(
            render_chunk(again.cells, codes, ds, 0, 0, 200, 200, False),
            render_chunk(fresh, codes, ds, 0, 0, 200, 200, False),
        )
    again.review.set_classes(np.arange(10), 0)  # an edit changes this process's copy only
    third = load_results(path, slide_size=(4000, 4000))
    assert third.review is not None
    np.testing.assert_array_equal(third.review.raster_codes(), first.review.raster_codes())


def test_reopen_does_not_read_the_file_for_its_checksum(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from napari_aignostics.results import cellcache

    path = tmp_path / "cells.parquet"
    _write(path)
    sums: list[Path] = []
    real = cellcache.crc32c_base64
    monkeypatch.setattr(cellcache, "crc32c_base64", lambda p: sums.append(p) or real(p))
    reader = _Reader(path)
    for _ in range(3):
        cached_table(path, reader, how="t", min_bytes=0)
    assert (reader.calls, len(sums)) == (1, 1)
    stat = path.stat()
    _write(path, reverse=True)  # new content, same size, modification time put back
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    table = cached_table(path, reader, how="t", min_bytes=0)
    assert (reader.calls, len(sums)) == (2, 2) and table.ids[0] == "c0-399"


def test_the_checksum_is_taken_after_the_first_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "cells.parquet"
    _write(path)
    events: list[str] = []
    real = cellcache.crc32c_base64
    monkeypatch.setattr(cellcache, "crc32c_base64",
                        lambda p: events.append("checksum") or real(p))
    whole = read_cells_parquet(path)

    def read() -> cellcache.Steps:
        events.append("first batch")
        yield whole, 0.5
        events.append("rest")
        yield whole, 1.0

    steps = cellcache.iter_cached_table(path, read, how="t", min_bytes=0)
    assert next(steps)[1] == 0.5 and events == ["first batch"]  # on screen before any hashing
    assert [done for _table, done in steps] == [1.0]
    assert events == ["first batch", "checksum", "rest"]
    assert [e.suffix for e in _files()] == [".cells"]
    again = cellcache.iter_cached_table(path, read, how="t", min_bytes=0)
    assert [done for _table, done in again] == [1.0] and events.count("first batch") == 1
