"""Parsed features as columns, and their assembly into an :class:`ObjectTable`.

Both GeoJSON readers (columnar via Arrow, row by row via orjson) yield :class:`FeatureBatch` es;
:func:`assemble` does the rest once, vectorised: explode multi-part features, drop unusable or
out-of-slide parts (and say so), scale into level-0 pixels, make ids unique, complete colours.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from .geometry import Polygons, offsets_of
from .tables import ObjectTable, concat_columns, palette_color

__all__ = ["FeatureBatch", "assemble"]


@dataclass
class FeatureBatch:
    """``count`` features: polygon parts (rings as flat vertices) and per-feature columns."""

    count: int
    coords: np.ndarray
    """(V, 2) vertices of all rings."""
    ring_sizes: np.ndarray
    """Vertices per ring."""
    part_rings: np.ndarray
    """Rings per polygon part (the first is the exterior)."""
    part_feature: np.ndarray
    """Feature (0 … count-1) of each part."""
    names: np.ndarray
    """Class name per feature."""
    ids: np.ndarray
    """Id per feature (None when it has none)."""
    colors: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    measurements: dict[str, np.ndarray] = field(default_factory=dict)
    """float32 per feature, NaN where missing."""
    part_ok: np.ndarray | None = None
    """False for parts already known to be unusable."""


def _valid_parts(
    coords: np.ndarray, ring_sizes: np.ndarray, part_rings: np.ndarray, part_ok: np.ndarray
) -> np.ndarray:
    """Parts whose rings all have at least 3 distinct-position vertices, all finite."""
    ring_start = offsets_of(ring_sizes)[:-1]
    finite_vertex = np.isfinite(coords).all(axis=1)
    ring_finite = np.ones(len(ring_sizes), dtype=bool)
    closed = np.zeros(len(ring_sizes), dtype=bool)
    filled = ring_sizes > 0
    if filled.any():
        starts = ring_start[filled]
        ring_finite[filled] = np.logical_and.reduceat(finite_vertex, starts)
        closed[filled] = (coords[starts] == coords[starts + ring_sizes[filled] - 1]).all(axis=1)
    ring_ok = ring_finite & (ring_sizes - closed >= 3)
    part_start = offsets_of(part_rings)[:-1]
    ok = part_ok & (part_rings > 0)
    has = part_rings > 0
    if has.any():
        ok[has] &= np.logical_and.reduceat(ring_ok, part_start[has])
    return ok


def assemble(
    batches: Iterable[FeatureBatch],
    *,
    scale: float = 1.0,
    offset: tuple[float, float] = (0.0, 0.0),
    slide_size: tuple[int, int] | None = None,
) -> ObjectTable:
    """One table from all batches; ``slide_size`` (w, h) drops objects outside the slide."""
    batches = list(batches)
    total = sum(b.count for b in batches)
    feature_base = np.cumsum([0] + [b.count for b in batches])[:-1]
    coords = np.concatenate([b.coords for b in batches]) if batches else np.zeros((0, 2))
    ring_sizes = _cat([b.ring_sizes for b in batches], np.int64)
    part_rings = _cat([b.part_rings for b in batches], np.int64)
    part_feature = _cat(
        [b.part_feature + base for b, base in zip(batches, feature_base, strict=True)], np.int64
    )
    part_ok = _cat(
        [b.part_ok if b.part_ok is not None else np.ones(len(b.part_rings), bool) for b in batches],
        bool,
    )
    names = _cat([b.names for b in batches], object)
    raw_ids = _cat([b.ids for b in batches], object)
    measurements = concat_columns([(b.count, b.measurements) for b in batches])
    colors: dict[str, tuple[int, int, int]] = {}
    for batch in batches:
        for name, rgb in batch.colors.items():
            colors.setdefault(name, rgb)
    del batches

    if scale != 1.0 or offset != (0.0, 0.0):
        coords = coords * scale + np.asarray(offset, dtype=np.float64)
    ok = _valid_parts(coords, ring_sizes, part_rings, part_ok)
    problems: list[str] = []
    without_parts = total - int(np.count_nonzero(np.bincount(part_feature, minlength=total)))
    bad_geometry = without_parts + int((~ok).sum())
    polygons = Polygons(coords, offsets_of(ring_sizes), offsets_of(part_rings))
    kept = np.flatnonzero(ok)
    geometry = polygons.take(kept) if len(kept) != len(part_rings) else polygons
    del polygons, coords
    boxes = geometry.bounds()
    outside = 0
    if slide_size is not None and len(kept):
        inside = ~(
            (boxes[:, 2] < 0)
            | (boxes[:, 3] < 0)
            | (boxes[:, 0] > slide_size[0])
            | (boxes[:, 1] > slide_size[1])
        )
        outside = int((~inside).sum())
        if outside:
            geometry, boxes, kept = (
                geometry.take(np.flatnonzero(inside)),
                boxes[inside],
                kept[inside],
            )

    owner = part_feature[kept]
    ids = _ids(raw_ids, part_feature, kept)
    classes = names[owner] if len(owner) else np.empty(0, dtype=object)
    unique_ids, duplicates = _unique(ids)
    for name in dict.fromkeys(classes.tolist()):
        colors.setdefault(name, palette_color(name))
    present = set(classes.tolist())
    if bad_geometry:
        problems.append(f"{bad_geometry} objects without a usable polygon were skipped")
    if outside:
        problems.append(f"{outside} objects outside the slide were skipped")
    if duplicates:
        problems.append(f"{duplicates} duplicate ids were made unique")
    columns = {k: v[owner] for k, v in measurements.items()}
    confidence = columns.pop("confidence", None)
    return ObjectTable(
        geometry=geometry,
        classes=classes,
        colors={k: colors[k] for k in sorted(colors, key=lambda c: (c not in present, c))},
        ids=unique_ids,
        confidence=confidence,
        measurements=columns,
        problems=problems,
        _boxes=boxes,
    )


def _cat(parts: list[np.ndarray], dtype: type) -> np.ndarray:
    return np.concatenate(parts).astype(dtype, copy=False) if parts else np.zeros(0, dtype=dtype)


def _ids(raw: np.ndarray, part_feature: np.ndarray, kept: np.ndarray) -> np.ndarray:
    """Feature ids per kept part; ``object-<n>`` when missing, ``<id>/<k>`` for multi-part ones."""
    missing = np.flatnonzero(raw == None)  # noqa: E711 - elementwise on an object array
    if len(missing):
        raw = raw.copy()
        raw[missing] = [f"object-{i}" for i in missing]
    owner = part_feature[kept]
    ids = raw[owner]
    parts_per_feature = np.bincount(part_feature, minlength=len(raw))
    multi = np.flatnonzero(parts_per_feature[owner] > 1)
    if len(multi):
        first_part = offsets_of(parts_per_feature)[:-1]
        part_no = kept[multi] - first_part[owner[multi]]
        ids = ids.copy()
        ids[multi] = [f"{ids[k]}/{n}" for k, n in zip(multi, part_no, strict=True)]
    return ids


def _unique(ids: np.ndarray) -> tuple[np.ndarray, int]:
    """Ids made unique (``<id>#<row>`` for repeats) and how many repeated."""
    values = ids.tolist()
    if len(set(values)) == len(values):
        return ids, 0
    seen: set[str] = set()
    out = []
    duplicates = 0
    for row, value in enumerate(values):
        if value in seen:
            duplicates += 1
            value = f"{value}#{row}"
        seen.add(value)
        out.append(value)
    return np.asarray(out, dtype=object), duplicates
