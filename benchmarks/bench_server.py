"""Local platform: a 500-item run — submit round trip and items-list latency p99.

Baselines in the same run: ``GET /health`` (the cheapest request the server answers) and a
minimal FastAPI app (one route, served by uvicorn in a thread of this process as the platform is,
on a listening socket that asks for TCP_NODELAY); the same minimal app on uvicorn's own socket
shows what a small answer costs without TCP_NODELAY (the client's delayed ACK).
Every request goes over one kept-alive connection, as the dock and the CLI poll.
Goals: submit < 2 s, items list p99 < 100 ms, a small answer (``/health``) in about a millisecond
(median < 3 ms), a run poll within 3x the minimal app's median.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import uvicorn
from fastapi import FastAPI

from held_app import HELD, p99
from napari_aignostics.server.embedded import LocalPlatform


def minimal_app_polls(requests: int, nodelay: bool = True) -> list[float]:
    """Seconds per ``GET /ping`` of a one-route FastAPI app on one kept-alive connection."""
    app = FastAPI()

    @app.get("/ping")
    async def ping() -> dict[str, str]:
        return {"status": "ok"}

    proto = socket.IPPROTO_TCP if nodelay else 0
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, proto)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            while not server.started:
                time.sleep(0.01)
            http.get("/ping")  # the connection opened
            times = []
            for _ in range(requests):
                start = time.perf_counter()
                http.get("/ping")
                times.append(time.perf_counter() - start)
            return times
    finally:
        server.should_exit = True
        thread.join(10)


def _ms(samples: list[float]) -> str:
    return f"median {statistics.median(samples) * 1000:.2f} ms, p99 {p99(samples) * 1000:.2f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=500)
    parser.add_argument("--requests", type=int, default=100)
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as tmp,
        LocalPlatform(
            Path(tmp),
            "bench",
            applications=[HELD],
            builtin=False,
            worker_threads=0,
            max_items_per_run=args.items,
        ) as platform,
    ):
        http = httpx.Client(
            base_url=f"{platform.api_root}/api/v1",
            headers={"Authorization": "Bearer bench"},
            timeout=60,
        )
        body = {
            "application_id": "bench",
            "items": [
                {
                    "external_id": f"slide-{i:04d}.svs",
                    "input_artifacts": [
                        {
                            "name": "whole_slide_image",
                            "download_url": f"http://127.0.0.1:9/bucket/b/slide-{i:04d}.svs?sig=x",
                            "metadata": {"checksum_base64_crc32c": "AAAAAA=="},
                        }
                    ],
                }
                for i in range(args.items)
            ],
        }
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
    print(
        f"items list (100 per page) p99: {p99(items) * 1000:.1f} ms, median "
        f"{statistics.median(items) * 1000:.1f} ms (goal p99 < 100 ms)"
    )
    print(
        f"baseline GET /health p99: {p99(health) * 1000:.1f} ms; "
        f"items/health p99 ratio {p99(items) / p99(health):.1f}x"
    )
    minimal = minimal_app_polls(args.requests)
    slow = minimal_app_polls(20, nodelay=False)
    poll_ratio = statistics.median(polls) / statistics.median(minimal)
    print(
        f"kept-alive connection, {args.requests} requests each "
        f"(load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}):"
    )
    print(f"  run poll GET /runs/{{id}}: {_ms(polls)}; {poll_ratio:.1f}x the minimal app's median")
    print(f"  small answer GET /health: {_ms(health)} (goal median < 3 ms)")
    print(f"  minimal FastAPI app GET /ping (baseline): {_ms(minimal)}")
    print(f"  the same app without TCP_NODELAY (20 requests): {_ms(slow)}")
    ok = submit_s < 2 and p99(items) < 0.1 and statistics.median(health) < 0.003 and poll_ratio <= 3
    print("goals met" if ok else "GOALS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
