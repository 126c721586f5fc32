"""Colour cells by a numeric measurement: the columns that can be used, a range, a colormap.

The colours come from a 256-entry lookup table of a napari colormap (napari's colormaps are
Qt-free); a range change only re-indexes that table, so outlines and points follow at once and
the overview (an Image of the values) only changes its contrast limits.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .tables import ObjectTable

__all__ = [
    "AREA",
    "MeasureColors",
    "colormap_lut",
    "default_range",
    "measure_names",
    "measure_values",
    "numeric_columns",
]

AREA = "area_um2"
"""The cell area column computed from the polygons (µm², or px² without a physical scale)."""
LUT_SIZE = 256


def numeric_columns(table: ObjectTable, mpp: float | None) -> dict[str, np.ndarray]:
    """Every numeric column a cell can be coloured by: confidence, area, the file's measurements."""
    return {name: measure_values(table, name, mpp) for name in measure_names(table)}


def measure_names(table: ObjectTable) -> list[str]:
    """The names :func:`numeric_columns` gives, without computing any column."""
    names = ["confidence"] if table.confidence is not None else []
    names += [] if AREA in table.measurements else [AREA]
    return names + [
        n for n, v in table.measurements.items() if np.issubdtype(v.dtype, np.number)
    ]


def measure_values(table: ObjectTable, name: str, mpp: float | None) -> np.ndarray:
    """One numeric column (float32 per object) by name."""
    if name == "confidence" and table.confidence is not None:
        return table.confidence.astype(np.float32, copy=False)
    if name == AREA and AREA not in table.measurements:
        return (table.geometry.areas() * (mpp or 1.0) ** 2).astype(np.float32)
    if name in table.measurements:
        return table.measurements[name].astype(np.float32, copy=False)
    raise KeyError(f"no numeric column {name!r}; choose one of {measure_names(table)}")


def colormap_lut(name: str) -> np.ndarray:
    """(256, 4) RGBA in [0, 1] of a napari colormap."""
    from napari.utils.colormaps import ensure_colormap

    return ensure_colormap(name).map(np.linspace(0.0, 1.0, LUT_SIZE)).astype(np.float32)


@dataclass
class MeasureColors:
    """Colour by one measurement: its values, the range shown and the colormap."""

    name: str
    values: np.ndarray
    """float32 per object (NaN where unknown)."""
    low: float = 0.0
    high: float = 1.0
    colormap: str = "viridis"
    _lut: np.ndarray | None = field(default=None, repr=False)

    @classmethod
    def of(cls, name: str, values: np.ndarray, colormap: str = "viridis") -> MeasureColors:
        """With the range set to the 1st-99th percentile of the known values."""
        low, high = default_range(values)
        return cls(name, values, low, high, colormap)

    @property
    def lut(self) -> np.ndarray:
        """The colormap's lookup table."""
        if self._lut is None:
            self._lut = colormap_lut(self.colormap)
        return self._lut

    def set_colormap(self, name: str) -> None:
        """Use another napari colormap."""
        self.colormap, self._lut = name, None

    def set_range(self, low: float, high: float) -> None:
        """Values at or below ``low`` get the first colour, at or above ``high`` the last."""
        if not high > low:
            raise ValueError(f"the range needs low < high, not {low} … {high}")
        self.low, self.high = float(low), float(high)

    def colors(self, indices: np.ndarray | None = None) -> np.ndarray:
        """(N, 4) RGBA per object; unknown values are grey."""
        values = self.values if indices is None else self.values[indices]
        scaled = (values.astype(np.float64) - self.low) / (self.high - self.low)
        known = np.isfinite(scaled)
        steps = np.clip(np.nan_to_num(scaled) * (LUT_SIZE - 1) + 0.5, 0, LUT_SIZE - 1)
        out = self.lut[steps.astype(np.intp)]
        out[~known] = (0.5, 0.5, 0.5, 1.0)
        return out


def default_range(values: np.ndarray) -> tuple[float, float]:
    """The 1st and 99th percentile of the finite values (a unit range around a constant)."""
    finite = values[np.isfinite(values)]
    if not finite.size:
        return 0.0, 1.0
    if finite.size > 200_000:  # percentiles of a sample are as good and 10× faster
        finite = finite[:: finite.size // 200_000]
    low, high = (float(v) for v in np.percentile(finite, [1, 99]))
    if not high > low:
        low, high = low - 0.5, low + 0.5
    return low, high
