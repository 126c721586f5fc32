"""Review editing at a million cells: ROI statistics, reclassifying and undoing, sorting the cell table.

The cells are ``cellgen``'s he-tme-shaped Parquet file (1M near-octagons, 6 classes, 4
measurements over a 100000 x 80000 px slide, read as the plugin reads it; 0.25 µm/px, so about
2000 cells per mm²). Each figure is the median of a few runs, beside a baseline measured in the
same run on the same data:

- ROI statistics (1 mm² circle and square; a whole-tissue 200-gon): goal < 50 ms and < 500 ms;
  baseline: shapely ``contains`` of the ROI on all centroids (what a direct count would do);
- reclassify 10,000 cells, then undo: the corrected codes, the class counts (kept per edit) and the
  overview's tiles those cells touch forgotten; goal < 200 ms each; baseline: what an edit cost
  before (counts over all cells, a fresh overview raster, every point's colour);
- cell table sort by each column (the slowest one counts): goal < 1 s; baseline ``np.argsort`` of the column;
- the main thread's longest gap (late ticks of a 5 ms timer) while the Review, Edit and Table
  panels, on a bare ViewerModel in a fresh process (under Xvfb without a display), show a
  whole-tissue ROI's statistics, sort and filter the table (work in workers), and reclassify 10,000
  cells and undo (the edit itself on the main thread, the rest in workers): goal < 100 ms each.

``python benchmarks/bench_review_edit.py [--cells 1000000]``; prints PASS or MISS per goal.
"""

from __future__ import annotations

import argparse
import json
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
from child_process import run_child
from napari_aignostics.results.corrections import Corrections
from napari_aignostics.results.object_columns import numeric_columns, sort_rows
from napari_aignostics.results.parquet import read_cells_parquet
from napari_aignostics.results.raster import class_raster, invalidate_objects
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


def _tissue() -> shapely.Polygon:
    """A whole-tissue ROI: a wavy 200-gon over most of the slide."""
    cx, cy = SLIDE[0] / 2, SLIDE[1] / 2
    t = np.linspace(0, 2 * np.pi, 200, endpoint=False)
    radius = 0.45 + 0.03 * np.sin(7 * t)
    return shapely.Polygon(
        np.column_stack([cx + radius * SLIDE[0] * np.cos(t), cy + radius * SLIDE[1] * np.sin(t)])
    )


def _gaps(path: Path) -> dict[str, float]:
    """In this process: the panels on a ViewerModel; the longest main-thread gap per step (s)."""
    from napari.components import ViewerModel
    from napari.layers import Layer
    from napari.qt import get_qapp
    from qtpy.QtCore import QTimer

    from napari_aignostics.results.coords import to_data
    from napari_aignostics.results.result_set import ResultSet
    from napari_aignostics.widgets.cell_layers import CellLayers
    from napari_aignostics.widgets.cell_table import CellTablePanel
    from napari_aignostics.widgets.review_panel import ReviewPanel
    from napari_aignostics.widgets.roi_panel import RoiPanel
    from napari_aignostics.widgets.workers import WorkerPool

    app = get_qapp()
    table = read_cells_parquet(path)
    review = ReviewModel(table)
    result = ResultSet("bench", MPP, SLIDE, cells=table, cells_source=str(path), review=review)
    review.raster_codes()
    viewer, pool = ViewerModel(), WorkerPool()
    layers = [viewer.add_layer(Layer.create(*data)) for data in result.layer_data()]
    found = CellLayers.among(layers)
    handles = CellLayers(found.raster, found.points)  # in-view outlines need a canvas
    panel, edit = ReviewPanel(viewer), RoiPanel(viewer, pool)
    cells = CellTablePanel(viewer, pool)
    panel.show_results(result, handles)
    edit.show_results(result, handles)
    cells.show_results(result)
    last, worst = [time.perf_counter()], [0.0]

    def tick() -> None:
        now = time.perf_counter()
        worst[0] = max(worst[0], now - last[0])
        last[0] = now

    timer = QTimer()
    timer.setInterval(5)
    timer.timeout.connect(tick)
    timer.start()

    def settle(until: Callable[[], bool], limit: float = 60.0) -> None:
        end = time.perf_counter() + limit
        while not until() and time.perf_counter() < end:
            app.processEvents()
            time.sleep(0.002)
        for _ in range(20):  # a few more ticks after the answer arrived
            app.processEvents()
            time.sleep(0.005)

    def step(run: Callable[[], object], until: Callable[[], bool]) -> float:
        settle(lambda: not pool.busy)
        last[0], worst[0] = time.perf_counter(), 0.0
        run()
        settle(until)
        settle(lambda: not pool.busy)
        return worst[0]

    shown: list[int] = []
    edit.stats_shown.connect(lambda: shown.append(1))
    rois = edit.rois_layer
    assert rois is not None and cells.model is not None
    ring = to_data(np.asarray(_tissue().exterior.coords)[:-1])
    gaps = {
        "whole-tissue ROI drawn → its statistics (worker)": step(
            lambda: rois.add_polygons([ring]), lambda: len(shown) > 0
        )
    }
    edit.set_selection(np.random.default_rng(0).choice(len(table), 10_000, replace=False))
    gaps["reclassify 10,000 cells, then every view and table"] = step(
        lambda: edit.correct(1), lambda: len(shown) > 1
    )
    gaps["undo it, the same"] = step(edit.undo, lambda: len(shown) > 2)
    model = cells.model
    area = model.columns["area_um2"]
    column = model.headers.index("area_um2")
    gaps["cell table sort by area (worker)"] = step(
        lambda: cells.sort(column, True), lambda: bool(area[model.rows[0]] == np.nanmax(area))
    )
    gaps["cell table class filter (worker)"] = step(
        lambda: cells.class_filter.setCurrentIndex(2), lambda: model.rowCount() < len(table) // 2
    )
    timer.stop()
    pool.cancel_all()
    return gaps


