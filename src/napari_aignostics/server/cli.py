"""``napari-aignostics serve``: the local platform standalone."""

from __future__ import annotations

import argparse
import gc
import os
import signal
import sys
import threading
from pathlib import Path

__all__ = ["read_token_file", "register"]


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
    token = parser.add_mutually_exclusive_group()
    token.add_argument(
        "--token-file",
        type=Path,
        default=None,
        help="pin the local user's bearer token: read it from this file (mode 0600)",
    )
    token.add_argument(
        "--token",
        default=argparse.SUPPRESS,
        help="pin the token on the command line (other users can see it in the process list;"
        " prefer env NAPARI_AIGNOSTICS_TOKEN or --token-file)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="items analysed at the same time (default 2; with --cluster the cluster's threads)",
    )
    parser.add_argument(
        "--tile-processes",
        type=int,
        default=0,
        metavar="N",
        help="analyse the nuclei tiles of one slide in N worker processes (default 0: in threads;"
        " without --cluster)",
    )
    parser.add_argument(
        "--cluster",
        default=None,
        metavar="local:N|tcp://HOST:PORT",
        help="analyse items on a dask.distributed cluster: N local worker processes started and "
        "stopped with the server, or an existing scheduler (needs the 'cluster' extra)",
    )
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


def read_token_file(path: Path) -> str:
    """The token in ``path``; refused unless only its owner can read it."""
    try:
        mode = path.stat().st_mode
        token = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise SystemExit(f"error: cannot read the token file {path}: {exc.strerror}") from None
    if mode & 0o077:
        raise SystemExit(
            f"error: the token file {path} can be read by other users (mode {mode & 0o777:o});"
            f" run: chmod 600 {path}"
        )
    if not token:
        raise SystemExit(f"error: the token file {path} is empty")
    return token


def serve(args: argparse.Namespace) -> int:
    """Run until Ctrl-C or SIGTERM."""
    from .embedded import LocalPlatform

    token = (
        read_token_file(args.token_file)
        if args.token_file
        else getattr(args, "token", None) or os.environ.get("NAPARI_AIGNOSTICS_TOKEN")
    )
    if args.host not in {"127.0.0.1", "localhost", "::1"}:
        print(
            f"warning: serving on {args.host}: other computers can reach this platform",
            file=sys.stderr,
        )
    extra = [_load(ref) for ref in args.application]
    executor = None
    workers = args.workers if args.workers is not None else 2
    item_threads, per_run = 2, 2
    if args.cluster:
        from .cluster import ClusterExecutor, cluster_threads

        try:
            executor = ClusterExecutor.connect(args.cluster)
        except (ValueError, RuntimeError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        workers = args.workers if args.workers is not None else max(1, executor.slots)
        item_threads, per_run = cluster_threads(args.cluster), workers
    platform = LocalPlatform(
        args.data_dir,
        token,
        host=args.host,
        port=args.port,
        applications=extra,  # type: ignore[arg-type]
        executor=executor,
        worker_threads=workers,
        item_threads=item_threads,
        item_processes=max(0, args.tile_processes),
        items_per_run_parallel=per_run,
    )
    try:
        platform.start()
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr)
        if executor is not None:
            executor.shutdown()
        return 1
    # What start-up made lives as long as the server: kept out of the collector's full passes, so
    # that a pass over the heap does not hold a request up (about 0.1 s each otherwise)
    gc.freeze()
    from .sdk_env import write_sdk_env

    env_file = write_sdk_env(platform.data_dir, platform.api_root)
    print(f"local platform: {platform.api_root}  (data: {platform.data_dir})", flush=True)
    print(f"official SDK/CLI: export AIGNOSTICS_ENV_FILE={env_file}", flush=True)
    if executor is not None:
        print(f"cluster: {args.cluster}, {workers} items at a time", flush=True)
    if platform.platform is not None and platform.platform.generated_token:
        print(f"token (shown once): {platform.platform.generated_token}", flush=True)
    print(
        f"browser sign-in secret for {platform.api_root}/device (one-time):"
        f" {platform.sign_in_secret()}",
        flush=True,
    )
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    platform.stop()
    return 0
