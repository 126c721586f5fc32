"""``napari-aignostics demo``: napari with the sample slide (and, when built, the dock widget)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    """Add the ``demo`` verb."""
    parser = subparsers.add_parser(
        "demo",
        help="open napari with the sample slide and the Aignostics dock widget",
        description="Open napari with the real H&E sample slide and the Aignostics dock widget, "
        "backed by the embedded local platform.",
    )
    parser.add_argument(
        "--auto", action="store_true", help="submit the sample and load results unattended"
    )
    parser.add_argument(
        "--screenshot", type=Path, help="save a screenshot of the viewer to PATH and exit"
    )
    parser.add_argument(
        "--tab-screenshots",
        type=Path,
        metavar="DIR",
        help="with --screenshot: also save one picture of the window per dock tab into DIR",
    )
    parser.add_argument(
        "--review-screenshots",
        type=Path,
        metavar="DIR",
        help="with --auto --screenshot: also walk the Review, Edit and Table tabs (colour by "
        "area, density map and hotspots, an ROI and a correction, the cell table), one picture "
        "a step into DIR",
    )
    parser.add_argument("--slide", type=Path, help="open this slide instead of the sample slide")
    parser.add_argument(
        "--large",
        action="store_true",
        help="use the large synthetic H&E-like slide (20000 x 16000 px) instead of the real "
        "H&E sample (CMU-1-Small-Region, CC0)",
    )
    parser.set_defaults(func=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    """Run the demo; with ``--screenshot`` exit 0 after saving it, non-zero on any failure."""
    from .demo import run

    return run(
        slide=args.slide, auto=args.auto, screenshot=args.screenshot, large=args.large,
        tabs_dir=args.tab_screenshots, review_dir=args.review_screenshots,
    )