def _gaps_child(path: Path) -> dict[str, float]:
    """:func:`_gaps` in a fresh process (under Xvfb when there is no display)."""
    return run_child(__file__, ["--gaps", str(path)], what="main-thread gaps")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cells", type=int, default=1_000_000)
    parser.add_argument("--gaps", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.gaps:
        print(json.dumps(_gaps(args.gaps)))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cell_classification_parquet_polygons.parquet"
        cells = cellgen.make_cells(args.cells, vertices=(8, 8))
        pq.write_table(cellgen.parquet_table(cells), path, compression="zstd")
        start = time.perf_counter()
        table = read_cells_parquet(path)
        print(f"{len(table)} cells read in {time.perf_counter() - start:.1f} s", flush=True)
        gaps = _gaps_child(path)
    review = ReviewModel(table)
    _ = table.index, table.centroids, review.raster_codes()
    print(f"{len(table)} cells read and indexed in {time.perf_counter() - start:.1f} s", flush=True)
    points = shapely.points(table.centroids)
    ok = True

    side = 1000 / MPP  # 1 mm
    cx, cy = SLIDE[0] / 2, SLIDE[1] / 2
    square = shapely.box(cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2)
    circle = shapely.Point(cx, cy).buffer(side / np.sqrt(np.pi), quad_segs=32)
    tissue = _tissue()
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
    codes = review.class_codes

    levels = class_raster(table, SLIDE, review.raster_codes())
    for level in levels[-2:]:  # a few cached tiles of the coarse levels, as on screen
        level[: min(level.shape[0], 2048), : min(level.shape[1], 2048)]

    def overlay() -> None:  # what the layers are given after an edit
        review.counts()
        invalidate_objects(levels, table.boxes[chosen])

    def before() -> None:  # what an edit cost before: full passes, a fresh raster, every colour
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
    before_edit = _median(before, 3)
    ok &= _line(
        "reclassify 10,000 cells + counts + overview tiles to redraw",
        statistics.median(reclassify),
        0.2,
        before_edit,
    )
    ok &= _line("undo it, the same", statistics.median(undo), 0.2, before_edit)

    rows = np.arange(len(table))
    slowest, slowest_base, slowest_name = 0.0, 0.0, ""
    for name, values in {"class": review.class_codes, **numeric_columns(table, MPP)}.items():
        took = _median(lambda v=values: sort_rows(rows, v, descending=True), 3)
        base = _median(lambda v=values: np.argsort(v), 3)
        if took > slowest:
            slowest, slowest_base, slowest_name = took, base, name
    ok &= _line(f"cell table sort, slowest column ({slowest_name})", slowest, 1.0, slowest_base)
    for what, gap in gaps.items():
        ok &= _line(f"longest main-thread gap, {what}", gap, 0.1)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
