"""Local platform on dask.distributed: items per minute, scheduler overhead, GIL in the nuclei tiles.

1. Nuclei tiles of the CMU slide: the share of time they hold the GIL, then ``detect_cells`` with
   one thread, two threads and two worker processes (``--tile-processes 2``), ``--repeats`` times
   each, interleaved; min and median (goal: 2 processes >= 1.7x one thread).
2. A run of ``--items`` local-tme items (CMU slide, plus ``--sample`` items of the sample slide):
   items per minute with the thread pool (2 items at once) and on a ``LocalCluster`` of 1 and 2
   worker processes (one thread each, one tile thread per item). Goal: 2 processes >= 1.7x one.
3. Scheduler overhead per item: a no-op application on the cluster and the thread pool (goal
   < 50 ms), the SQLite state machine alone (claim + finish per item) and bucket reads over HTTP.

``uv run python benchmarks/bench_cluster.py [--items 16] [--sample 0] [--repeats 3] [--tiles-only]``
(needs the shared CMU slide).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from napari_aignostics.apps.base import (
    AnalysisContext,
    ApplicationSpec,
    ProducedArtifact,
    VersionSpec,
)
from napari_aignostics.apps.nuclei import OVERLAP, TILE, _tile_cells, detect_cells
from napari_aignostics.server.cluster import ClusterExecutor
from napari_aignostics.server.embedded import LocalPlatform
from napari_aignostics.server.lifecycle import finish_item, start_item
from napari_aignostics.slides.checksum import crc32c_base64_bytes
from napari_aignostics.slides.reader import open_slide

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("NAPARI_AIGNOSTICS_SHARED", REPO.parent / "shared"))
CMU = SHARED / "test_data" / "wsi" / "CMU-1-Small-Region.svs"
TME = {"staining_method": "H&E", "specimen": {"disease": "LUNG_CANCER"}}


# --- 1. the GIL in the nuclei tiles ---------------------------------------------------------------

Tile = tuple[np.ndarray, int, int, tuple[int, int, int, int], float]


def _tiles(path: Path) -> list[Tile]:
    with open_slide(path) as slide:
        level, width, height, mpp = slide.levels[0], slide.width, slide.height, float(slide.mpp)
        tiles = []
        for y in range(0, height, TILE):
            for x in range(0, width, TILE):
                x0, y0 = max(0, x - OVERLAP), max(0, y - OVERLAP)
                x1, y1 = min(width, x + TILE + OVERLAP), min(height, y + TILE + OVERLAP)
                rgb = np.asarray(level[y0:y1, x0:x1].compute(scheduler="threads"))[..., :3]
                tiles.append((rgb, x0, y0, (x, y, min(width, x + TILE), min(height, y + TILE)), mpp))
    return tiles


def _count(tile: Tile) -> int:
    return len(_tile_cells(*tile))


def _probe_blocked(work: Any) -> float:
    """Share of the time a 1 ms sleeper thread waits for the GIL while ``work()`` runs."""
    stop, blocked = threading.Event(), [0.0]

    def probe() -> None:
        while not stop.is_set():
            start = time.perf_counter()
            time.sleep(0.001)
            blocked[0] += max(0.0, time.perf_counter() - start - 0.001)

    thread = threading.Thread(target=probe)
    thread.start()
    start = time.perf_counter()
    work()
    wall = time.perf_counter() - start
    stop.set()
    thread.join()
    return blocked[0] / wall


def _python_loop(seconds: float) -> None:
    end, n = time.perf_counter() + seconds, 0
    while time.perf_counter() < end:
        n += 1


def gil_held(tiles: list[Tile]) -> float:
    """Share of a tile's time the GIL is held: the probe's wait, between idle (0) and pure Python (1).

    Robust to other load on the machine, unlike the speed-ups (which need free cores).
    """
    start = time.perf_counter()
    tile_share = _probe_blocked(lambda: [_count(t) for t in tiles])
    seconds = time.perf_counter() - start
    idle = _probe_blocked(lambda: time.sleep(min(seconds, 5.0)))
    python = _probe_blocked(lambda: _python_loop(min(seconds, 5.0)))
    return (tile_share - idle) / max(python - idle, 1e-9)


def gil(path: Path, repeats: int) -> None:
    """The GIL probe, then one slide's nuclei tiles as the server runs them (``detect_cells``):
    1 thread, 2 threads, 2 worker processes (``--tile-processes 2``, process start included),
    interleaved, ``repeats`` times each; min and median."""
    tiles = _tiles(path)
    held = gil_held(tiles)
    print(f"nuclei tiles hold the GIL {held:.0%} of their time (GIL probe; pure Python = 100%)")
    modes = {"1 thread": (1, 0), "2 threads": (2, 0), "2 processes": (1, 2)}
    times: dict[str, list[float]] = {mode: [] for mode in modes}
    counts: set[int] = set()
    with open_slide(path) as slide:
        mask = np.ones((slide.height // 16 + 1, slide.width // 16 + 1), bool)
        for _ in range(repeats):
            for mode, (threads, processes) in modes.items():
                start = time.perf_counter()
                cells = detect_cells(slide, float(slide.mpp or 0.5), mask, 16, threads=threads,
                                     processes=processes)
                times[mode].append(time.perf_counter() - start)
                counts.add(len(cells))
    assert len(counts) == 1, counts  # the same cells every way
    one = times["1 thread"]
    for mode, seconds in times.items():
        print(f"  {mode:>11}: min {min(seconds):5.1f} s, median {statistics.median(seconds):5.1f} s"
              f"  -> {min(one) / min(seconds):.2f}x / {statistics.median(one) / statistics.median(seconds):.2f}x"
              f" of 1 thread (min / median)", flush=True)
    ratio = statistics.median(one) / statistics.median(times["2 processes"])
    print(f"nuclei tiles of one CMU slide ({counts.pop()} cells, {repeats} repeats): "
          f"2 processes {ratio:.2f}x 1 thread by median (goal >= 1.7x) "
          f"{'ok' if ratio >= 1.7 else 'MISS'}")


# --- 2. items per minute --------------------------------------------------------------------------


def _noop(ctx: AnalysisContext) -> list[ProducedArtifact]:
    out = ctx.output_dir / "summary.json"
    out.write_bytes(b'{"ok": true}')
    return [ProducedArtifact("noop:summary", out, {"media_type": "application/json"})]


NOOP = ApplicationSpec(
    application_id="noop", name="No-op", description="Overhead benchmark", regulatory_classes=[],
    versions=[VersionSpec(
        "1.0.0", "", datetime(2025, 1, 1, tzinfo=UTC),
        [{"name": "whole_slide_image", "mime_type": "image/tiff", "metadata_schema": {}}],
        [{"name": "noop:summary", "mime_type": "application/json", "metadata_schema": {},
          "scope": "ITEM", "visibility": "EXTERNAL"}], _noop)],
)


class _Client:
    def __init__(self, platform: LocalPlatform) -> None:
        self.root = platform.api_root
        self.http = httpx.Client(base_url=f"{self.root}/api/v1",
                                 headers={"Authorization": f"Bearer {platform.token}"}, timeout=120)
        self.urls: dict[Path | bytes, str] = {}

    def url(self, key: Path | bytes) -> str:
        """Upload once (through the bucket with a bearer token); a presigned GET URL."""
        if key not in self.urls:
            import botocore.session
            from botocore.config import Config

            org = self.http.get("/me").json()["organization"]
            s3 = botocore.session.get_session().create_client(
                "s3", endpoint_url=f"{self.root}/bucket", region_name="us-east-1",
                aws_access_key_id=org["aignostics_bucket_hmac_access_key_id"],
                aws_secret_access_key=org["aignostics_bucket_hmac_secret_access_key"],
                config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
            name = key.name if isinstance(key, Path) else "blob.bin"
            params = {"Bucket": org["aignostics_bucket_name"], "Key": f"bench/{len(self.urls)}/{name}"}
            data = key.read_bytes() if isinstance(key, Path) else key
            put = s3.generate_presigned_url("put_object", Params=params, ExpiresIn=3600)
            assert httpx.put(put, content=data, timeout=120).status_code == 200
            self.urls[key] = s3.generate_presigned_url("get_object", Params=params, ExpiresIn=3600)
        return self.urls[key]

    def run(self, app: str, inputs: list[Path | bytes], metadata: dict[str, Any]) -> float:
        """Submit, wait until TERMINATED/FULL; seconds from submit to the end."""
        items = [{"external_id": f"item-{i}", "input_artifacts": [{
            "name": "whole_slide_image", "download_url": self.url(key),
            "metadata": {"checksum_base64_crc32c": crc32c_base64_bytes(
                key.read_bytes() if isinstance(key, Path) else key), **metadata}}]}
            for i, key in enumerate(inputs)]
        start = time.perf_counter()
        response = self.http.post("/runs", json={"application_id": app, "items": items})
        assert response.status_code == 201, response.text
        run_id = response.json()["run_id"]
        while (run := self.http.get(f"/runs/{run_id}").json())["state"] != "TERMINATED":
            time.sleep(0.05)
        elapsed = time.perf_counter() - start
        assert run["output"] == "FULL", run
        return elapsed


def _platform(tmp: Path, name: str, executor: ClusterExecutor | None, slots: int) -> LocalPlatform:
    return LocalPlatform(tmp / name, "bench", applications=[NOOP], executor=executor,
                         worker_threads=slots, items_per_run_parallel=slots, item_threads=1,
                         max_items_per_run=1000)


def _cluster(processes: int) -> tuple[ClusterExecutor, float]:
    start = time.perf_counter()
    executor = ClusterExecutor.connect(f"local:{processes}")
    executor.client.wait_for_workers(processes)
    return executor, time.perf_counter() - start


def throughput(inputs: list[Path | bytes], noop_items: int) -> dict[str, tuple[float, float]]:
    """Per executor: (items per minute of local-tme, no-op seconds per item)."""
    results: dict[str, tuple[float, float]] = {}
    blobs: list[Path | bytes] = [bytes([i % 256]) * 1024 for i in range(noop_items)]
    with tempfile.TemporaryDirectory() as tmp:
        for name, processes in (("thread pool, 2 items", 0), ("LocalCluster 1 process", 1),
                                ("LocalCluster 2 processes", 2)):
            executor, started = _cluster(processes) if processes else (None, 0.0)
            slots = processes or 2
            try:
                with _platform(Path(tmp), f"p{processes}", executor, slots) as platform:
                    client = _Client(platform)
                    client.run("noop", blobs[:4], {})  # warm up imports on every worker
                    noop = client.run("noop", blobs, {}) / noop_items * slots
                    tme = client.run("local-tme", inputs, TME) if inputs else float("nan")
            finally:
                if executor is not None:
                    executor.shutdown()
            per_minute = len(inputs) / tme * 60
            results[name] = (per_minute, noop)
            extra = f"; cluster start {started:.1f} s" if processes else ""
            print(f"{name}: {per_minute:.1f} items/min ({len(inputs)} items in {tme:.1f} s); "
                  f"no-op item {noop * 1000:.0f} ms per slot{extra}", flush=True)
    return results


# --- 3. what stops scaling first -------------------------------------------------------------------


def sqlite_writer(items: int = 500) -> float:
    """Claims plus finishes per second on the platform's SQLite store (no outputs)."""
    with tempfile.TemporaryDirectory() as tmp, LocalPlatform(
        Path(tmp), "bench", applications=[NOOP], builtin=False, worker_threads=0,
        max_items_per_run=items,
    ) as platform:
        client = _Client(platform)
        body = {"application_id": "noop", "items": [
            {"external_id": f"i{i}", "input_artifacts": [{
                "name": "whole_slide_image", "download_url": "http://127.0.0.1:9/x",
                "metadata": {"checksum_base64_crc32c": "AAAAAA=="}}]} for i in range(items)]}
        assert client.http.post("/runs", json=body).status_code == 201
        assert platform.platform is not None
        store, settings = platform.platform.store, platform.platform.settings
        ids = [queued.id for queued in store.queued_items(limit=items)]
        start = time.perf_counter()
        for item_id in ids:
            assert start_item(store, item_id)
            finish_item(store, settings, item_id, "SUCCEEDED")
        return items / (time.perf_counter() - start)


