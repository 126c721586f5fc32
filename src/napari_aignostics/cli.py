"""Console entry point ``napari-aignostics``.

Each area registers its own verbs: ``platform.commands`` (application, run, login, logout, whoami),
``results.cohort_cli`` (``run result report``, ``run result download --qupath-project``),
``server.cli`` (serve) and ``widgets.demo`` (demo). Heavy imports happen inside the verbs.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every registered verb."""
    parser = argparse.ArgumentParser(
        prog="napari-aignostics",
        description="Aignostics Platform from the command line, the local platform, and the napari demo.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    parser.add_argument(
        "--api-root",
        default=os.environ.get("NAPARI_AIGNOSTICS_API_ROOT"),
        metavar="URL",
        help="API root, e.g. https://platform.aignostics.com (env NAPARI_AIGNOSTICS_API_ROOT)",
    )
    parser.add_argument(
        "--token",
        default=None,
        metavar="TOKEN",
        help="bearer token (env NAPARI_AIGNOSTICS_TOKEN, else the cached login); never printed",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    from .platform import commands as platform_cli
    from .results import cohort_cli
    from .server import cli as server_cli
    from .widgets import demo_cli

    platform_cli.register(sub, cohort_cli.register_result_verbs)
    server_cli.register(sub)
    demo_cli.register(sub)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("napari-aignostics")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
        return "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    code = args.func(args)
    return int(code or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
