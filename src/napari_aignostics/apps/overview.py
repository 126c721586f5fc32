"""A low-resolution RGB overview of a slide at about 8 µm/px, read in strips (bounded memory)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..slides.reader import Slide

__all__ = ["TARGET_MPP", "Overview", "read_overview"]

TARGET_MPP = 8.0
STRIP_PX = 2048


@dataclass
class Overview:
    """The overview image and how it maps to level 0."""

    rgb: np.ndarray
    """(h, w, 3) uint8."""
    downsample: float
    """Level-0 pixels per overview pixel (both axes)."""
    mpp: float
    """µm per overview pixel."""


def read_overview(slide: Slide, mpp: float, target_mpp: float = TARGET_MPP) -> Overview:
    """Average-pool the pyramid level closest below ``target_mpp`` by an integer factor."""
    wanted = max(1.0, target_mpp / mpp)
    level = slide.best_level_for_downsample(wanted)
    level_downsample = slide.level_downsamples[level]
    factor = max(1, round(wanted / level_downsample))
    array = slide.levels[level]
    height, width = int(array.shape[0]), int(array.shape[1])
    out_h, out_w = max(1, height // factor), max(1, width // factor)
    out = np.empty((out_h, out_w, 3), dtype=np.uint8)
    strip = max(factor, (STRIP_PX // factor) * factor)
    for y0 in range(0, out_h * factor, strip):
        y1 = min(y0 + strip, out_h * factor)
        block = slide.read_region(level, 0, y0, out_w * factor, y1 - y0)
        block = block[..., :3].astype(np.float32)
        rows = (y1 - y0) // factor
        pooled = block.reshape(rows, factor, out_w, factor, 3).mean(axis=(1, 3))
        out[y0 // factor : y0 // factor + rows] = np.clip(pooled + 0.5, 0, 255).astype(np.uint8)
    downsample = level_downsample * factor
    return Overview(out, downsample, mpp * downsample)
