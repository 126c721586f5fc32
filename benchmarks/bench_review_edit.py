"""Review editing at a million cells: ROI statistics, reclassifying and undoing, sorting the cell table.

The cells are ``cellgen``'s he-tme-shaped Parquet file (1M near-octagons, 6 classes, 4
measurements over a 100000 x 80000 px slide, read as the plugin reads it; 0.25 µm/px, so about
2000 cells per mm²). Each figure is the median of a few runs, beside a baseline measured in the
same run on the same data:

- ROI statistics (1 mm² circle and square; a whole-tissue 200-gon): goal < 50 ms and < 500 ms;
  baseline: shapely ``contains`` of the ROI on all centroids (what a direct count would do);
- reclassify 10,000 cells, then undo: the corrected codes, the class counts and the overlay's data
  (raster codes and a fresh overview, the points' colours) up to date; goal < 200 ms each;
- cell table sort by each column (the slowest one counts): goal < 1 s; baseline ``np.argsort``.

``python benchmarks/bench_review_edit.py [--cells 1000000]``; prints PASS or MISS per goal.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import shapely

import cellgen
from napari_aignostics.results.corrections import Corrections
from napari_aignostics.results.object_columns import numeric_columns, sort_rows
from napari_aignostics.results.parquet import read_cells_parquet
from napari_aignostics.results.raster import class_raster
from napari_aignostics.results.review import ReviewModel
from napari_aignostics.results.roi_stats import Roi, roi_stats

MPP = 0.25
SLIDE = (100_000, 80_000)


def _median(run: Callable[[], object], repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _line(what: str, seconds: float, goal: float, baseline: float | None = None) -> bool:
    ok = seconds < goal
    versus = f", baseline {baseline * 1000:.1f} ms ({seconds / baseline:.2f}x)" if baseline else ""
    print(
        f"{what}: {seconds * 1000:.1f} ms (goal < {goal * 1000:.0f} ms){versus} "
        f"{'PASS' if ok else 'MISS'}",
        flush=True,
    )
    return ok


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cells", type=int, default=1_000_000)
    n = parser.parse_args().cells
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cell_classification_parquet_polygons.parquet"
        pq.write_table(
            cellgen.parquet_table(cellgen.make_cells(n, vertices=(8, 8))), path, compression="zstd"
        )
        start = time.perf_counter()
        table = read_cells_parquet(path)
    review = ReviewModel(table)
    _ = table.index, table.centroids, review.raster_codes()
    print(f"{len(table)} cells read and indexed in {time.perf_counter() - start:.1f} s", flush=True)
    points = shapely.points(table.centroids)
    ok = True

    side = 1000 / MPP  # 1 mm
    cx, cy = SLIDE[0] / 2, SLIDE[1] / 2
    square = shapely.box(cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2)
    circle = shapely.Point(cx, cy).buffer(side / np.sqrt(np.pi), quad_segs=32)
    t = np.linspace(0, 2 * np.pi, 200, endpoint=False)
    radius = 0.45 + 0.03 * np.sin(7 * t)
    tissue = shapely.Polygon(
        np.column_stack([cx + radius * SLIDE[0] * np.cos(t), cy + radius * SLIDE[1] * np.sin(t)])
    )
    area = numeric_columns(table, MPP)["area_um2"]
    for name, polygon, goal in (
        ("1 mm² square", square, 0.05),
        ("1 mm² circle", circle, 0.05),
        ("whole-tissue 200-gon", tissue, 0.5),
    ):
        roi = Roi(name, polygon)
        stats = roi_stats(review, roi, MPP, area, "area_um2")
        shapely.prepare(polygon)
        baseline = _median(lambda p=polygon: int(shapely.contains(p, points).sum()), 3)
        assert stats.count == int(shapely.contains(polygon, points).sum())  # same count
        took = _median(lambda r=roi: roi_stats(review, r, MPP, area, "area_um2"))
        ok &= _line(f"ROI statistics, {name} ({stats.count} cells)", took, goal, baseline)

    corrections = Corrections(review)
    rng = np.random.default_rng(0)
    chosen = rng.choice(len(table), 10_000, replace=False)
    codes = review.class_codes()

    def overlay() -> None:  # what the layers are given after an edit
        review.counts(review.shown())
        class_raster(table, SLIDE, review.raster_codes())
        review.face_colors()

    reclassify, undo = [], []
    for k in range(5):
        target = (k % len(table.class_names)) + 1
        start = time.perf_counter()
        corrections.assign(chosen, target)
        overlay()
        reclassify.append(time.perf_counter() - start)
        start = time.perf_counter()
        corrections.undo()
        overlay()
        undo.append(time.perf_counter() - start)
    assert np.array_equal(codes, table.class_index())
    overlay_only = _median(overlay)
    ok &= _line(
        "reclassify 10,000 cells + counts + overlay data",
        statistics.median(reclassify),
        0.2,
        overlay_only,
    )
    ok &= _line("undo it + counts + overlay data", statistics.median(undo), 0.2, overlay_only)

    rows = np.arange(len(table))
    slowest, slowest_base, slowest_name = 0.0, 0.0, ""
    for name, values in {"class": review.class_codes(), **numeric_columns(table, MPP)}.items():
        took = _median(lambda v=values: sort_rows(rows, v, descending=True), 3)
        base = _median(lambda v=values: np.argsort(v, kind="stable"), 3)
        if took > slowest:
            slowest, slowest_base, slowest_name = took, base, name
    ok &= _line(f"cell table sort, slowest column ({slowest_name})", slowest, 1.0, slowest_base)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
