"""Arrow geometry columns (WKB or native GeoArrow) straight into :class:`Polygons`, vectorised.

WKB is decoded from the column's buffers with numpy: the headers of all rows are read at once, a
loop runs over the ring (and part) *index*, never over rows, and the coordinates are cut out of the
data buffer with one mask. Native GeoArrow columns (``list<list<struct<x, y>>>`` or interleaved
``list<list<fixed_size_list<double, 2>>>``, one more list level for MultiPolygons) are already the
flat layout: their offsets and coordinates are taken from Arrow without copying rows. Polygons are
returned with the row each one comes from (MultiPolygons exploded, null and empty rows dropped).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .geometry import Polygons, concat_ranges, offsets_of

__all__ = ["UnsupportedWkb", "geoarrow_polygons", "polygons_of_column", "wkb_polygons"]

POLYGON, MULTIPOLYGON = 3, 6
RING_HEADER = 13
"""Bytes before the coordinates of a one-ring WKB Polygon: order, type, ring count, point count."""


class UnsupportedWkb(ValueError):
    """WKB the vectorised decoder does not cover (big-endian, Z/M, SRID, other types, damaged)."""


def polygons_of_column(column: pa.Array) -> tuple[Polygons, np.ndarray]:
    """Polygons and their source rows from a WKB or GeoArrow column (``UnsupportedWkb`` if not)."""
    kind = column.type
    if pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
        return wkb_polygons(column)
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        return geoarrow_polygons(column)
    raise UnsupportedWkb(f"geometry column of type {kind}")


def _u32(data: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Little-endian uint32 at each byte position ``at``."""
    out = data[at].astype(np.uint32)
    for k in (1, 2, 3):
        out |= data[at + k].astype(np.uint32) << (8 * k)
    return out


def _check_header(data: np.ndarray, at: np.ndarray, end: np.ndarray, kind: int) -> None:
    if len(at) and (
        (at + 9 > end).any() or (data[at] != 1).any() or (_u32(data, at + 1) != kind).any()
    ):
        raise UnsupportedWkb("not little-endian 2D WKB polygons")


def wkb_polygons(column: pa.Array) -> tuple[Polygons, np.ndarray]:
    """Decode a binary column of little-endian 2D WKB Polygons / MultiPolygons."""
    n = len(column)
    _validity, offsets_buf, data_buf = column.buffers()
    big = pa.types.is_large_binary(column.type)
    raw = np.frombuffer(offsets_buf, dtype=np.int64 if big else np.int32)
    offsets: np.ndarray = raw[column.offset : column.offset + n + 1].astype(np.int64)
    data = (
        np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    )
    present = offsets[1:] > offsets[:-1]
    if column.null_count:
        present &= column.is_valid().to_numpy(zero_copy_only=False)
    rows = np.flatnonzero(present)
    start, end = offsets[rows], offsets[rows + 1]
    if len(rows) and ((end - start < 5).any() or (data[start] != 1).any()):
        raise UnsupportedWkb("not little-endian WKB")
    kind = _u32(data, start + 1) if len(rows) else np.zeros(0, np.uint32)
    if not np.isin(kind, (POLYGON, MULTIPOLYGON)).all():
        raise UnsupportedWkb("geometries other than 2D Polygon and MultiPolygon")
    single = kind == POLYGON
    multi = np.flatnonzero(~single)
    if len(multi):
        _check_header(data, start[multi], end[multi], MULTIPOLYGON)
    parts = np.ones(len(rows), dtype=np.int64)
    parts[multi] = _u32(data, start[multi] + 5)
    part_offsets = offsets_of(parts)
    # polygon positions: a Polygon row is its own polygon; a MultiPolygon's parts follow its header
    at = np.empty(int(part_offsets[-1]), dtype=np.int64)
    limit = np.repeat(end, parts)
    at[part_offsets[:-1][single]] = start[single]
    cursor = start[multi] + 9
    for k in range(int(parts[multi].max()) if len(multi) else 0):
        sel = np.flatnonzero(parts[multi] > k)
        slot = part_offsets[multi[sel]] + k
        at[slot] = cursor[sel]
        _check_header(data, at[slot], limit[slot], POLYGON)
        cursor[sel] = _walk_rings(data, at[slot], limit[slot])[-1]
    _check_header(data, at, limit, POLYGON)
    rings, ring_offsets_of_geom, points, ring_at, pos = _walk_rings(data, at, limit)
    row_end = start + 9  # a MultiPolygon without parts is its header alone
    has = parts > 0
    row_end[has] = pos[part_offsets[1:][has] - 1]
    if (row_end != end).any():
        raise UnsupportedWkb("WKB with trailing bytes")
    one_ring = not len(multi) and bool((rings == 1).all())
    coords = _cut_doubles(column, data, ring_at, 2 * points, one_ring).reshape(-1, 2)
    polygons = Polygons(coords, offsets_of(points), ring_offsets_of_geom)
    source = np.repeat(rows, parts)
    nonempty = rings > 0
    if not nonempty.all():
        keep_rows = np.flatnonzero(nonempty)
        return polygons.take(keep_rows), source[keep_rows]
    return polygons, source


