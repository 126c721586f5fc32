"""The local platform in-process: uvicorn in a background thread on a free loopback port."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from ..apps.base import ApplicationSpec
from .app import create_app
from .service import Platform
from .settings import ServerSettings, default_data_dir
from .worker import Executor, Worker

__all__ = ["LocalPlatform"]


class LocalPlatform:
    """Start with ``with LocalPlatform() as p:``; ``p.api_root`` and ``p.token`` reach it.

    Extra keyword arguments are :class:`ServerSettings` fields (quotas, retention, threads...).
    """

    def __init__(
        self,
        data_dir: Path | None = None,
        token: str | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        applications: list[ApplicationSpec] | None = None,
        executor: Executor | None = None,
        builtin: bool = True,
        **settings: Any,
    ) -> None:
        self.host = host
        self.port = port
        self.settings = ServerSettings(
            data_dir=data_dir or default_data_dir(), token=token, **settings
        )
        self.applications = applications
        self.executor = executor
        self.builtin = builtin
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.platform: Platform | None = None
        self.worker: Worker | None = None

    @property
    def api_root(self) -> str:
        """``http://127.0.0.1:PORT`` (the client appends ``/api/v1``)."""
        return self.settings.public_url

    @property
    def token(self) -> str:
        """The local user's bearer token (pinned or generated)."""
        assert self.platform is not None, "start the platform first"
        token = self.settings.token or self.platform.generated_token
        assert token is not None  # pinned, read from the data directory or generated
        return token

    @property
    def data_dir(self) -> Path:
        """Where the platform keeps its database and files."""
        return self.settings.data_dir

    def start(self, timeout: float = 30.0) -> LocalPlatform:
        """Bind, serve in a background thread and wait until healthy."""
        # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY on accepted connections only when the
        # listening socket says so, and without it every small answer on a kept-alive connection
        # waits ~40 ms for the client's delayed ACK.
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        shown = f"[{self.host}]" if ":" in self.host else self.host
        self.settings.public_url = f"http://{shown}:{self.port}"
        app = create_app(
            self.settings, self.applications, executor=self.executor, builtin=self.builtin
        )
        self.platform = app.state.platform
        self.worker = app.state.worker
        config = uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="local-platform", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.api_root}/health", timeout=1.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if not self._thread.is_alive():
                break
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"the local platform did not start on {self.api_root}")

    def stop(self) -> None:
        """Shut down cleanly (items in flight return to the queue)."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(60)
        self._server = None
        self._thread = None

    def sign_in_secret(self) -> str:
        """A one-time secret that signs a browser in at ``/device`` to approve logins."""
        assert self.platform is not None, "start the platform first"
        return self.platform.sign_in_secret()

    def add_user(self, user_id: str, org_id: str = "org_local", **kwargs: Any) -> str:
        """Create a user (``role="admin"`` for an admin); returns its bearer token."""
        assert self.platform is not None, "start the platform first"
        return self.platform.add_user(user_id, org_id, **kwargs)

    def __enter__(self) -> LocalPlatform:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
