"""``napari-aignostics serve``: the local platform standalone."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``serve`` verb."""
    parser = subparsers.add_parser(
        "serve",
        help="run the local Aignostics Platform (API v1) on this computer",
        description="Serve the Aignostics Platform API v1 locally, with the built-in applications.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 = any free)")
    parser.add_argument("--data-dir", type=Path, default=None, help="database and files")
    parser.add_argument(
        "--token",
        default=argparse.SUPPRESS,
        help="pin the local user's bearer token (env NAPARI_AIGNOSTICS_TOKEN)",
    )
    parser.add_argument("--workers", type=int, default=2, help="items analysed at the same time")
    parser.add_argument(
        "--application",
        action="append",
        default=[],
        metavar="MODULE:NAME",
        help="also serve this ApplicationSpec (importable object), repeatable",
    )
    parser.set_defaults(func=serve)


def _load(reference: str) -> object:
    import importlib

    module, _, name = reference.partition(":")
    if not module or not name:
        raise SystemExit(f"error: --application {reference!r} must look like package.module:NAME")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise SystemExit(f"error: cannot load application {reference!r}: {exc}") from None


def serve(args: argparse.Namespace) -> int:
    """Run until Ctrl-C or SIGTERM."""
    from .embedded import LocalPlatform

    token = getattr(args, "token", None) or os.environ.get("NAPARI_AIGNOSTICS_TOKEN")
    if args.host not in {"127.0.0.1", "localhost", "::1"}:
        print(
            f"warning: serving on {args.host}: other computers can reach this platform",
            file=sys.stderr,
        )
    extra = [_load(ref) for ref in args.application]
    platform = LocalPlatform(
        args.data_dir,
        token,
        host=args.host,
        port=args.port,
        applications=extra,  # type: ignore[arg-type]
        worker_threads=args.workers,
    )
    try:
        platform.start()
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr)
        return 1
    from .sdk_env import write_sdk_env

    env_file = write_sdk_env(platform.data_dir, platform.api_root)
    print(f"local platform: {platform.api_root}  (data: {platform.data_dir})", flush=True)
    print(f"official SDK/CLI: export AIGNOSTICS_ENV_FILE={env_file}", flush=True)
    if platform.platform is not None and platform.platform.generated_token:
        print(f"token (shown once): {platform.platform.generated_token}", flush=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    platform.stop()
    return 0
