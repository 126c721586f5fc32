"""GeoJSON polygons as they come in practice → :class:`ObjectTable`.

Accepts a FeatureCollection, a bare list of features or one feature; Polygon and MultiPolygon
(exploded); holes; QuPath classifications with or without colour (or a plain class string);
measurements as a dict or a QuPath list of ``{name, value}``; duplicate or missing ids; NaN or
out-of-slide coordinates (skipped and reported). Coordinates are scaled by ``scale`` (e.g.
``polygon_mpp / slide_mpp``) into level-0 pixels of the slide.

Files are read column-wise by Arrow when their layout allows (:mod:`.geojson_arrow`, the usual
case for model outputs) and otherwise feature by feature (:mod:`.geojson_rows`). Big cell files
are read as they stream in by :mod:`.geojson_stream`, which falls back to this module.
"""

from __future__ import annotations

import logging
from pathlib import Path

from .featurecols import FeatureBatch, assemble
from .geojson_arrow import Unsupported, arrow_batches
from .geojson_rows import is_geojson, row_batches
from .tables import ObjectTable

__all__ = ["is_geojson", "read_batches", "read_geojson"]

log = logging.getLogger(__name__)


def _buffer(source: Path | bytes | bytearray) -> bytearray:
    """The document in a writable buffer (read straight into it: one copy in memory)."""
    if not isinstance(source, Path):
        return bytearray(source)
    buf = bytearray(source.stat().st_size)
    with source.open("rb") as handle:
        view = memoryview(buf)
        filled = 0
        while filled < len(buf):
            got = handle.readinto(view[filled:])
            if not got:
                break
            filled += got
    return buf


def read_batches(buf: bytearray) -> list[FeatureBatch]:
    """All features as column batches: Arrow first, the row reader for other layouts."""
    import pyarrow as pa

    try:
        return list(arrow_batches(buf))
    except (Unsupported, pa.ArrowException) as exc:
        log.debug("columnar GeoJSON reading not possible (%s); reading feature by feature", exc)
    return row_batches(buf)


def read_geojson(
    source: Path | bytes | bytearray,
    *,
    scale: float = 1.0,
    offset: tuple[float, float] = (0.0, 0.0),
    slide_size: tuple[int, int] | None = None,
) -> ObjectTable:
    """Polygons with classes and measurements; ``slide_size`` (w, h) drops objects outside it."""
    batches = read_batches(_buffer(source))
    return assemble(batches, scale=scale, offset=offset, slide_size=slide_size)
