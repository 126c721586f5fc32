"""Physical pixel size: plausibility checks and the OME-XML fallback."""

from __future__ import annotations

import math
import re
from typing import Any

MIN_PLAUSIBLE_MPP = 0.01
"""Below this, a level-0 pixel size is not a microscope's (µm per pixel)."""
MAX_PLAUSIBLE_MPP = 50.0
"""Above this, the value comes from screen-resolution tags (72 dpi = 352.8 µm), not a scanner."""
_SCREEN_DPI = (72.0, 96.0, 150.0, 300.0, 600.0)


def plausible_mpp(value: Any) -> float | None:
    """The value as µm/px when it is a believable level-0 pixel size, else ``None``."""
    try:
        mpp = float(value)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(mpp) or not MIN_PLAUSIBLE_MPP <= mpp <= MAX_PLAUSIBLE_MPP:
        return None
    for dpi in _SCREEN_DPI:
        if math.isclose(mpp, 25400.0 / dpi, rel_tol=1e-3):
            return None
    return mpp


_UNIT_TO_UM = {"µm": 1.0, "um": 1.0, "micron": 1.0, "nm": 1e-3, "mm": 1e3, "cm": 1e4, "m": 1e6}


def mpp_from_ome_xml(xml: str | None) -> float | None:
    """Level-0 ``PhysicalSizeX`` (converted to µm) from OME-XML, if present."""
    if not xml:
        return None
    pixels = re.search(r"<(?:\w+:)?Pixels\b[^>]*>", xml)
    if not pixels:
        return None
    tag = pixels.group(0)
    size = re.search(r'PhysicalSizeX="([^"]+)"', tag)
    if not size:
        return None
    unit = re.search(r'PhysicalSizeXUnit="([^"]+)"', tag)
    factor = _UNIT_TO_UM.get(unit.group(1) if unit else "µm")
    if factor is None:
        return None
    try:
        return float(size.group(1)) * factor
    except ValueError:
        return None
