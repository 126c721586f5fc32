"""local-tme on the 20000 x 16000 sample slide vs decoding its level 0 tile by tile (goal <= 15x).

Also reports the peak resident memory of the analysis.
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from napari_aignostics.apps.base import AnalysisContext
from napari_aignostics.apps.builtin import LOCAL_TME
from napari_aignostics.slides.reader import open_slide
from napari_aignostics.slides.sample import sample_slide_path


def decode_level0(path: Path, tile: int = 1024) -> float:
    start = time.perf_counter()
    with open_slide(path) as slide:
        level = slide.levels[0]
        for y in range(0, slide.height, tile):
            for x in range(0, slide.width, tile):
                np.asarray(level[y : y + tile, x : x + tile].compute())
    return time.perf_counter() - start


def main() -> int:
    path = sample_slide_path()
    decode_s = decode_level0(path)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        artifacts = LOCAL_TME.versions[0].run(AnalysisContext(path, {}, Path(tmp)))
        analysis_s = time.perf_counter() - start
        cells = next(a for a in artifacts if a.name == "readout_generation:slide_readouts")
        header, values = cells.path.read_text().splitlines()[1:3]
        count = dict(zip(header.split(","), values.split(","), strict=False))["CELL_COUNT_TOTAL"]
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    ratio = analysis_s / decode_s
    print(f"sample slide level-0 decode (1024 px tiles): {decode_s:.1f} s")
    print(f"local-tme analysis: {analysis_s:.1f} s, {count} cells; ratio {ratio:.1f}x (goal <= 15x)")
    print(f"peak RSS: {peak_mb:.0f} MB")
    return 0 if ratio <= 15 else 1


if __name__ == "__main__":
    sys.exit(main())
