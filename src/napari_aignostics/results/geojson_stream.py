"""GeoJSON cells read as the file streams in: the first features are a table long before the last.

The file is read block by block into one buffer. In the bytes read so far, feature boundaries of
the ``features`` array are ``}`` ``,`` ``{"<key>"`` where the key is a Feature member (or the first
feature's first key); a quote cannot start a key like that inside a string, and a cut anywhere else
leaves unbalanced lines that Arrow rejects. Those commas become newlines (and the document's own
newlines, which JSON allows only between tokens, become spaces), so each run of whole features is
newline-delimited JSON for Arrow's reader (:mod:`.geojson_arrow`). The end of the array is found
exactly (strings and escapes respected) in the bytes after the last feature, so members may come
in any order. Layouts Arrow does not take fall back to :func:`.geojson.read_geojson` (whole file).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from .featurecols import FeatureBatch, assemble
from .geojson_arrow import Unsupported, feature_batch, first_key, parse_lines
from .jsonsplit import array_start, boundaries
from .tables import ObjectTable

__all__ = ["iter_geojson"]

FIRST_BLOCK = 4 * 1024 * 1024
"""Bytes read before the first table (a few thousand cells: the first frame costs one block)."""
BLOCK = 32 * 1024 * 1024
LAST_PARTIAL = 0.75
"""No partial table once this much of the file was read: the whole one comes soon after."""
MEMBERS = (b"type", b"geometry", b"properties", b"id", b"bbox")
SPACES = bytes.maketrans(b"\r\n", b"  ")

Steps = Iterator[tuple[ObjectTable, float]]


def _boundary(first_key: bytes) -> re.Pattern[bytes]:
    keys = b"|".join(re.escape(k) for k in dict.fromkeys((first_key, *MEMBERS)))
    return re.compile(rb'\}\s*(,)\s*\{\s*"(?:' + keys + rb')"')


def _batch(buf: bytearray, data: np.ndarray, edges: np.ndarray) -> FeatureBatch:
    """The features between ``edges[0]`` and ``edges[-1]`` (top-level commas in between)."""
    a, b = int(edges[0]) + 1, int(edges[-1])
    if buf.find(b"\n", a, b) != -1 or buf.find(b"\r", a, b) != -1:
        buf[a:b] = buf[a:b].translate(SPACES)
    data[edges[1:-1]] = ord("\n")
    longest = int(np.diff(edges).max())
    return feature_batch(parse_lines(memoryview(buf)[a:b], False, longest))


def _stream(path: Path, scale: float, slide_size: tuple[int, int] | None,
            partial: bool) -> Steps:
    size = path.stat().st_size
    buf = bytearray(size)
    data = np.frombuffer(buf, dtype=np.uint8)
    view = memoryview(buf)
    batches: list[FeatureBatch] = []
    cells = shown = 0
    with path.open("rb") as handle:
        filled = handle.readinto(view[:FIRST_BLOCK]) or 0
        start = array_start(buf[:filled])
        key = None if start is None else first_key(buf, start, filled)
        if start is None or key is None:
            raise Unsupported("no features array in the first block")
        pattern = _boundary(key)
        edge = start - 1  # the last boundary consumed (the array's "[" first)
        while filled < size:
            commas = np.fromiter(
                (m.start(1) for m in pattern.finditer(buf, edge + 1, filled)), dtype=np.int64
            )
            if len(commas):
                batches.append(_batch(buf, data, np.concatenate([[edge], commas])))
                edge = int(commas[-1])
                cells += batches[-1].count
                if partial and cells >= 2 * shown and edge < LAST_PARTIAL * size:
                    shown = cells
                    yield assemble(batches, scale=scale, slide_size=slide_size), edge / size
            got = handle.readinto(view[filled : filled + BLOCK]) or 0
            if not got:
                raise Unsupported("the file became shorter while it was read")
            filled += got
    commas = np.fromiter(
        (m.start(1) for m in pattern.finditer(buf, edge + 1, size)), dtype=np.int64
    )
    if len(commas):
        batches.append(_batch(buf, data, np.concatenate([[edge], commas])))
        edge = int(commas[-1])
    cuts = boundaries(buf, edge + 1)  # exact: the last features and the array's end
    if cuts is None:
        raise Unsupported("the features array does not end")
    batches.append(_batch(buf, data, np.concatenate([[edge], cuts])))
    del buf, view, data
    yield assemble(batches, scale=scale, slide_size=slide_size), 1.0


def iter_geojson(
    path: Path,
    *,
    scale: float = 1.0,
    slide_size: tuple[int, int] | None = None,
    partial: bool = False,
) -> Steps:
    """The table of a GeoJSON file and the fraction read, the whole table last (1.0).

    With ``partial``, also the features read so far after the first block and each time they
    doubled (until three quarters of the file were read). A layout the streaming reader does not take is read whole (no partial tables after).
    """
    import pyarrow as pa

    from .geojson import read_geojson

    steps = _stream(path, scale, slide_size, partial)
    while True:
        try:
            table, done = next(steps)
        except StopIteration:
            return
        except (Unsupported, pa.ArrowException, ValueError):
            break
        yield table, done
        if done >= 1.0:
            return
    yield read_geojson(path, scale=scale, slide_size=slide_size), 1.0
