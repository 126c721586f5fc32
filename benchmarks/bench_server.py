"""Local platform: a 500-item run — submit round trip, small answers and the items list.

Every server runs in its own process, as ``napari-aignostics serve`` does for a user, and every
request goes over one kept-alive connection, as the dock and the CLI poll. Baselines in the same
run: a minimal FastAPI app (one route, uvicorn, a listening socket that asks for TCP_NODELAY) in a
process of its own, taking turns with the local platform's requests (so that other jobs on the
machine load both alike), and the same app without TCP_NODELAY (what a small answer costs waiting
for the client's delayed ACK). Besides the wall time per request (which another job on the machine
inflates), the server's own CPU time per request (the scheduler's nanosecond count of its
threads), which load inflates far less.
Goals: submit < 2 s, items list p99 < 100 ms, a small answer (``/health``) in about a millisecond
(median < 3 ms), a run poll within 1.5x the minimal app's median and server CPU.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx

from held_app import p99
from napari_aignostics.platform.client import PlatformClient

MINIMAL_APP = """
import socket, sys, uvicorn
from fastapi import FastAPI
app = FastAPI()

@app.get("/ping")
async def ping() -> dict[str, str]:
    return {"status": "ok"}

sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, int(sys.argv[1]))
sock.bind(("127.0.0.1", 0))
sock.listen(128)
print(f"local platform: http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False)).run(sockets=[sock])
"""


@contextlib.contextmanager
def _process(command: list[str]) -> Iterator[tuple[str, int]]:
    """A server process: its URL (from its first line) and its pid."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")])}
    server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        if not line.startswith("local platform: "):
            raise SystemExit(f"the server did not start: {line!r}")
        yield line.split()[2], server.pid
    finally:
        server.terminate()
        server.wait(60)


def _cpu_s(pid: int) -> float:
    """CPU seconds of a process's threads so far, to the nanosecond (``/proc/PID/task/*/schedstat``:
    ``/proc/PID/stat`` counts in 10 ms clock ticks, a tick per 25 small requests, too coarse)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):  # a thread that ended since the listing
            total += int((task / "schedstat").read_text().split()[0])
    return total / 1e9


def _timed(pid: int, requests: int, call: Callable[[], object]) -> tuple[list[float], float]:
    """Seconds per call and the server's CPU seconds per call."""
    call()  # warm
    times = []
    cpu = _cpu_s(pid)
    for _ in range(requests):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return times, (_cpu_s(pid) - cpu) / requests


