"""Small morphology helpers with stable semantics across scikit-image versions."""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi
from skimage import morphology

__all__ = ["fill_holes", "open_disk", "remove_small", "remove_small_labels"]


def remove_small(mask: np.ndarray, min_px: int) -> np.ndarray:
    """The mask without connected objects smaller than ``min_px`` pixels."""
    labels, count = ndi.label(mask)
    if count == 0:
        return mask.astype(bool)
    sizes = np.bincount(labels.ravel())
    keep = sizes >= min_px
    keep[0] = False
    return np.asarray(keep[labels])


def remove_small_labels(labels: np.ndarray, min_px: int) -> np.ndarray:
    """A label image without labels smaller than ``min_px`` pixels."""
    sizes = np.bincount(labels.ravel())
    small = sizes < min_px
    small[0] = True
    out = labels.copy()
    out[small[labels]] = 0
    return out


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """The mask with its holes filled, as ``ndimage.binary_fill_holes`` fills them (background
    4-connected to the border stays) in one labelling pass instead of repeated dilations."""
    background, count = ndi.label(~mask)
    if count == 0:
        return mask.astype(bool)
    edges = np.concatenate([background[0], background[-1], background[:, 0], background[:, -1]])
    outside = np.zeros(count + 1, dtype=bool)
    outside[edges] = True
    outside[0] = False  # label 0: the mask itself
    return np.asarray(~outside[background])


def open_disk(mask: np.ndarray, radius: int) -> np.ndarray:
    """``ndimage.binary_opening(mask, morphology.disk(radius))`` (outside the image is background)
    as an AND, then an OR, of the mask shifted by each offset of the disk: whole-array operations,
    many times faster than scipy's pixel-by-pixel structuring element."""
    r = radius
    offsets = np.argwhere(morphology.disk(r)) - r
    h, w = mask.shape
    padded = np.zeros((h + 2 * r, w + 2 * r), dtype=bool)
    padded[r : r + h, r : r + w] = mask
    eroded = np.ones((h, w), dtype=bool)
    for dy, dx in offsets:
        eroded &= padded[r + dy : r + dy + h, r + dx : r + dx + w]
    padded[r : r + h, r : r + w] = eroded
    opened = np.zeros((h, w), dtype=bool)
    for dy, dx in offsets:
        opened |= padded[r + dy : r + dy + h, r + dx : r + dx + w]
    return opened
