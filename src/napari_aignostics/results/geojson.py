"""GeoJSON polygons as they come in practice → :class:`ObjectTable`.

Accepts a FeatureCollection, a bare list of features or one feature; Polygon and MultiPolygon
(exploded); holes; QuPath classifications with or without colour (or a plain class string);
measurements as a dict or a QuPath list of ``{name, value}``; duplicate or missing ids; NaN or
out-of-slide coordinates (skipped and reported). Coordinates are scaled by ``scale`` (e.g.
``polygon_mpp / slide_mpp``) into level-0 pixels of the slide.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import shapely

from .jsonsplit import feature_batches
from .tables import ObjectTable, palette_color

__all__ = ["is_geojson", "read_geojson"]


BOOLEAN_WORDS = {"true": 1.0, "false": 0.0, "yes": 1.0, "no": 0.0}


def is_geojson(data: Any) -> bool:
    """Whether parsed JSON looks like GeoJSON features."""
    if isinstance(data, dict):
        return data.get("type") in {"FeatureCollection", "Feature"}
    if isinstance(data, list) and data:
        first = data[0]
        return isinstance(first, dict) and first.get("type") == "Feature"
    return False


def _features(data: Any) -> list[dict[str, Any]]:
    if isinstance(data, dict) and data.get("type") == "FeatureCollection":
        return list(data.get("features") or [])
    if isinstance(data, dict) and data.get("type") == "Feature":
        return [data]
    if isinstance(data, list):
        return [f for f in data if isinstance(f, dict)]
    raise ValueError("not GeoJSON: expected a FeatureCollection, a Feature or a list of features")


def _classification(props: dict[str, Any]) -> tuple[str, tuple[int, int, int] | None]:
    value = props.get("classification")
    if isinstance(value, dict):
        name = value.get("name") or value.get("names") or "Unclassified"
        if isinstance(name, list):
            name = ": ".join(str(n) for n in name)
        color = value.get("color") or value.get("colorRGB")
        if isinstance(color, int):  # QuPath packed ARGB
            color = [(color >> 16) & 255, (color >> 8) & 255, color & 255]
        rgb = tuple(int(c) for c in color[:3]) if isinstance(color, (list, tuple)) else None
        return str(name), rgb  # type: ignore[return-value]
    for key in ("class_name", "classification", "class", "type", "label"):
        if isinstance(props.get(key), (str, int)):
            return str(props[key]), None
    return "Unclassified", None


def _measurements(props: dict[str, Any]) -> dict[str, float]:
    raw = props.get("measurements")
    values: dict[str, float] = {}
    items: Iterable[tuple[Any, Any]]
    if isinstance(raw, dict):
        items = raw.items()
    elif isinstance(raw, list):
        items = ((m.get("name"), m.get("value")) for m in raw if isinstance(m, dict))
    else:
        items = ()
    for name, value in items:
        if isinstance(value, str) and value.strip().lower() in BOOLEAN_WORDS:
            values[str(name)] = BOOLEAN_WORDS[value.strip().lower()]  # "true"/"false" as written
            continue
        try:
            values[str(name)] = float(value)
        except (TypeError, ValueError):
            continue
    for key in ("confidence", "probability", "score"):
        if key in props and key not in values:
            with contextlib.suppress(TypeError, ValueError):
                values[key] = float(props[key])
    return values


def _parse(raw: bytes) -> Any:
    """orjson (fast); the standard parser for files with NaN/Infinity, which orjson refuses."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        import json

        try:
            return json.loads(raw)
        except ValueError as exc:
            raise ValueError(f"not valid JSON ({exc})") from None


def _part_rings(geometry: Any) -> list[list[Any]] | None:
    """Rings of each polygon part of a Polygon or MultiPolygon geometry (None: not polygonal)."""
    kind = geometry.get("type") if isinstance(geometry, dict) else None
    coordinates = geometry.get("coordinates") if kind else None
    if not isinstance(coordinates, list) or not coordinates:
        return None
    if kind == "Polygon":
        return [coordinates]
    if kind == "MultiPolygon":
        return [part for part in coordinates if isinstance(part, list) and part]
    return None


