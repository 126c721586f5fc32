"""A seeded fault-injecting HTTP proxy on loopback, in front of the real local platform.

Each request is forwarded to the upstream root; a seeded share of them (``rate``) gets one fault:

- ``503-before``: answered 503 (``Retry-After: 0``) without reaching the platform;
- ``503-after``: the platform handled it, the client gets 503 instead of the answer;
- ``reset``: headers and half the body (none for an empty answer), then a TCP reset;
- ``truncate``: half the body with a matching ``Content-Length`` (a short, well-formed answer).

``only`` limits faults to requests starting with e.g. ``"POST /api/v1/runs"``, ``budget`` caps their
number and ``cycle`` takes the kinds in order instead of at random (for exact regression tests).
``Location`` headers pointing at the upstream are rewritten to the proxy, so signed file URLs go
through it too; ``Host`` is passed on unchanged so presigned bucket URLs keep their signature.
"""

from __future__ import annotations

import contextlib
import random
import socket
import struct
import threading
from collections import Counter
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

KINDS = ("503-before", "503-after", "reset", "truncate")
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "content-length",
}


class FaultProxy:
    """``with FaultProxy(upstream, rate=0.2, seed=1) as proxy:`` then talk to ``proxy.url``."""

    def __init__(
        self,
        upstream: str,
        *,
        rate: float = 0.2,
        seed: int = 0,
        kinds: Sequence[str] = KINDS,
        only: str | None = None,
        budget: int | None = None,
        cycle: bool = False,
    ) -> None:
        self.upstream = upstream.rstrip("/")
        self.rate = rate
        self.kinds = tuple(kinds)
        self.only = only
        self.budget = budget
        self.cycle = cycle
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self.requests = 0
        self.faults: Counter[str] = Counter()
        self.log: list[tuple[str, str, str]] = []
        """(method, path, fault) of every injected fault."""
        self.seen: list[str] = []
        """``METHOD /path`` of every request, in order."""
        self._http = httpx.Client(timeout=120.0, follow_redirects=False)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._http.close()

    def decide(self, method: str, path: str) -> str | None:
        """The fault for the next request (seeded), or None."""
        with self._lock:
            self.requests += 1
            self.seen.append(f"{method} {path.split('?')[0]}")
            if self.only is not None and not f"{method} {path}".startswith(self.only):
                return None
            if self.budget is not None and sum(self.faults.values()) >= self.budget:
                return None
            if self._random.random() >= self.rate:
                return None
            if self.cycle:
                kind = self.kinds[sum(self.faults.values()) % len(self.kinds)]
            else:
                kind = self._random.choice(self.kinds)
            self.faults[kind] += 1
            self.log.append((method, path.split("?")[0], kind))
            return kind

    def forward(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> httpx.Response:
        """The upstream's answer, its ``Location`` pointed back at the proxy."""
        response = self._http.request(
            method, self.upstream + path, headers=headers, content=body or None
        )
        location = response.headers.get("location")
        if location and location.startswith(self.upstream):
            response.headers["location"] = self.url + location[len(self.upstream) :]
        return response


def _handler(proxy: FaultProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet
            return

        def _any(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            kind = proxy.decide(self.command, self.path)
            if kind == "503-before":
                self._send(503, {"Retry-After": "0"}, b'{"detail":"injected fault"}')
                return
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            headers["Accept-Encoding"] = "identity"
            try:
                upstream = proxy.forward(self.command, self.path, headers, body)
            except httpx.HTTPError as exc:
                self._send(502, {}, f'{{"detail":"proxy: {type(exc).__name__}"}}'.encode())
                return
            if kind == "503-after":
                self._send(503, {}, b'{"detail":"injected fault after the handler"}')
                return
            content = upstream.content
            out = {k: v for k, v in upstream.headers.items() if k.lower() not in HOP_BY_HOP}
            if kind == "truncate":
                self._send(upstream.status_code, out, content[: len(content) // 2])
            elif kind == "reset":
                if len(content) > 1:  # an empty answer is reset before its headers
                    self._head(upstream.status_code, out, len(content))
                    self.wfile.write(content[: len(content) // 2])
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
                self.connection.close()
                self.close_connection = True
            else:
                self._send(upstream.status_code, out, content)

        def _head(self, status: int, headers: dict[str, str], length: int) -> None:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(length))
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True

        def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
            self._head(status, headers, len(body))
            if self.command != "HEAD":
                self.wfile.write(body)

        def handle(self) -> None:
            with contextlib.suppress(OSError):  # the injected reset
                super().handle()

        def finish(self) -> None:
            with contextlib.suppress(OSError):
                super().finish()

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = _any

    return Handler
