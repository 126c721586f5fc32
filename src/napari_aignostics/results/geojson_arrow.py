"""GeoJSON features read column-wise with Arrow's multithreaded JSON reader: the fast reader.

The features array is turned into newline-delimited JSON in place: feature boundaries are found
as ``}`` ``,`` ``{"<first key>"`` (a quote can only start a key there, never sit inside a string),
those commas become newlines, and Arrow parses segments of the buffer into columns. Geometry,
classes, ids and measurements then come out as arrays with no Python object per feature. Any
layout this does not cover raises :class:`Unsupported` (or Arrow's own error) and the commas are
put back, so the tolerant row reader can take the same bytes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import numpy as np

from .featurecols import FeatureBatch
from .jsonsplit import array_start

__all__ = ["Unsupported", "arrow_batches", "feature_batch", "parse_lines"]

SEGMENT = 64 * 1024 * 1024
"""Bytes of features parsed at a time (bounds Arrow's working memory)."""
BLOCK = 4 * 1024 * 1024
WHITESPACE = b" \t\r\n"


class Unsupported(ValueError):
    """A layout the columnar reader does not handle; the row reader takes it."""


def first_key(buf: bytearray, start: int, end: int | None = None) -> bytes | None:
    """The first key of the first feature at ``start`` (None: the array is empty), read no
    further than ``end``."""
    pattern = re.compile(rb'\s*(\]|\{\s*"((?:[^"\\]|\\.)*)")')
    match = pattern.match(buf, start, len(buf) if end is None else end)
    if match is None:
        raise Unsupported("features are not objects")
    return None if match.group(1) == b"]" else match.group(2)


def _array_end(buf: bytearray) -> int:
    """Index of the ``]`` closing the features array (as the last thing in the document)."""
    end = _skip_back(buf, len(buf))
    if end and buf[end - 1] == ord("}"):
        end = _skip_back(buf, end - 1)
    if not end or buf[end - 1] != ord("]"):
        raise Unsupported("the features array is not the last member of the document")
    return end - 1


def _skip_back(buf: bytearray, end: int) -> int:
    """``end`` moved back over whitespace."""
    while end and buf[end - 1] in WHITESPACE:
        end -= 1
    return end


def arrow_batches(buf: bytearray) -> Iterator[FeatureBatch]:
    """Feature batches of a GeoJSON document held in a writable buffer (restored afterwards)."""
    start = array_start(buf)
    if start is None:
        raise Unsupported("no features array")
    end = _array_end(buf)
    key = first_key(buf, start)
    if key is None:
        return
    pattern = re.compile(rb'\}\s*(,)\s*\{\s*"' + re.escape(key) + rb'"')
    commas = np.fromiter((m.start(1) for m in pattern.finditer(buf, start, end)), dtype=np.int64)
    data = np.frombuffer(buf, dtype=np.uint8)
    newlines = buf.find(b"\n", start, end) != -1
    edges = np.concatenate([[start - 1], commas, [end]])
    longest = int(np.diff(edges).max())
    try:
        data[commas] = ord("\n")
        for a, b in _segments(edges):
            yield feature_batch(parse_lines(memoryview(buf)[a + 1 : b], newlines, longest))
    finally:
        data[commas] = ord(",")


def _segments(edges: np.ndarray) -> Iterator[tuple[int, int]]:
    """Consecutive (start, end) edges spanning about ``SEGMENT`` bytes each."""
    i = 0
    while i < len(edges) - 1:
        j = int(np.searchsorted(edges, edges[i] + SEGMENT, side="right")) - 1
        j = min(max(j, i + 1), len(edges) - 1)
        yield int(edges[i]), int(edges[j])
        i = j


def parse_lines(view: memoryview, newlines: bool, longest: int) -> Any:
    """An Arrow table of newline-delimited JSON objects (the longest line is ``longest`` bytes)."""
    import pyarrow as pa
    import pyarrow.json as pj

    return pj.read_json(
        pa.BufferReader(pa.py_buffer(view)),
        read_options=pj.ReadOptions(block_size=max(BLOCK, longest + 2)),
        parse_options=pj.ParseOptions(newlines_in_values=newlines),
    )


def _child(struct: Any, name: str) -> Any:
    """A field of a struct array (None if absent), with the parent's nulls applied."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if struct is None or not pa.types.is_struct(struct.type):
        return None
    if struct.type.get_field_index(name) < 0:
        return None
    return pc.struct_field(struct, name)


def _lengths(array: Any) -> np.ndarray:
    import pyarrow.compute as pc

    return np.asarray(pc.list_value_length(array).fill_null(0), dtype=np.int64)


def _floats(array: Any) -> np.ndarray:
    """float64 values, NaN for nulls."""
    import pyarrow as pa

    values = array if pa.types.is_float64(array.type) else array.cast(pa.float64())
    if values.null_count:
        values = values.fill_null(float("nan"))
    return np.frombuffer(
        values.buffers()[1], dtype=np.float64, count=len(values), offset=values.offset * 8
    )


def _geometry(
    geometry: Any, n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Vertices, ring sizes, rings per part, part → feature and part usability."""
    import pyarrow as pa
    import pyarrow.compute as pc

    coordinates = _child(geometry, "coordinates")
    kinds = _child(geometry, "type")
    if coordinates is None or kinds is None:
        raise Unsupported("no geometry coordinates")
    depth, level = 0, coordinates.type
    while pa.types.is_list(level):
        depth, level = depth + 1, level.value_type
    if depth not in (3, 4) or not (pa.types.is_floating(level) or pa.types.is_integer(level)):
        raise Unsupported("coordinates are neither Polygon nor MultiPolygon")
    expected = "Polygon" if depth == 3 else "MultiPolygon"
    row_ok = np.asarray(pc.equal(kinds, expected).fill_null(False), dtype=bool)
    if depth == 3:
        part_feature = np.repeat(np.arange(n), np.minimum(_lengths(coordinates), 1))
        parts = coordinates
        part_ok = row_ok[part_feature]
        part_rings = _lengths(parts)
        part_rings = part_rings[part_rings > 0]
    else:
        per_row = _lengths(coordinates)
        parts = coordinates.flatten()
        part_rings = _lengths(parts)
        part_feature = np.repeat(np.arange(n), per_row)
        nonempty = part_rings > 0
        part_feature, part_rings = part_feature[nonempty], part_rings[nonempty]
        part_ok = row_ok[part_feature]
    rings = parts.flatten()
    ring_sizes = _lengths(rings)
    points = rings.flatten()
    point_sizes = _lengths(points)
    values = _floats(points.flatten())
    if len(values) == 2 * len(point_sizes) and (point_sizes == 2).all():
        return values.reshape(-1, 2), ring_sizes, part_rings, part_feature, part_ok  # (x, y) pairs
    starts = np.cumsum(point_sizes) - point_sizes
    usable = point_sizes >= 2
    coords = np.full((len(point_sizes), 2), np.nan)
    coords[usable, 0] = values[starts[usable]]
    coords[usable, 1] = values[starts[usable] + 1]  # (x, y) of (x, y, z) and the like
    return coords, ring_sizes, part_rings, part_feature, part_ok


def _strings(array: Any) -> Any:
    """A string array ("" as null), or None if the column is neither text nor integers."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if array is None:
        return None
    if pa.types.is_integer(array.type) or pa.types.is_floating(array.type):
        if pa.types.is_floating(array.type):
            raise Unsupported("non-integer ids or classes")
        array = array.cast(pa.string())
    if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        return None
    return pc.if_else(pc.equal(array, ""), pa.scalar(None, pa.string()), array)


def _classes(props: Any, n: int) -> tuple[np.ndarray, dict[str, tuple[int, int, int]]]:
    import pyarrow as pa
    import pyarrow.compute as pc

    classification = _child(props, "classification")
    fallback = [_strings(_child(props, k)) for k in ("class_name", "class", "type", "label")]
    colors: dict[str, tuple[int, int, int]] = {}
    color = None
    if classification is not None and pa.types.is_struct(classification.type):
        if _child(classification, "names") is not None:
            raise Unsupported("classification names lists")
        name = _strings(_child(classification, "name"))
        from_dict = pc.coalesce(name, "Unclassified") if name is not None else None
        if from_dict is None:
            from_dict = pa.array(["Unclassified"] * n)
        others = [f for f in fallback if f is not None]
        rest = pc.coalesce(*others, "Unclassified") if others else pa.array(["Unclassified"] * n)
        names = pc.if_else(classification.is_valid(), from_dict, rest)
        color = _child(classification, "color")
        if color is None:
            color = _child(classification, "colorRGB")
    else:
        candidates = [_strings(classification)] if classification is not None else []
        candidates = [fallback[0], *candidates, *fallback[1:]]
        present = [c for c in candidates if c is not None]
        names = pc.coalesce(*present, "Unclassified") if present else pa.array(["Unclassified"] * n)
    encoded = names.dictionary_encode()
    codes = np.asarray(encoded.indices, dtype=np.int64)
    categories = np.asarray(encoded.dictionary.to_pylist(), dtype=object)
    if color is not None:
        colors = _first_colors(color, codes, categories)
    return categories[codes], colors


def _first_colors(
    color: Any, codes: np.ndarray, categories: np.ndarray
) -> dict[str, tuple[int, int, int]]:
    """The first colour given for each class (RGB lists or QuPath packed integers)."""
    import pyarrow as pa

    if pa.types.is_integer(color.type):
        packed = np.asarray(color.cast(pa.int64()).fill_null(-1), dtype=np.int64)
        ok = np.flatnonzero(packed >= 0)
        rgb = np.column_stack([(packed >> 16) & 255, (packed >> 8) & 255, packed & 255])
    elif pa.types.is_list(color.type) and (
        pa.types.is_integer(color.type.value_type) or pa.types.is_floating(color.type.value_type)
    ):
        sizes = _lengths(color)
        ok = np.flatnonzero(sizes >= 3)
        values = _floats(color.flatten())
        starts = np.cumsum(sizes) - sizes
        rgb = np.zeros((len(sizes), 3), dtype=np.int64)
        for channel in range(3):
            rgb[ok, channel] = values[starts[ok] + channel].astype(np.int64)
    else:
        return {}
    classes, first = np.unique(codes[ok], return_index=True)
    return {
        str(categories[c]): tuple(int(v) for v in rgb[ok[f]])  # type: ignore[misc]
        for c, f in zip(classes, first, strict=True)
    }


def _number_column(array: Any) -> np.ndarray | None:
    """A measurement column as float32 (booleans and "true"/"false" words count), or None."""
    import pyarrow as pa

    from .geojson_rows import BOOLEAN_WORDS

    kind = array.type
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind):
        return _floats(array).astype(np.float32)
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        out = np.full(len(array), np.nan, dtype=np.float32)
        for i, text in enumerate(array.to_pylist()):
            if text is None:
                continue
            word = text.strip().lower()
            try:
                out[i] = BOOLEAN_WORDS[word] if word in BOOLEAN_WORDS else float(text)
            except ValueError:
                continue
        return out
    return None


def _measurements(props: Any, n: int) -> dict[str, np.ndarray]:
    import pyarrow as pa
    import pyarrow.compute as pc

    out: dict[str, np.ndarray] = {}
    raw = _child(props, "measurements")
    if raw is not None and pa.types.is_struct(raw.type):
        for field in raw.type:
            column = _number_column(pc.struct_field(raw, field.name))
            if column is not None and not np.isnan(column).all():
                out[field.name] = column
    elif raw is not None and pa.types.is_list(raw.type):
        entries = raw.flatten()
        names = _strings(_child(entries, "name"))
        values = _child(entries, "value")
        if names is None or values is None:
            raise Unsupported("measurement lists without name and value")
        numbers = _number_column(values)
        if numbers is None:
            raise Unsupported("measurement values that are not numbers")
        rows = np.repeat(np.arange(n), _lengths(raw))
        encoded = names.dictionary_encode()
        codes = np.asarray(encoded.indices.fill_null(-1), dtype=np.int64)
        for k, name in enumerate(encoded.dictionary.to_pylist()):
            pick = (codes == k) & ~np.isnan(numbers)
            if pick.any():
                column = np.full(n, np.nan, dtype=np.float32)
                column[rows[pick]] = numbers[pick]
                out[str(name)] = column
    for key in ("confidence", "probability", "score"):
        extra = _child(props, key)
        if key not in out and extra is not None:
            column = _number_column(extra)
            if column is not None and not np.isnan(column).all():
                out[key] = column
    return out


def _ids(table: Any, props: Any) -> np.ndarray:
    import pyarrow.compute as pc

    candidates = [
        _strings(table.column("id").combine_chunks()) if "id" in table.column_names else None,
        _strings(_child(props, "id")),
        _strings(_child(props, "object_id")),
    ]
    present = [c for c in candidates if c is not None]
    if not present:
        return np.full(table.num_rows, None, dtype=object)
    ids = pc.coalesce(*present) if len(present) > 1 else present[0]
    return np.asarray(ids.to_pylist(), dtype=object)


def feature_batch(table: Any) -> FeatureBatch:
    """One parsed run of features as columns."""
    n = table.num_rows
    if "geometry" not in table.column_names:
        raise Unsupported("no geometry column")
    geometry = table.column("geometry").combine_chunks()
    props = (
        table.column("properties").combine_chunks() if "properties" in table.column_names else None
    )
    coords, ring_sizes, part_rings, part_feature, part_ok = _geometry(geometry, n)
    names, colors = _classes(props, n)
    return FeatureBatch(
        count=n,
        coords=coords,
        ring_sizes=ring_sizes,
        part_rings=part_rings,
        part_feature=part_feature,
        names=names,
        ids=_ids(table, props),
        colors=colors,
        measurements=_measurements(props, n),
        part_ok=part_ok,
    )
