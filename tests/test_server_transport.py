"""The local platform's connections: small answers on a kept-alive connection are not held back."""

from __future__ import annotations

import socket
from typing import Any

import httpx


def test_accepted_connections_disable_nagle(server: Any) -> None:
    """Every accepted connection has TCP_NODELAY (else each small answer waits ~40 ms for an ACK)."""
    with httpx.Client(base_url=server.api_root) as client:
        for _ in range(3):  # the same kept-alive connection
            assert client.get("/health").status_code == 200
        server = server._server
        assert server is not None
        connections = list(server.server_state.connections)
        assert connections, "the kept-alive connection is open on the server"
        for protocol in connections:
            sock = protocol.transport.get_extra_info("socket")
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
