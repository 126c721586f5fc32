"""GeoJSON polygons as they come in practice → :class:`ObjectTable`.

Accepts a FeatureCollection, a bare list of features or one feature; Polygon and MultiPolygon
(exploded); holes; QuPath classifications with or without colour (or a plain class string);
measurements as a dict or a QuPath list of ``{name, value}``; duplicate or missing ids; NaN or
out-of-slide coordinates (skipped and reported). Coordinates are scaled by ``scale`` (e.g.
``polygon_mpp / slide_mpp``) into level-0 pixels of the slide.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import shapely

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


def read_geojson(
    source: Path | bytes,
    *,
    scale: float = 1.0,
    offset: tuple[float, float] = (0.0, 0.0),
    slide_size: tuple[int, int] | None = None,
) -> ObjectTable:
    """Polygons with classes and measurements; ``slide_size`` (w, h) drops objects outside it."""
    raw = source.read_bytes() if isinstance(source, Path) else source
    features = _features(_parse(raw))
    polygons: list[shapely.Polygon] = []
    classes: list[str] = []
    ids: list[str] = []
    measurement_rows: list[dict[str, float]] = []
    colors: dict[str, tuple[int, int, int]] = {}
    problems: list[str] = []
    bad_geometry = outside = 0
    seen_ids: set[str] = set()
    duplicate_ids = 0
    for index, feature in enumerate(features):
        geometry = feature.get("geometry") or {}
        props = feature.get("properties") or {}
        try:
            shape = shapely.geometry.shape(geometry)
        except (ValueError, TypeError, AttributeError, KeyError, shapely.errors.GEOSException):
            bad_geometry += 1
            continue
        parts = [shape] if isinstance(shape, shapely.Polygon) else list(getattr(shape, "geoms", []))
        parts = [p for p in parts if isinstance(p, shapely.Polygon) and not p.is_empty]
        if not parts:
            bad_geometry += 1
            continue
        name, color = _classification(props)
        if color is not None and name not in colors:
            colors[name] = color
        values = _measurements(props)
        raw_id = feature.get("id") or props.get("id") or props.get("object_id")
        base_id = str(raw_id) if raw_id not in (None, "") else f"object-{index}"
        for part_no, part in enumerate(parts):
            coords = shapely.get_coordinates(part)
            if not np.isfinite(coords).all():
                bad_geometry += 1
                continue
            if scale != 1.0 or offset != (0.0, 0.0):
                part = shapely.transform(part, lambda xy: xy * scale + offset)
            if slide_size is not None:
                minx, miny, maxx, maxy = part.bounds
                if maxx < 0 or maxy < 0 or minx > slide_size[0] or miny > slide_size[1]:
                    outside += 1
                    continue
            object_id = base_id if len(parts) == 1 else f"{base_id}/{part_no}"
            if object_id in seen_ids:
                duplicate_ids += 1
                object_id = f"{object_id}#{index}"
            seen_ids.add(object_id)
            polygons.append(part)
            classes.append(name)
            ids.append(object_id)
            measurement_rows.append(values)
    for name in dict.fromkeys(classes):
        colors.setdefault(name, palette_color(name))
    if bad_geometry:
        problems.append(f"{bad_geometry} objects without a usable polygon were skipped")
    if outside:
        problems.append(f"{outside} objects outside the slide were skipped")
    if duplicate_ids:
        problems.append(f"{duplicate_ids} duplicate ids were made unique")
    keys = sorted({k for row in measurement_rows for k in row})
    measurements = {
        k: np.asarray([row.get(k, np.nan) for row in measurement_rows], dtype=np.float32)
        for k in keys
    }
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
