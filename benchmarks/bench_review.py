"""Review display at scale: N he-tme-shaped cells (``cellgen``) over a 100000 x 80000 slide.

Qt-free, in one process, each figure against its goal (PASS/MISS) and, where one exists, a
baseline measured in the same run:
- colour-by switch: the measurement's values, its range, the overview values and the first
  (coarsest) overview tile plus the in-view outline colours (goal < 1 s); baseline: the class
  overview's first tile;
- range change: new range, colours of the cells in the widest outlined view (goal < 200 ms);
  the colours of all
  cells (for the centroid points) are printed beside it;
- density map of one class over the whole slide, 100 µm grid (goal < 2 s); baseline:
  ``numpy.histogram2d`` of the same points; the same restricted to a tissue class is printed;
- hotspot search, 1 mm windows, top 5 (goal < 1 s); baseline: counting every window's points
  directly, timed on 300 windows and extrapolated to all of them;
- reclassify 10000 cells: class array, raster codes, counts and the tiles to redraw
  (goal < 200 ms).
``--cells N`` (default 1000000).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import shapely

import cellgen
from napari_aignostics.results.density import Region, density_map, find_hotspots
from napari_aignostics.results.geometry import Polygons
from napari_aignostics.results.measure_colors import (
    AREA,
    MeasureColors,
    colormap_lut,
    measure_values,
)
from napari_aignostics.results.raster import class_raster, invalidate_objects
from napari_aignostics.results.review import ReviewModel
from napari_aignostics.results.tables import ObjectTable

SLIDE = (100_000, 80_000)
MPP = 0.25
IN_VIEW = 5000


def table_of(cells: cellgen.Cells) -> ObjectTable:
    """The generated cells as the review reads them."""
    n = len(cells)
    colors = {name: tuple(int(c[i : i + 2], 16) for i in (1, 3, 5))
              for name, c in cellgen.CLASSES.items()}
    return ObjectTable(
        geometry=Polygons(cells.coords, cells.offsets, np.arange(n + 1, dtype=np.int64)),
        classes=cells.classes, colors=colors,  # type: ignore[arg-type]
        ids=np.array([f"cell-{i}" for i in range(n)], dtype=object),
        confidence=cells.confidence, measurements=dict(cells.measures))


def tissue(seed: int = 5) -> Region:
    """60 stroma-like blobs of 256 vertices, 1-3 mm across."""
    rng = np.random.default_rng(seed)
    angle = np.linspace(0, 2 * np.pi, 257)[:-1]
    polygons = []
    for cx, cy, r in zip(rng.uniform(5000, 95000, 60), rng.uniform(5000, 75000, 60),
                         rng.uniform(2000, 6000, 60), strict=True):
        wobble = 1 + 0.15 * np.sin(5 * angle + rng.uniform(0, 6))
        polygons.append(shapely.Polygon(np.column_stack([cx + r * wobble * np.cos(angle),
                                                         cy + r * wobble * np.sin(angle)])))
    return Region("stroma", np.array(polygons, dtype=object))


def timed(fn: Callable[[], Any], repeat: int = 3) -> tuple[float, Any]:
    """Best wall time of ``repeat`` runs and the last answer."""
    best, out = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def report(label: str, seconds: float, goal: float, baseline: float | None = None) -> bool:
    ok = seconds < goal
    ratio = ""
    if baseline:
        ratio = (f", {seconds / baseline:.2f}x the baseline" if seconds >= baseline
                 else f", {baseline / seconds:.0f}x faster than the baseline")
        ratio += f" ({baseline * 1000:.0f} ms)"
    print(f"{label}: {seconds * 1000:.0f} ms (goal < {goal * 1000:.0f} ms){ratio} "
          f"{'PASS' if ok else 'MISS'}", flush=True)
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=1_000_000)
    args = parser.parse_args()
    start = time.perf_counter()
    table = table_of(cellgen.make_cells(args.cells, vertices=(8, 8)))
    review = ReviewModel(table)
    _ = table.index, table.centroids, review.raster_codes()  # as loading leaves them
    colormap_lut("viridis")  # napari's colormaps are imported in a napari session already
    print(f"{len(table)} cells ready in {time.perf_counter() - start:.1f} s", flush=True)
    results = []

    levels = class_raster(table, SLIDE, review.raster_codes())
    coarse = levels[-1]
    base, _ = timed(lambda: coarse._draw(0, 0), repeat=1)
    window = (40000.0, 30000.0, 43000.0, 33000.0)  # the widest view that shows outlines
    in_view = review.in_view(window, IN_VIEW)

    def switch() -> None:
        review.color_by = MeasureColors.of(AREA, measure_values(table, AREA, MPP))
        values = review.overview_values()
        class_raster(table, SLIDE, values)[-1]._draw(0, 0)
        review.face_colors(in_view)

    seconds, _ = timed(switch, repeat=1)
    results.append(report("colour-by switch to data ready", seconds, 1.0, base))

    def change() -> None:
        assert review.color_by is not None
        review.color_by.set_range(20.0, 80.0)
        review.face_colors(in_view)

    seconds, _ = timed(change)
    results.append(report(f"range change ({len(in_view)} cells in view)", seconds, 0.2))
    every, _ = timed(lambda: review.face_colors(), repeat=1)
    print(f"  colours of all {len(table)} cells (centroid points): {every * 1000:.0f} ms")
    review.color_by = None

    lymphocytes = table.centroids[table.classes == "lymphocyte"]
    hist, _ = timed(lambda: np.histogram2d(lymphocytes[:, 0], lymphocytes[:, 1],
                                           bins=(250, 200), range=((0, SLIDE[0]), (0, SLIDE[1]))))
    seconds, dm = timed(lambda: density_map(lymphocytes, SLIDE, MPP, 100.0, label="lymphocyte"))
    results.append(report(f"density map of {len(lymphocytes)} lymphocytes, "
                          f"{dm.density.shape[1]}x{dm.density.shape[0]} grid", seconds, 2.0, hist))
    stroma = tissue()
    restricted, _ = timed(lambda: density_map(lymphocytes, SLIDE, MPP, 100.0, stroma), repeat=1)
    print(f"  restricted to {len(stroma.polygons)} stroma polygons: {restricted * 1000:.0f} ms "
          f"({'PASS' if restricted < 2.0 else 'MISS'} against the same 2 s)")

    xy = table.centroids
    seconds, spots = timed(lambda: find_hotspots(xy, SLIDE, MPP, 1000.0, top=5))
    step = 1000.0 / MPP / 4
    windows = (int(SLIDE[1] // step) - 3) * (int(SLIDE[0] // step) - 3)
    t0 = time.perf_counter()
    for k in range(300):
        i, j = divmod(k * 37 % windows, int(SLIDE[0] // step) - 3)
        x0, y0 = j * step, i * step
        int(((xy[:, 0] >= x0) & (xy[:, 0] < x0 + 4 * step)
             & (xy[:, 1] >= y0) & (xy[:, 1] < y0 + 4 * step)).sum())
    brute = (time.perf_counter() - t0) / 300 * windows
    results.append(report(f"hotspots (1 mm windows, top {len(spots)})", seconds, 1.0, brute))

    levels = class_raster(table, SLIDE, review.raster_codes())
    for level in levels[-3:]:  # the tiles a zoomed-out view has drawn
        np.asarray(level)
    picked = np.flatnonzero(table.centroids[:, 0] < 20000)[:10_000]
    target = review.class_code("tumor")

    def reclassify() -> None:
        review.set_classes(picked, target)
        review.counts()
        invalidate_objects(levels, table.boxes[picked])

    seconds, _ = timed(reclassify)
    results.append(report("reclassify 10000 cells (counts, raster tiles)", seconds, 0.2))
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
