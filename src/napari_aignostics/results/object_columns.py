"""The numeric columns of an object table, and sorting and filtering its rows (for tables and ROIs).

Everything works on whole arrays: a sort is one ``argsort``, a filter one boolean mask, so the
cell table stays fast at a million rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .review import ReviewModel
from .tables import ObjectTable

__all__ = ["RowFilter", "column_range", "filter_rows", "numeric_columns", "sort_rows"]


def numeric_columns(table: ObjectTable, mpp: float | None) -> dict[str, np.ndarray]:
    """Confidence, area (µm² with a slide scale, else px²) and every measurement, one value per object."""
    columns: dict[str, np.ndarray] = {}
    if table.confidence is not None:
        columns["confidence"] = table.confidence
    area = table.geometry.areas()
    columns["area_um2" if mpp else "area_px"] = area * (mpp * mpp) if mpp else area
    columns.update(table.measurements)
    return columns


def column_range(values: np.ndarray) -> tuple[float, float]:
    """The smallest and largest finite value of a column ((0, 0) when it has none)."""
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    if not len(finite):
        return 0.0, 0.0
    return float(finite.min()), float(finite.max())


def sort_rows(rows: np.ndarray, values: np.ndarray, descending: bool = False) -> np.ndarray:
    """``rows`` ordered by the numbers ``values[rows]`` (NaN last either way)."""
    keys = np.asarray(values)[rows]
    if keys.dtype.kind not in "fiu":
        keys = keys.astype(np.float64)
    order = np.argsort(keys)  # NaN sorts last
    if descending:
        valid = len(keys) - (int(np.isnan(keys).sum()) if keys.dtype.kind == "f" else 0)
        order = np.concatenate([order[:valid][::-1], order[valid:]])
    return rows[order]


@dataclass(frozen=True)
class RowFilter:
    """Which rows a table shows: a class (code), a value range of a column, text in the id."""

    class_code: int | None = None
    column: str | None = None
    low: float = -np.inf
    high: float = np.inf
    text: str = ""


def filter_rows(
    review: ReviewModel, columns: dict[str, np.ndarray], wanted: RowFilter
) -> np.ndarray:
    """Indices (ascending) of the objects that are cells and pass ``wanted``."""
    codes = review.class_codes
    keep = codes > 0
    if wanted.class_code is not None:
        keep &= codes == wanted.class_code
    if wanted.column is not None:
        values = columns[wanted.column]
        keep &= (values >= wanted.low) & (values <= wanted.high)
    if wanted.text:
        needle = wanted.text.lower()  # plain substring test, never a pattern
        candidates = np.flatnonzero(keep)
        ids = review.table.ids[candidates]
        hit = np.fromiter((needle in str(i).lower() for i in ids), dtype=bool, count=len(ids))
        keep[candidates[~hit]] = False
    return np.flatnonzero(keep)
