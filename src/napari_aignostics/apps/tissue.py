"""Tissue QC and tissue segmentation on the overview: classical colour analysis.

QC classes: background, tissue, dark artefact (folds, debris, dense ink), pen marking (blue, green
or black ink). Segmentation classes inside usable tissue: cell-dense regions (high hematoxylin),
stroma (eosin-rich, few nuclei), pale tissue (low stain, e.g. necrosis, fat, loose tissue) and other.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi
from skimage import color, morphology

from .morph import remove_small

__all__ = ["QC_CLASSES", "SEGMENTATION_CLASSES", "TissueMaps", "analyse_tissue"]

QC_CLASSES: dict[str, tuple[int, int, int]] = {
    "BACKGROUND": (0, 0, 0),
    "TISSUE": (64, 190, 90),
    "DARK_ARTEFACT": (120, 60, 20),
    "PEN_MARKING": (40, 90, 230),
}
SEGMENTATION_CLASSES: dict[str, tuple[int, int, int]] = {
    "BACKGROUND": (0, 0, 0),
    "CELL_DENSE": (200, 40, 160),
    "STROMA": (250, 150, 180),
    "PALE_TISSUE": (240, 220, 120),
    "OTHER_TISSUE": (150, 150, 150),
}


@dataclass
class TissueMaps:
    """Class-index maps at the overview resolution."""

    qc: np.ndarray
    segmentation: np.ndarray
    tissue: np.ndarray
    """Usable tissue (QC class TISSUE)."""


def _smooth(mask: np.ndarray, min_px: int) -> np.ndarray:
    mask = ndi.binary_closing(mask, morphology.disk(1))
    mask = remove_small(mask, max(1, min_px))
    return ndi.binary_fill_holes(mask) if mask.any() else mask


def analyse_tissue(rgb: np.ndarray, mpp: float) -> TissueMaps:
    """QC and segmentation maps (uint8 class indices) of an overview at ``mpp`` µm/px."""
    min_px = int(round(20_000 / (mpp * mpp)))  # objects smaller than ~0.02 mm² are noise
    hsv = color.rgb2hsv(rgb)
    hue, sat, val = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    gray = rgb.astype(np.float32).mean(axis=2)
    foreground = _smooth((sat > 0.07) & (gray < 225) | (gray < 170), min_px)
    dark = foreground & (val < 0.3)
    pen = foreground & (sat > 0.25) & (((hue > 0.45) & (hue < 0.72)) | ((hue > 0.2) & (hue < 0.45)))
    pen = remove_small(pen, max(1, min_px // 4))
    dark = remove_small(dark, max(1, min_px // 8))
    qc = np.zeros(rgb.shape[:2], dtype=np.uint8)
    qc[foreground] = 1
    qc[dark] = 2
    qc[pen] = 3
    tissue = qc == 1

    seg = np.zeros_like(qc)
    if tissue.any():
        hed = color.rgb2hed(rgb)
        hema = ndi.uniform_filter(hed[..., 0], 3)
        eosin = ndi.uniform_filter(hed[..., 1], 3)
        density = ndi.uniform_filter(255.0 - gray, 3)
        h_hi = np.percentile(hema[tissue], 70)
        e_mid = np.percentile(eosin[tissue], 50)
        pale = np.percentile(density[tissue], 15)
        seg[tissue] = 4
        seg[tissue & (eosin >= e_mid) & (hema < h_hi)] = 2
        seg[tissue & (hema >= h_hi)] = 1
        seg[tissue & (density <= pale)] = 3
        seg = _majority(seg, tissue)
    return TissueMaps(qc, seg, tissue)


def _majority(labels: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """A 5x5 majority filter inside the mask (removes salt-and-pepper classes)."""
    classes = [c for c in np.unique(labels[mask]) if c]
    if len(classes) < 2:
        return labels
    votes = np.stack([ndi.uniform_filter((labels == c).astype(np.float32), 5) for c in classes])
    winner = np.asarray(classes, dtype=np.uint8)[votes.argmax(axis=0)]
    return np.where(mask, winner, 0).astype(np.uint8)
