"""An item's local input: hard-linked into the item folder (CRC32C read once) vs copied whole.

Baseline in the same run: the former way, streaming the bucket object into the item folder while
computing its CRC32C. Goal: no bytes written for a local input (disk use +0) and less time than
the copy. Size: ``--mib`` (default 512 MiB of random bytes, about one large slide).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from napari_aignostics.server.inputs import fetch_input
from napari_aignostics.slides.checksum import Crc32c, crc32c_base64

CHUNK = 2 * 1024 * 1024
URL = "http://127.0.0.1:1/bucket/b/user/slide.svs?X-Amz-Signature=x"


def copy_whole(source: Path, folder: Path) -> Path:
    """The former way: the object copied into the item folder, checked on the way."""
    target = folder / source.name
    crc = Crc32c()
    with source.open("rb") as src, target.open("wb") as dst:
        while chunk := src.read(CHUNK):
            crc.update(chunk)
            dst.write(chunk)
    crc.base64()
    return target


def written(path: Path, source: Path) -> int:
    """Bytes this path added on disk (0 when it shares the source's inode)."""
    if path.stat().st_ino == source.stat().st_ino:
        return 0
    return path.stat().st_blocks * 512


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mib", type=int, default=512)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "slide.svs"
        with source.open("wb") as handle:
            for _ in range(args.mib):
                handle.write(os.urandom(1024 * 1024))
        expected = crc32c_base64(source)
        copy_s, link_s, copy_bytes, link_bytes = [], [], 0, 0
        for run in range(args.repeat):
            for kind in ("copy", "link"):
                folder = Path(tmp) / f"{kind}-{run}"
                folder.mkdir()
                start = time.perf_counter()
                if kind == "copy":
                    got = copy_whole(source, folder)
                    copy_s.append(time.perf_counter() - start)
                    copy_bytes = written(got, source)
                else:
                    got = fetch_input(URL, folder, expected, source)
                    link_s.append(time.perf_counter() - start)
                    link_bytes = written(got, source)
                got.unlink()
    copy_t, link_t = statistics.median(copy_s), statistics.median(link_s)
    print(f"local input of {args.mib} MiB, median of {args.repeat}")
    print(f"  copied whole (baseline): {copy_t:.2f} s, {copy_bytes / 2**20:.0f} MiB written")
    print(f"  linked, CRC32C once:     {link_t:.2f} s, {link_bytes / 2**20:.0f} MiB written")
    ratio = link_t / copy_t if copy_t else 0.0
    met = link_bytes == 0 and link_t < copy_t
    print(f"  time {ratio:.2f}x of the copy; goal (+0 bytes, faster): {'met' if met else 'MISS'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