def _cut_doubles(
    column: pa.Array, data: np.ndarray, at: np.ndarray, counts: np.ndarray, one_ring: bool
) -> np.ndarray:
    """The ``counts[i]`` little-endian doubles at byte ``at[i]`` of the data buffer, concatenated.

    Polygons of one ring each (the usual cells) are the bytes after a 13-byte header: Arrow cuts
    them off every value in one pass. Otherwise the bytes between rings (headers) are masked out.
    """
    if not int(counts.sum()):
        return np.zeros(0)
    if one_ring:
        cut = pc.binary_slice(column, RING_HEADER, RING_HEADER + 8 * int(counts.max()))
        return np.frombuffer(cut.buffers()[2], dtype="<f8", count=int(counts.sum()))
    filled = np.flatnonzero(counts)
    starts, ends = at[filled], at[filled] + 8 * counts[filled]
    gap_starts = np.concatenate([[0], ends])
    gap_ends = np.concatenate([starts, [len(data)]])
    keep = np.ones(len(data), dtype=bool)
    keep[concat_ranges(gap_starts, gap_ends - gap_starts)] = False
    return data[keep].view("<f8")


def _walk_rings(
    data: np.ndarray, at: np.ndarray, limit: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The rings of the WKB Polygons starting at ``at`` (each within ``limit``).

    Returns rings per polygon, their offsets, each ring's point count and the byte position of
    its first point (polygon-major), and the byte position just after each polygon.
    """
    rings = _u32(data, at + 5).astype(np.int64)
    ring_offsets = offsets_of(rings)
    points = np.zeros(int(ring_offsets[-1]), dtype=np.int64)
    ring_at = np.zeros(len(points), dtype=np.int64)
    pos = at + 9
    for r in range(int(rings.max()) if len(rings) else 0):
        sel = np.flatnonzero(rings > r)
        p = pos[sel]
        if (p + 4 > limit[sel]).any():
            raise UnsupportedWkb("truncated WKB")
        count = _u32(data, p).astype(np.int64)
        slot = ring_offsets[sel] + r
        points[slot] = count
        ring_at[slot] = p + 4
        pos[sel] = p + 4 + 16 * count
    if (pos > limit).any():
        raise UnsupportedWkb("truncated WKB")
    return rings, ring_offsets, points, ring_at, pos


def _list_offsets(array: pa.Array) -> np.ndarray:
    """The offsets of a (large) list array as int64 (``len + 1``, absolute into its values)."""
    return np.asarray(array.offsets, dtype=np.int64)


def _coordinates(values: pa.Array) -> np.ndarray:
    """(N, 2) x, y of a GeoArrow coordinate array (struct or interleaved fixed-size list)."""
    if pa.types.is_struct(values.type):
        x = values.field("x").to_numpy(zero_copy_only=False)
        y = values.field("y").to_numpy(zero_copy_only=False)
        return np.column_stack([x, y]).astype(np.float64, copy=False)
    if pa.types.is_fixed_size_list(values.type):
        size = values.type.list_size
        flat = values.values.to_numpy(zero_copy_only=False)
        return flat.reshape(-1, size)[:, :2].astype(np.float64, copy=False)
    raise UnsupportedWkb(f"GeoArrow coordinates of type {values.type}")


def geoarrow_polygons(column: pa.Array) -> tuple[Polygons, np.ndarray]:
    """Decode a native GeoArrow Polygon or MultiPolygon column."""
    n = len(column)
    outer = _list_offsets(column)
    level1 = column.values
    if not (pa.types.is_list(level1.type) or pa.types.is_large_list(level1.type)):
        raise UnsupportedWkb(f"GeoArrow column of type {column.type}")
    level2 = level1.values
    if pa.types.is_list(level2.type) or pa.types.is_large_list(level2.type):  # MultiPolygon
        part_offsets = outer
        polygon_offsets = _list_offsets(level1)
        ring_level, coords_array = level2, level2.values
    else:  # Polygon: each row is one polygon
        part_offsets = np.arange(n + 1, dtype=np.int64)
        polygon_offsets = outer
        ring_level, coords_array = level1, level2
    ring_offsets = _list_offsets(ring_level)
    if column.null_count:  # a null row owns nothing, whatever its offsets say
        valid = column.is_valid().to_numpy(zero_copy_only=False)
    else:
        valid = np.ones(n, dtype=bool)
    parts = np.where(valid, np.diff(part_offsets), 0)
    polys = concat_ranges(part_offsets[:-1], parts)
    rings = polygon_offsets[polys + 1] - polygon_offsets[polys]
    full = Polygons(_coordinates(coords_array), ring_offsets, polygon_offsets)
    polys = polys[rings > 0]
    source = np.repeat(np.arange(n), parts)[rings > 0]
    if len(polys) and (np.diff(polys) == 1).all():  # the usual case: one slice, no gather
        g0, g1 = int(polys[0]), int(polys[-1]) + 1
        r0, r1 = int(polygon_offsets[g0]), int(polygon_offsets[g1])
        v0, v1 = int(ring_offsets[r0]), int(ring_offsets[r1])
        sliced = Polygons(
            full.coords[v0:v1], ring_offsets[r0 : r1 + 1] - v0, polygon_offsets[g0 : g1 + 1] - r0
        )
        return sliced, source
    return (full.take(polys) if len(polys) else Polygons.empty()), source