def _build_polygons(parts: list[list[Any]]) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised: polygons (holes kept) and their (N, 4) bounds; invalid parts become None."""
    from itertools import chain

    rings = [ring for part in parts for ring in part]
    ring_sizes = np.fromiter((len(r) for r in rings), dtype=np.int64, count=len(rings))
    rings_per_part = np.fromiter((len(p) for p in parts), dtype=np.int64, count=len(parts))
    coords = np.fromiter(chain.from_iterable(chain.from_iterable(rings)), dtype=np.float64)
    coords = coords.reshape(-1, 2)
    ring_part = np.repeat(np.arange(len(parts)), rings_per_part)
    ok_part = np.ones(len(parts), dtype=bool)
    ok_part[ring_part[ring_sizes < 3]] = False
    point_ring = np.repeat(np.arange(len(rings)), ring_sizes)
    finite = np.isfinite(coords).all(axis=1)
    ok_part[ring_part[point_ring[~finite]]] = False
    keep_ring = ok_part[ring_part]
    keep_point = keep_ring[point_ring]
    linear = shapely.linearrings(coords[keep_point], indices=point_ring[keep_point])
    polygons = np.full(len(parts), None, dtype=object)
    if len(linear):
        kept_parts = ring_part[keep_ring]
        built = shapely.polygons(linear, indices=np.unique(kept_parts, return_inverse=True)[1])
        polygons[np.unique(kept_parts)] = built
    bounds = np.full((len(parts), 4), np.nan)
    valid = np.flatnonzero(ok_part)
    if len(valid):
        bounds[valid] = shapely.bounds(polygons[valid].astype(object))
    return polygons, bounds


class _Columns:
    """Measurement rows turned into float32 columns batch by batch (NaN where missing)."""

    def __init__(self) -> None:
        self.count = 0
        self.parts: dict[str, list[np.ndarray]] = {}

    def add(self, rows: list[dict[str, float]]) -> None:
        keys = {k for row in rows for k in row}
        for key in keys - set(self.parts):
            self.parts[key] = [np.full(self.count, np.nan, dtype=np.float32)]
        for key, parts in self.parts.items():
            if key in keys:
                parts.append(
                    np.fromiter(
                        (row.get(key, np.nan) for row in rows), dtype=np.float32, count=len(rows)
                    )
                )
            else:
                parts.append(np.full(len(rows), np.nan, dtype=np.float32))
        self.count += len(rows)

    def arrays(self) -> dict[str, np.ndarray]:
        return {k: np.concatenate(v) for k, v in self.parts.items()}


def _batches(raw: bytes, stream: bool) -> Iterator[list[dict[str, Any]]]:
    """Features in batches (streamed when asked and the layout allows it, else parsed whole)."""
    streamed = feature_batches(raw) if stream else None
    if streamed is None:
        yield _features(_parse(raw))
        return
    for batch in streamed:  # orjson.JSONDecodeError (e.g. NaN): the caller parses whole
        yield [f for f in batch if isinstance(f, dict)]


def _build_one_by_one(parts: list[list[Any]]) -> tuple[np.ndarray, np.ndarray]:
    """The slow path for malformed coordinates: each part on its own, bad ones become None."""
    polygons = np.full(len(parts), None, dtype=object)
    bounds = np.full((len(parts), 4), np.nan)
    for i, rings in enumerate(parts):
        try:
            polygon = shapely.Polygon(rings[0], rings[1:])
            coords = shapely.get_coordinates(polygon)
        except (ValueError, TypeError, IndexError, shapely.errors.GEOSException):
            continue
        if polygon.is_empty or not np.isfinite(coords).all():
            continue
        polygons[i] = polygon
        bounds[i] = polygon.bounds
    return polygons, bounds


def read_geojson(
    source: Path | bytes,
    *,
    scale: float = 1.0,
    offset: tuple[float, float] = (0.0, 0.0),
    slide_size: tuple[int, int] | None = None,
) -> ObjectTable:
    """Polygons with classes and measurements; ``slide_size`` (w, h) drops objects outside it.

    Feature dictionaries are walked once in Python; polygons are built in one vectorised shapely
    call. The garbage collector is paused meanwhile (millions of small lists would trigger it
    over and over without ever finding garbage).
    """
    import gc

    enabled = gc.isenabled()
    gc.disable()
    raw = source.read_bytes() if isinstance(source, Path) else source
    try:
        try:
            return _read(raw, scale, offset, slide_size, stream=True)
        except orjson.JSONDecodeError:  # e.g. NaN, which only the standard parser accepts
            return _read(raw, scale, offset, slide_size, stream=False)
    finally:
        if enabled:
            gc.enable()


def _read(
    raw: bytes,
    scale: float,
    offset: tuple[float, float],
    slide_size: tuple[int, int] | None,
    *,
    stream: bool,
) -> ObjectTable:
    batches = _batches(raw, stream)
    classes: list[str] = []
    ids: list[str] = []
    measurement_rows: list[dict[str, float]] = []
    columns = _Columns()
    colors: dict[str, tuple[int, int, int]] = {}
    problems: list[str] = []
    bad_geometry = outside = 0
    built_parts: list[np.ndarray] = []
    bounds_parts: list[np.ndarray] = []
    index = -1
    for features in batches:
        parts: list[list[Any]] = []
        for feature in features:
            index += 1
            props = feature.get("properties") or {}
            feature_parts = _part_rings(feature.get("geometry"))
            if not feature_parts:
                bad_geometry += 1
                continue
            name, color = _classification(props)
            if color is not None and name not in colors:
                colors[name] = color
            values = _measurements(props)
            raw_id = feature.get("id") or props.get("id") or props.get("object_id")
            base_id = str(raw_id) if raw_id not in (None, "") else f"object-{index}"
            for part_no, part in enumerate(feature_parts):
                parts.append(part)
                classes.append(name)
                ids.append(base_id if len(feature_parts) == 1 else f"{base_id}/{part_no}")
                measurement_rows.append(values)
        try:
            built_batch, bounds_batch = _build_polygons(parts)
        except (ValueError, TypeError, shapely.errors.GEOSException):
            built_batch, bounds_batch = _build_one_by_one(parts)
        built_parts.append(built_batch)
        bounds_parts.append(bounds_batch)
        columns.add(measurement_rows)
        measurement_rows = []
        del features, parts  # free this batch's JSON objects before the next one
    built = np.concatenate(built_parts) if built_parts else np.empty(0, dtype=object)
    bounds = np.concatenate(bounds_parts) if bounds_parts else np.empty((0, 4))
    if scale != 1.0 or offset != (0.0, 0.0):
        valid = np.flatnonzero(built != None)  # noqa: E711 - elementwise on an object array
        built[valid] = shapely.transform(built[valid], lambda xy: xy * scale + offset)
        bounds = bounds * scale + np.array([offset[0], offset[1], offset[0], offset[1]])
    keep = built != None  # noqa: E711
    bad_geometry += int((~keep).sum())
    if slide_size is not None:
        inside = ~(
            (bounds[:, 2] < 0)
            | (bounds[:, 3] < 0)
            | (bounds[:, 0] > slide_size[0])
            | (bounds[:, 1] > slide_size[1])
        )
        outside = int((keep & ~inside).sum())
        keep &= inside
    rows = np.flatnonzero(keep)
    polygons = list(built[rows])
    classes = [classes[i] for i in rows]
    seen_ids: set[str] = set()
    unique_ids: list[str] = []
    duplicate_ids = 0
    for i in rows:
        object_id = ids[i]
        if object_id in seen_ids:
            duplicate_ids += 1
            object_id = f"{object_id}#{i}"
        seen_ids.add(object_id)
        unique_ids.append(object_id)
    ids = unique_ids
    for name in dict.fromkeys(classes):
        colors.setdefault(name, palette_color(name))
    if bad_geometry:
        problems.append(f"{bad_geometry} objects without a usable polygon were skipped")
    if outside:
        problems.append(f"{outside} objects outside the slide were skipped")
    if duplicate_ids:
        problems.append(f"{duplicate_ids} duplicate ids were made unique")
    measurements = {k: v[rows] for k, v in sorted(columns.arrays().items())}
    confidence = measurements.pop("confidence", None)
    return ObjectTable(
        polygons=np.asarray(polygons, dtype=object) if polygons else np.empty(0, dtype=object),
        classes=np.asarray(classes, dtype=object),
        colors={k: colors[k] for k in sorted(colors, key=lambda c: (c not in classes, c))},
        ids=np.asarray(ids, dtype=object),
        confidence=confidence,
        measurements=measurements,
        problems=problems,
    )
