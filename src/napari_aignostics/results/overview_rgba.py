"""Class rasters as napari shows them: RGBA derived from class codes when a slice is drawn.

The code raster (the cells' lazy :mod:`.raster` levels, or a tissue map's array) stays the
model's own array; a :class:`Palette` turns each code (class, and confidence step for cells)
into a colour. Class toggles, recolouring and the confidence threshold change the palette only:
the cached code tiles are never redrawn. napari makes an RGBA image far faster than a Labels
layer (no label colormap, no polygon-drawing overlay).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .raster import LazyLevel, RasterLevel, expand_index

__all__ = ["Palette", "RgbaLevel", "class_palette", "rgba_levels"]


class Palette:
    """Colour (RGBA uint8) and class name of each overview code; code 0 is background."""

    def __init__(self, lut: np.ndarray, names: np.ndarray, confidence: np.ndarray) -> None:
        self.lut = lut
        """(codes, 4) uint8: replaced as a whole when the review's filters or colours change."""
        self.names = names
        self.confidence = confidence

    def describe(self, code: int) -> str:
        """What the status bar says of a pixel: the class name (and confidence step)."""
        if code <= 0 or code >= len(self.names):
            return "background"
        low = float(self.confidence[code])
        return str(self.names[code]) + ("" if np.isnan(low) else f" (confidence ≥ {low:.2f})")


class RgbaLevel(LazyLevel):
    """One class raster level as a read-only ``(rows, cols, 4)`` uint8 array for napari.

    Indexing reads the codes (a lazy level's tiles are drawn and cached there) and looks them up
    in the shared palette.
    """

    def __init__(self, codes: RasterLevel | np.ndarray, palette: Palette) -> None:
        self.codes, self.palette = codes, palette
        self.downsample = codes.downsample if isinstance(codes, RasterLevel) else 1.0
        """Level-0 pixels per pixel of this level."""
        self.shape = (*codes.shape, 4)
        self.dtype = np.dtype(np.uint8)
        self.ndim = 3
        self.size = codes.size * 4

    def __getitem__(self, key: Any) -> np.ndarray:
        keys = expand_index(key, 3, "an RGBA overview")
        codes = np.asarray(self.codes[keys[0], keys[1]])
        rgba = self.palette.lut.take(codes, axis=0, mode="clip")
        return rgba if keys[2] == slice(None) else rgba[..., keys[2]]


def class_palette(classes: dict[int, tuple[str, tuple[int, int, int]]]) -> Palette:
    """A palette of class indices (index 0 and unnamed indices transparent, others opaque)."""
    size = max(classes, default=0) + 1
    lut = np.zeros((size, 4), dtype=np.uint8)
    names = np.array(["background"] * size, dtype=object)
    for index, (name, rgb) in classes.items():
        names[index] = name
        if index:
            lut[index] = (*rgb, 255)
    return Palette(lut, names, np.full(size, np.nan))


def rgba_levels(levels: list[RasterLevel], palette: Palette) -> list[RgbaLevel]:
    """The display levels of a code raster, all sharing ``palette``."""
    return [RgbaLevel(level, palette) for level in levels]
