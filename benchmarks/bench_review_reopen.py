"""Reopening a reviewed million-cell folder: the sidecar written, replayed in a fresh process, exported.

The cells are ``cellgen``'s he-tme-shaped Parquet file (1M near-octagons, 6 classes, 4
measurements; 0.25 µm/px), in an item folder as a download leaves it. This process applies
10,000 corrections (100 edits of 100 cells, each to another class) and 3 ROIs, and saves the
review (``review/review.json``). A fresh process then reads the folder the way the plugin does
and times, beside baselines measured in that same process:

- reopen with replay: the Parquet read plus the sidecar replayed (corrections and ROIs back);
  baseline: the Parquet read alone; goal: the replay adds < 1 s;
- QuPath GeoJSON of the corrected cells (corrected and original class, provenance) and of the
  ROIs; baseline: the same export without corrections; goal: < 1.25x the baseline;
- the sidecar at scale: 100,000 corrected cells in one edit, written and replayed; goal < 1 s each.

``python benchmarks/bench_review_reopen.py [--cells 1000000]``; prints PASS or MISS per goal and
the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import shapely

import cellgen
from child_process import run_child
from napari_aignostics.platform.results_layout import review_sidecar
from napari_aignostics.results.corrections import Corrections, load_review, save_review
from napari_aignostics.results.export import export_geojson, export_roi_geojson
from napari_aignostics.results.parquet import read_cells_parquet
from napari_aignostics.results.review import ReviewModel
from napari_aignostics.results.roi_stats import Roi

CELLS_FILE = "cell_classification_parquet_polygons.parquet"
EDITS, PER_EDIT = 100, 100
BIG_EDIT = 100_000


def _rois() -> list[Roi]:
    """Three ROIs: a 1 mm square, a circle and a large polygon (level-0 px at 0.25 µm/px)."""
    square = shapely.box(48_000, 38_000, 52_000, 42_000)
    circle = shapely.Point(30_000, 30_000).buffer(3000, quad_segs=16)
    big = shapely.Polygon([(10_000, 10_000), (90_000, 12_000), (85_000, 70_000), (15_000, 65_000)])
    return [
        Roi("square", square, "rectangle"),
        Roi("circle", circle, "ellipse"),
        Roi("tissue", big, "polygon"),
    ]


def _reopen(item: str) -> dict[str, float]:
    """In a fresh process: read, replay, export; seconds per step."""
    folder = Path(item)
    start = time.perf_counter()
    table = read_cells_parquet(folder / CELLS_FILE)
    read = time.perf_counter() - start
    review = ReviewModel(table)
    start = time.perf_counter()
    corrections, rois, problems = load_review(folder, review)
    replay = time.perf_counter() - start
    assert not problems and len(rois) == 3, problems
    changed = len(corrections.changed())
    provenance = {"application": "bench", "platform": "local platform"}
    start = time.perf_counter()
    export_geojson(table, folder / "plain.geojson", provenance=provenance)
    plain = time.perf_counter() - start
    start = time.perf_counter()
    export_geojson(table, folder / "cells.geojson", codes=review.class_codes, provenance=provenance)
    corrected = time.perf_counter() - start
    start = time.perf_counter()
    export_roi_geojson(rois, folder / "rois.geojson")
    roi_export = time.perf_counter() - start
    return {
        "read": read,
        "replay": replay,
        "changed": changed,
        "plain": plain,
        "corrected": corrected,
        "rois": roi_export,
    }


def _line(what: str, seconds: float, goal: str, ok: bool, baseline: float | None = None) -> bool:
    versus = f", baseline {baseline:.2f} s ({seconds / baseline:.2f}x)" if baseline else ""
    print(f"{what}: {seconds:.2f} s (goal {goal}){versus} {'PASS' if ok else 'MISS'}", flush=True)
    return ok


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cells", type=int, default=1_000_000)
    parser.add_argument("--reopen", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.reopen:
        print(json.dumps(_reopen(args.reopen)))
        return 0
    print(f"load average at start: {os.getloadavg()}", flush=True)
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        item = Path(tmp) / "item"
        item.mkdir()
        cells = cellgen.make_cells(args.cells, vertices=(8, 8))
        pq.write_table(cellgen.parquet_table(cells), item / CELLS_FILE, compression="zstd")
        table = read_cells_parquet(item / CELLS_FILE)
        review = ReviewModel(table)
        corrections = Corrections(review)
        rng = np.random.default_rng(0)
        chosen = rng.choice(len(table), EDITS * PER_EDIT, replace=False).reshape(EDITS, PER_EDIT)
        classes = len(table.class_names)
        for k, rows in enumerate(chosen):
            codes = review.class_codes[rows]
            corrections.assign(rows, int((codes[0] % classes) + 1) if k % 10 else 0)
        rois = _rois()
        start = time.perf_counter()
        save_review(item, corrections, rois)
        write = time.perf_counter() - start
        size = review_sidecar(item).stat().st_size
        expected = len(corrections.changed())
        print(f"{len(table)} cells; {expected} corrected in {EDITS} edits; 3 ROIs", flush=True)
        ok &= _line(f"sidecar written ({size / 1e6:.2f} MB)", write, "< 1 s", write < 1.0)

        got = run_child(__file__, ["--reopen", str(item)], display=False, what="reopen")
        assert got["changed"] == expected, (got["changed"], expected)
        ok &= _line(
            "reopen: Parquet read + sidecar replayed (fresh process)",
            got["read"] + got["replay"],
            "replay < 1 s",
            got["replay"] < 1.0,
            got["read"],
        )
        print(f"  of which the replay: {got['replay'] * 1000:.0f} ms", flush=True)
        ok &= _line(
            "export of the corrected cells, QuPath GeoJSON",
            got["corrected"],
            "< 1.25x baseline",
            got["corrected"] < 1.25 * got["plain"],
            got["plain"],
        )
        print(
            f"export of the 3 ROIs as QuPath annotations: {got['rois'] * 1000:.1f} ms", flush=True
        )

        big = Corrections(ReviewModel(table))
        rows = rng.choice(len(table), BIG_EDIT, replace=False)
        big.assign(rows, 1 + int(big.review.class_codes[rows[0]] % classes))
        start = time.perf_counter()
        save_review(item, big, [])
        write = time.perf_counter() - start
        size = review_sidecar(item).stat().st_size
        start = time.perf_counter()
        again, _rois_back, problems = load_review(item, ReviewModel(table))
        replay = time.perf_counter() - start
        assert not problems and len(again.changed()) == len(big.changed())
        ok &= _line(
            f"sidecar of {BIG_EDIT:,} corrected cells written ({size / 1e6:.2f} MB)",
            write,
            "< 1 s",
            write < 1.0,
        )
        ok &= _line("the same replayed", replay, "< 1 s", replay < 1.0)
    print(f"load average at end: {os.getloadavg()}", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
