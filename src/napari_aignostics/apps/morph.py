"""Small morphology helpers with stable semantics across scikit-image versions."""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

__all__ = ["remove_small", "remove_small_labels"]


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
