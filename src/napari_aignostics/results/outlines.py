"""The outlines of the cells in a view, drawn into one RGBA image at about screen resolution (PIL).

An image of the canvas's size costs napari one texture upload (~30 ms), whatever the number of
cells; a Shapes layer of the same few thousand polygons triangulates on the main thread (~1 s).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from .tables import ObjectTable

__all__ = ["EDGE_WIDTH", "OutlineImage", "draw_outlines", "empty_outlines"]

EDGE_WIDTH = 1.5
"""Outline width in level-0 pixels, rounded down to whole image pixels (at least one)."""


@dataclass(frozen=True)
class OutlineImage:
    """Outlines over a level-0 window: pixel ``(row, col)`` covers ``origin + (col, row) * pixel``."""

    rgba: np.ndarray
    origin: tuple[float, float]
    """Level-0 (x, y) of the image's top-left corner."""
    pixel: float
    """Level-0 pixels per image pixel."""
    count: int
    """Cells drawn."""


def empty_outlines() -> OutlineImage:
    """No outlines (zoomed out, or nothing in view)."""
    return OutlineImage(np.zeros((1, 1, 4), dtype=np.uint8), (0.0, 0.0), 1.0, 0)


def draw_outlines(
    table: ObjectTable,
    indices: np.ndarray,
    colors: np.ndarray,
    bounds: tuple[float, float, float, float],
    pixel: float,
) -> OutlineImage:
    """The exterior rings of ``indices`` in ``colors`` ((N, 4) RGBA in [0, 1]) over level-0 ``bounds``.

    ``bounds`` is ``(minx, miny, maxx, maxy)``; ``pixel`` the level-0 size of one image pixel.
    """
    x0, y0, x1, y1 = bounds
    width = max(1, int(np.ceil((x1 - x0) / pixel)))
    height = max(1, int(np.ceil((y1 - y0) / pixel)))
    image = Image.new("RGBA", (width, height))
    if len(indices):
        draw = ImageDraw.Draw(image)
        coords, offsets = table.geometry.exteriors(indices)
        flat = ((coords - (x0, y0)) / pixel).ravel().tolist()
        fills = [tuple(c) for c in (np.clip(colors, 0, 1) * 255).round().astype(np.uint8).tolist()]
        line = max(1, int(EDGE_WIDTH / pixel))  # one pixel at 1:1 (wide lines cost 3x)
        for k, fill in enumerate(fills):
            ring = flat[2 * offsets[k] : 2 * offsets[k + 1]]
            if len(ring) >= 6:
                draw.line(ring + ring[:2], fill=fill, width=line)
    return OutlineImage(np.asarray(image), (x0, y0), pixel, len(indices))
