"""Local platform: a 500-item run — submit round trip and items-list latency p99.

Baseline in the same run: ``GET /health`` (the cheapest request the server answers).
Every request goes over one kept-alive connection, as the dock and the CLI poll.
Goals: submit < 2 s, items list p99 < 100 ms, a small answer (``/health``) in about a millisecond
(median < 3 ms; each used to wait ~40 ms for a delayed ACK); a run poll is reported beside it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

from held_app import HELD, p99
from napari_aignostics.server.embedded import LocalPlatform


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=500)
    parser.add_argument("--requests", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, LocalPlatform(
        Path(tmp), "bench", applications=[HELD], builtin=False, worker_threads=0,
        max_items_per_run=args.items,
    ) as platform:
        http = httpx.Client(base_url=f"{platform.api_root}/api/v1",
                            headers={"Authorization": "Bearer bench"}, timeout=60)
        body = {"application_id": "bench", "items": [
            {"external_id": f"slide-{i:04d}.svs", "input_artifacts": [{
                "name": "whole_slide_image",
                "download_url": f"http://127.0.0.1:9/bucket/b/slide-{i:04d}.svs?sig=x",
                "metadata": {"checksum_base64_crc32c": "AAAAAA=="}}]} for i in range(args.items)]}
        start = time.perf_counter()
        response = http.post("/runs", json=body)
        submit_s = time.perf_counter() - start
        assert response.status_code == 201, response.text
        run_id = response.json()["run_id"]
        health, items, polls = [], [], []
        for _ in range(args.requests):
            t = time.perf_counter()
            assert http.get(f"/runs/{run_id}").status_code == 200
            polls.append(time.perf_counter() - t)
            t = time.perf_counter()
            http.get(f"{platform.api_root}/health")
            health.append(time.perf_counter() - t)
            t = time.perf_counter()
            page = http.get(f"/runs/{run_id}/items", params={"page_size": 100})
            items.append(time.perf_counter() - t)
            assert len(page.json()) == 100
    print(f"submit {args.items} items: {submit_s * 1000:.0f} ms (goal < 2000 ms)")
    print(f"items list (100 per page) p99: {p99(items) * 1000:.1f} ms, median "
          f"{statistics.median(items) * 1000:.1f} ms (goal p99 < 100 ms)")
    print(f"baseline GET /health p99: {p99(health) * 1000:.1f} ms; "
          f"items/health p99 ratio {p99(items) / p99(health):.1f}x")
    print(f"run poll on a kept-alive connection: median {statistics.median(polls) * 1000:.1f} ms, "
          f"p99 {p99(polls) * 1000:.1f} ms")
    print(f"small answer GET /health: median {statistics.median(health) * 1000:.1f} ms "
          "(goal < 3 ms)")
    ok = submit_s < 2 and p99(items) < 0.1 and statistics.median(health) < 0.003
    print("goals met" if ok else "GOALS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
