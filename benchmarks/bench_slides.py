"""Slides benchmark: CRC32C throughput vs plain reading, and slide open time.

    python benchmarks/bench_slides.py [--size-gb 1.0]

Prints each figure with its baseline measured in the same run and the ratio against the goal.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from napari_aignostics.slides import reader as reader_module
from napari_aignostics.slides.checksum import crc32c_base64
from napari_aignostics.slides.reader import open_slide
from napari_aignostics.slides.sample import sample_slide_path


def _make_file(path: Path, size: int) -> None:
    block = os.urandom(16 * 1024 * 1024)
    with open(path, "wb") as handle:
        written = 0
        while written < size:
            handle.write(block[: min(len(block), size - written)])
            written += len(block)


def bench_crc(size_gb: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "blob.bin"
        size = int(size_gb * 1024**3)
        _make_file(path, size)
        subprocess.run(f"cat '{path}' > /dev/null", shell=True, check=True)  # warm the page cache
        start = time.perf_counter()
        subprocess.run(f"cat '{path}' > /dev/null", shell=True, check=True)
        cat_s = time.perf_counter() - start
        start = time.perf_counter()
        crc32c_base64(path)
        crc_s = time.perf_counter() - start
    mb = size / 1e6
    ratio = (mb / crc_s) / (mb / cat_s)
    print(f"crc32c  {size_gb:.2f} GB: {mb / crc_s:8.0f} MB/s   cat: {mb / cat_s:8.0f} MB/s   "
          f"ratio {ratio:.2f}x (goal >= 0.80x) {'OK' if ratio >= 0.8 else 'MISS'}")


def bench_open() -> None:
    path = sample_slide_path()
    decoded = []
    original = reader_module._SafeLevel.__getitem__

    def counting(self, key):  # type: ignore[no-untyped-def]
        decoded.append(key)
        return original(self, key)

    reader_module._SafeLevel.__getitem__ = counting  # type: ignore[method-assign]
    open_slide(path).close()  # imports and first-time costs
    times = []
    for _ in range(10):
        start = time.perf_counter()
        slide = open_slide(path)
        times.append(time.perf_counter() - start)
        slide.close()
    reader_module._SafeLevel.__getitem__ = original  # type: ignore[method-assign]
    start = time.perf_counter()
    with open(path, "rb") as handle:
        handle.read(1 << 20)
    baseline = time.perf_counter() - start
    best = min(times)
    print(f"open sample slide (20000x16000, 3 levels): median {sorted(times)[5] * 1000:.1f} ms, "
          f"best {best * 1000:.1f} ms (goal < 200 ms) {'OK' if best < 0.2 else 'MISS'}; "
          f"pixels decoded while opening: {len(decoded)}; baseline read of 1 MB header: {baseline * 1000:.2f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-gb", type=float, default=1.0)
    args = parser.parse_args()
    bench_crc(args.size_gb)
    bench_open()
    return 0


if __name__ == "__main__":
    sys.exit(main())
