"""Local platform under hostile requests: a ReDoS filter and a 200 MiB unauthenticated body.

The server runs as ``napari-aignostics serve`` in its own process (so its memory can be read).
- ``like_regex "^(a+)+$"`` against a 27-character value: answer time, and ``GET /health`` latency
  while it runs for 3 s; baselines in the same run: an equality filter, ``/health`` at rest.
  Goals: median answer < 100 ms; ``/health`` p99 meanwhile < 100 ms (or twice its rest p99 on a
  busy machine).
- A 200 MiB POST to ``/api/v1/runs`` without a token: bytes the server took before answering and
  its RSS growth; baseline: the same request with a 1 KiB body. Goal: growth < 20 MiB.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from held_app import p99

MiB = 1024 * 1024


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def post_unauthenticated(root: str, size: int) -> tuple[int, str]:
    """POST ``size`` bytes without a token (1 MiB writes); bytes sent before the answer, status."""
    host, port = root.removeprefix("http://").rsplit(":", 1)
    sent = 0
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(f"POST /api/v1/runs HTTP/1.1\r\nHost: {host}:{port}\r\n"
                     f"Content-Type: application/json\r\nContent-Length: {size}\r\n\r\n".encode())
        chunk = b" " * min(size, MiB)
        try:
            while sent < size:
                sock.sendall(chunk[: size - sent])
                sent += min(len(chunk), size - sent)
        except OSError:
            pass  # the server answered and closed: the rest was never read
        try:
            answer = sock.recv(4096).decode("latin-1")
        except OSError:
            answer = ""
    return sent, answer.split("\r\n", 1)[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--value-length", type=int, default=27)
    parser.add_argument("--body-mib", type=int, default=200)
    args = parser.parse_args()
    here = Path(__file__).parent
    env = {**os.environ, "NAPARI_AIGNOSTICS_TOKEN": "bench",
           "PYTHONPATH": os.pathsep.join(filter(None, [os.environ.get("PYTHONPATH"), str(here)]))}
    with tempfile.TemporaryDirectory() as tmp:
        server = subprocess.Popen(
            [sys.executable, "-c", "import sys; from napari_aignostics.cli import main; "
             "sys.exit(main())", "serve", "--port", "0", "--data-dir", tmp, "--workers", "0",
             "--application", "held_app:HELD"],
            env=env, stdout=subprocess.PIPE, text=True,
        )
        try:
            assert server.stdout is not None
            line = server.stdout.readline()
            root = line.split()[2]
            http = httpx.Client(base_url=f"{root}/api/v1",
                                headers={"Authorization": "Bearer bench"}, timeout=120)
            body = {"application_id": "bench",
                    "custom_metadata": {"x": "a" * args.value_length + "!"},
                    "items": [{"external_id": "slide.svs", "input_artifacts": [{
                        "name": "whole_slide_image",
                        "download_url": "http://127.0.0.1:9/bucket/b/slide.svs?sig=x",
                        "metadata": {"checksum_base64_crc32c": "AAAAAA=="}}]}]}
            assert http.post("/runs", json=body).status_code == 201

            def timed(query: str) -> float:
                start = time.perf_counter()
                assert http.get("/runs", params={"custom_metadata": query}).status_code == 200
                return time.perf_counter() - start

            rest = []
            for _ in range(50):
                start = time.perf_counter()
                httpx.get(f"{root}/health")
                rest.append(time.perf_counter() - start)
                time.sleep(0.005)
            plain = statistics.median(timed('$.x == "a"') for _ in range(20))
            during: list[float] = []
            stop = threading.Event()

            def probe() -> None:
                while not stop.is_set():
                    start = time.perf_counter()
                    httpx.get(f"{root}/health", timeout=120)
                    during.append(time.perf_counter() - start)
                    time.sleep(0.005)

            thread = threading.Thread(target=probe)
            thread.start()
            answers = []
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline:
                answers.append(timed('$.x like_regex "^(a+)+$"'))
            stop.set()
            thread.join()

            small_before = rss_mib(server.pid)
            small_sent, small_status = post_unauthenticated(root, 1024)
            small_growth = rss_mib(server.pid) - small_before
            before = rss_mib(server.pid)
            sent, status = post_unauthenticated(root, args.body_mib * MiB)
            time.sleep(0.5)
            growth = rss_mib(server.pid) - before
        finally:
            server.terminate()
            server.wait(60)
    redos = statistics.median(answers)
    print(f'like_regex "^(a+)+$" on {args.value_length} chars, {len(answers)} times in 3 s: median'
          f" {redos * 1000:.1f} ms, max {max(answers) * 1000:.1f} ms (baseline equality filter"
          f" median {plain * 1000:.1f} ms, {redos / plain:.1f}x; goal < 100 ms)")
    health_goal = max(0.1, 2 * p99(rest))
    print(f"GET /health meanwhile: p99 {p99(during) * 1000:.1f} ms, max"
          f" {max(during) * 1000:.1f} ms over {len(during)} requests"
          f" (baseline at rest p99 {p99(rest) * 1000:.1f} ms, {p99(during) / p99(rest):.1f}x;"
          f" goal < {health_goal * 1000:.0f} ms: 100 ms or twice the rest p99)")
    print(f"{args.body_mib} MiB unauthenticated POST: answered {status!r} after "
          f"{sent / MiB:.1f} MiB sent; server RSS +{growth:.1f} MiB (baseline 1 KiB body: "
          f"{small_status!r}, +{small_growth:.1f} MiB; goal < 20 MiB)")
    ok = redos < 0.1 and p99(during) < health_goal and growth < 20
    print("goals met" if ok else "MISS")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