def _interleaved(
    cases: dict[str, tuple[int, Callable[[], object]]], requests: int, rounds: int = 10
) -> dict[str, tuple[list[float], float]]:
    """Per case (its server's pid and a call): seconds per call and the server's CPU seconds per
    call. The cases take turns, ``requests // rounds`` calls at a time, so that other jobs on the
    machine load all of them alike (the baseline included)."""
    times: dict[str, list[float]] = {name: [] for name in cases}
    cpu = dict.fromkeys(cases, 0.0)
    for _, call in cases.values():
        call()  # warm
    for _ in range(rounds):
        for name, (pid, call) in cases.items():
            before = _cpu_s(pid)
            for _ in range(max(1, requests // rounds)):
                start = time.perf_counter()
                call()
                times[name].append(time.perf_counter() - start)
            cpu[name] += _cpu_s(pid) - before
    return {name: (times[name], cpu[name] / len(times[name])) for name in cases}


def _row(name: str, samples: tuple[list[float], float]) -> str:
    times, cpu = samples
    return (f"  {name:<44} median {statistics.median(times) * 1000:6.2f} ms, "
            f"p99 {p99(times) * 1000:6.2f} ms, server CPU {cpu * 1000:5.2f} ms")


@contextlib.contextmanager
def minimal_app(nodelay: bool = True) -> Iterator[tuple[httpx.Client, int]]:
    """A one-route FastAPI app in its own process: a client on it and its pid."""
    proto = "6" if nodelay else "0"  # IPPROTO_TCP
    with _process([sys.executable, "-c", MINIMAL_APP, proto]) as (url, pid), httpx.Client(
        base_url=url, timeout=10
    ) as http:
        yield http, pid


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=500)
    parser.add_argument("--requests", type=int, default=1000)
    args = parser.parse_args()
    body = {
        "application_id": "bench",
        "items": [
            {
                "external_id": f"slide-{i:04d}.svs",
                "input_artifacts": [{
                    "name": "whole_slide_image",
                    "download_url": f"http://127.0.0.1:9/bucket/b/slide-{i:04d}.svs?sig=x",
                    "metadata": {"checksum_base64_crc32c": "AAAAAA=="},
                }],
            }
            for i in range(args.items)
        ],
    }
    serve = [sys.executable, "-m", "napari_aignostics.cli", "serve", "--port", "0", "--token",
             "bench", "--workers", "0", "--application", "held_app:HELD"]
    with tempfile.TemporaryDirectory() as tmp, _process(
        [*serve, "--data-dir", str(Path(tmp) / "platform")]
    ) as (root, pid), httpx.Client(
        base_url=f"{root}/api/v1", headers={"Authorization": "Bearer bench"}, timeout=60
    ) as http, PlatformClient(root, "bench") as client:
        start = time.perf_counter()
        response = http.post("/runs", json=body)
        submit_s = time.perf_counter() - start
        assert response.status_code == 201, response.text
        run_id = response.json()["run_id"]
        with minimal_app() as (ping, ping_pid):
            measured = _interleaved({
                "poll": (pid, lambda: http.get(f"/runs/{run_id}").raise_for_status()),
                "ours": (pid, lambda: client.run(run_id)),
                "health": (pid, lambda: http.get(f"{root}/health")),
                "apps": (pid, lambda: http.get("/applications").raise_for_status()),
                "minimal": (ping_pid, lambda: ping.get("/ping")),
            }, args.requests)
        items = _timed(pid, args.requests // 3, lambda: http.get(
            f"/runs/{run_id}/items", params={"page_size": 100}).raise_for_status())
    with minimal_app(nodelay=False) as (ping, ping_pid):
        slow = _timed(ping_pid, 20, lambda: ping.get("/ping"))
    poll, ours, health, apps, minimal = (
        measured[name] for name in ("poll", "ours", "health", "apps", "minimal"))
    base_wall, base_cpu = statistics.median(minimal[0]), minimal[1]
    print(f"submit {args.items} items: {submit_s * 1000:.0f} ms (goal < 2000 ms)")
    print(f"kept-alive connection, servers in their own processes "
          f"(load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}):")
    for name, samples in [
        ("run poll GET /runs/{id} (httpx)", poll), ("run poll, PlatformClient.run", ours),
        ("small answer GET /health", health), ("GET /applications", apps),
        (f"items list, 100 of {args.items} per page", items),
        ("baseline: minimal FastAPI app GET /ping", minimal),
        ("the same app without TCP_NODELAY", slow),
    ]:
        ratio = (f"  {statistics.median(samples[0]) / base_wall:4.1f}x / "
                 f"{samples[1] / max(base_cpu, 1e-6):4.1f}x") if samples is not minimal else ""
        print(_row(name, samples) + ratio)
    print("  (ratios: median wall / server CPU against the minimal app's)")
    poll_wall = statistics.median(poll[0]) / base_wall
    poll_cpu = poll[1] / max(base_cpu, 1e-6)
    checks = {
        "submit < 2 s": submit_s < 2,
        "items list p99 < 100 ms": p99(items[0]) < 0.1,
        "/health median < 3 ms": statistics.median(health[0]) < 0.003,
        "run poll <= 1.5x the minimal app (wall)": poll_wall <= 1.5,
        "run poll <= 1.5x the minimal app (server CPU)": poll_cpu <= 1.5,
    }
    for name, ok in checks.items():
        print(f"  {'ok  ' if ok else 'MISS'} {name}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
