"""local-tme vs the fastest decode of the same level 0 (goal <= 15x), on the sample slide and CMU.

    python benchmarks/bench_apps.py [--slide PATH ...]

Each figure is timed in a fresh process with the bytecode compiled (as an install has it), after
its imports: the baseline reads level 0 with ``tiffslide`` ``read_region`` in 1024 px tiles; the
analysis is local-tme as the local platform runs it (two threads, no tile processes), with the
modules it imports on first use already imported (``WARM_IMPORTS``). Decoding level 0 through our
dask pyramid is printed beside it. Also reports the analysis's peak resident memory.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from child_process import run_child
from coldstart import compile_installed

GOAL = 15.0
TILE = 1024


def tiffslide_decode(path: Path) -> float:
    """Level 0 through tiffslide, tile by tile (what a reader of the slide at least pays)."""
    import tiffslide

    with tiffslide.TiffSlide(path) as slide:
        width, height = slide.dimensions
        start = time.perf_counter()
        for y in range(0, height, TILE):
            for x in range(0, width, TILE):
                size = (min(TILE, width - x), min(TILE, height - y))
                np.asarray(slide.read_region((x, y), 0, size, as_array=True))
        return time.perf_counter() - start


def pyramid_decode(path: Path) -> float:
    """Level 0 through our lazy dask pyramid, tile by tile (the former baseline)."""
    from napari_aignostics.slides.reader import open_slide

    with open_slide(path) as slide:
        level = slide.levels[0]
        start = time.perf_counter()
        for y in range(0, slide.height, TILE):
            for x in range(0, slide.width, TILE):
                np.asarray(level[y : y + TILE, x : x + TILE].compute())
        return time.perf_counter() - start


WARM_IMPORTS = ("tiffslide", "tifffile", "pyarrow.parquet", "pandas")
"""What the analysis imports on first use (pyarrow imports pandas when it builds a table): a
local platform that has analysed one slide holds them, as the baseline holds tiffslide."""


def local_tme(path: Path) -> dict[str, float]:
    """The analysis's time, cell count and peak RSS."""
    import importlib

    from napari_aignostics.apps.base import AnalysisContext
    from napari_aignostics.apps.builtin import LOCAL_TME

    for module in WARM_IMPORTS:
        importlib.import_module(module)

    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        artifacts = LOCAL_TME.versions[0].run(AnalysisContext(path, {}, Path(tmp)))
        seconds = time.perf_counter() - start
        readout = next(a for a in artifacts if a.name == "readout_generation:slide_readouts")
        header, values = readout.path.read_text().splitlines()[1:3]
        cells = dict(zip(header.split(","), values.split(","), strict=False))["CELL_COUNT_TOTAL"]
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": seconds, "cells": float(cells), "peak_mb": peak_mb}


CHILDREN = {"tiffslide": tiffslide_decode, "pyramid": pyramid_decode}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slide", type=Path, action="append", help="default: sample and CMU")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, path = args.child[0], Path(args.child[1])
        out = local_tme(path) if kind == "local-tme" else {"seconds": CHILDREN[kind](path)}
        print(json.dumps(out))
        return 0
    from napari_aignostics.slides.sample import sample_slide_path

    slides = args.slide or [sample_slide_path(), _cmu()]
    compile_installed()
    misses = 0
    for path in slides:
        figures = {
            kind: run_child(__file__, ["--child", kind, str(path)], display=False, what=kind)
            for kind in ("tiffslide", "pyramid", "local-tme")
        }
        decode, ours = figures["tiffslide"]["seconds"], figures["local-tme"]
        ratio = ours["seconds"] / decode
        misses += ratio > GOAL
        print(
            f"{path.name}: level-0 decode, tiffslide read_region ({TILE} px tiles) "
            f"{decode:.2f} s; through our dask pyramid {figures['pyramid']['seconds']:.2f} s"
        )
        print(
            f"  local-tme {ours['seconds']:.1f} s, {ours['cells']:.0f} cells, peak RSS "
            f"{ours['peak_mb']:.0f} MB; {ratio:.1f}x tiffslide's decode (goal <= {GOAL:.0f}x) "
            f"{'PASS' if ratio <= GOAL else 'MISS'}"
        )
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 1 if misses else 0


def _cmu() -> Path:
    """CMU-1-Small-Region.svs of the shared test data (``NAPARI_AIGNOSTICS_SHARED``, as the tests)."""
    shared = Path(os.environ.get("NAPARI_AIGNOSTICS_SHARED", Path(__file__).parents[2] / "shared"))
    path = shared / "test_data" / "wsi" / "CMU-1-Small-Region.svs"
    if not path.is_file():
        raise SystemExit(f"{path.name} not found under {shared}: pass --slide PATH")
    return path


if __name__ == "__main__":
    sys.exit(main())