def bucket_reads(path: Path, reads: int = 20) -> float:
    """MB/s of presigned bucket GETs (what a worker without the shared folder fetches)."""
    with tempfile.TemporaryDirectory() as tmp, LocalPlatform(
        Path(tmp), "bench", builtin=False, worker_threads=0
    ) as platform:
        url = _Client(platform).url(path)
        size = path.stat().st_size
        start = time.perf_counter()
        for _ in range(reads):
            assert len(httpx.get(url, timeout=60).content) == size
        return reads * size / 1e6 / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=16, help="CMU items in the run")
    parser.add_argument("--sample", type=int, default=0, help="sample-slide items added to it")
    parser.add_argument("--noop", type=int, default=100, help="no-op items for the overhead")
    parser.add_argument("--repeats", type=int, default=3, help="repeats of the tile comparison")
    parser.add_argument("--tiles-only", action="store_true", help="only the GIL and tile figures")
    args = parser.parse_args()
    if not CMU.is_file():
        print(f"skipped: {CMU.name} not found (set NAPARI_AIGNOSTICS_SHARED)")
        return 0
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}", flush=True)
    gil(CMU, args.repeats)
    if args.tiles_only:
        return 0
    inputs: list[Path | bytes] = [CMU] * args.items
    if args.sample:
        from napari_aignostics.slides.sample import sample_slide_path

        inputs += [sample_slide_path()] * args.sample
    results = throughput(inputs, args.noop)
    one = results["LocalCluster 1 process"][0]
    two = results["LocalCluster 2 processes"][0]
    overhead = results["LocalCluster 2 processes"][1] - results["thread pool, 2 items"][1]
    print(f"2 processes / 1 process: {two / one:.2f}x (goal >= 1.7x) "
          f"{'ok' if two / one >= 1.7 else 'MISS'}")
    print(f"cluster overhead per item over the thread pool: {overhead * 1000:.0f} ms "
          f"(goal < 50 ms) {'ok' if overhead < 0.05 else 'MISS'}")
    print(f"SQLite state machine: {sqlite_writer():.0f} items/s (claim + finish)")
    print(f"bucket GET over HTTP: {bucket_reads(CMU):.0f} MB/s")
    print(f"load average at the end {os.getloadavg()[0]:.1f}")
    return 0 if two / one >= 1.7 and overhead < 0.05 else 1


if __name__ == "__main__":
    sys.exit(main())
