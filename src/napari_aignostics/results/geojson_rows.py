"""GeoJSON features as Python dicts (orjson) → :class:`FeatureBatch` es: the tolerant reader.

It takes whatever the columnar reader cannot: mixed Polygon/MultiPolygon files, measurement lists
with mixed value types, NaN (which only the standard parser accepts), odd layouts. Big feature
arrays are still parsed a batch at a time (:mod:`.jsonsplit`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from itertools import chain
from typing import Any

import numpy as np
import orjson

from .featurecols import FeatureBatch
from .jsonsplit import feature_batches

__all__ = ["BOOLEAN_WORDS", "is_geojson", "row_batches"]


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


def _parse(raw: bytes | bytearray) -> Any:
    """orjson (fast); the standard parser for files with NaN/Infinity, which orjson refuses."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        import json

        try:
            return json.loads(raw)
        except ValueError as exc:
            raise ValueError(f"not valid JSON ({exc})") from None
        except RecursionError:
            raise ValueError(
                "not a result file: its JSON arrays or objects are nested too deeply to read"
            ) from None


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


def _batches(raw: bytes | bytearray, stream: bool) -> Iterator[list[dict[str, Any]]]:
    """Features in batches (streamed when asked and the layout allows it, else parsed whole)."""
    streamed = feature_batches(raw) if stream else None
    if streamed is None:
        yield _features(_parse(raw))
        return
    for batch in streamed:  # orjson.JSONDecodeError (e.g. NaN): the caller parses whole
        yield [f for f in batch if isinstance(f, dict)]


def _flatten(parts: list[list[Any]]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Vertices, ring sizes, rings per part and part usability, for all parts at once."""
    rings = [ring for part in parts for ring in part]
    ring_sizes = np.fromiter((len(r) for r in rings), dtype=np.int64, count=len(rings))
    part_rings = np.fromiter((len(p) for p in parts), dtype=np.int64, count=len(parts))
    try:
        flat = np.fromiter(chain.from_iterable(chain.from_iterable(rings)), dtype=np.float64)
        if len(flat) != 2 * int(ring_sizes.sum()):
            raise ValueError("vertices are not (x, y) pairs")
        return flat.reshape(-1, 2), ring_sizes, part_rings, np.ones(len(parts), dtype=bool)
    except (ValueError, TypeError):
        return _flatten_one_by_one(parts)


def _flatten_one_by_one(
    parts: list[list[Any]],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The slow path for malformed coordinates: bad parts are kept empty and marked unusable."""
    coords: list[np.ndarray] = []
    sizes: list[int] = []
    part_rings = np.zeros(len(parts), dtype=np.int64)
    ok = np.zeros(len(parts), dtype=bool)
    for i, part in enumerate(parts):
        try:
            rings = [np.asarray(ring, dtype=np.float64) for ring in part]
            if any(r.ndim != 2 or r.shape[1] < 2 for r in rings):
                continue
        except (ValueError, TypeError):
            continue
        coords += [r[:, :2] for r in rings]
        sizes += [len(r) for r in rings]
        part_rings[i] = len(rings)
        ok[i] = True
    vertices = np.concatenate(coords) if coords else np.zeros((0, 2))
    return vertices, np.asarray(sizes, dtype=np.int64), part_rings, ok


def _batch(features: list[dict[str, Any]]) -> FeatureBatch:
    """One batch of feature dicts as columns."""
    parts: list[list[Any]] = []
    part_feature: list[int] = []
    names: list[str] = []
    ids: list[str | None] = []
    rows: list[dict[str, float]] = []
    colors: dict[str, tuple[int, int, int]] = {}
    for local, feature in enumerate(features):
        props = feature.get("properties") or {}
        if not isinstance(props, dict):
            props = {}
        feature_parts = _part_rings(feature.get("geometry")) or []
        parts += feature_parts
        part_feature += [local] * len(feature_parts)
        name, color = _classification(props)
        if color is not None and name not in colors:
            colors[name] = color
        names.append(name)
        rows.append(_measurements(props))
        raw_id = next(
            (
                v
                for v in (feature.get("id"), props.get("id"), props.get("object_id"))
                if v not in (None, "")
            ),
            None,
        )
        ids.append(None if raw_id is None else str(raw_id))
    coords, ring_sizes, part_rings, part_ok = _flatten(parts)
    keys = sorted({k for row in rows for k in row})
    measurements = {
        key: np.fromiter((row.get(key, np.nan) for row in rows), dtype=np.float32, count=len(rows))
        for key in keys
    }
    return FeatureBatch(
        count=len(features),
        coords=coords,
        ring_sizes=ring_sizes,
        part_rings=part_rings,
        part_feature=np.asarray(part_feature, dtype=np.int64),
        names=np.asarray(names, dtype=object),
        ids=np.asarray(ids, dtype=object),
        colors=colors,
        measurements=measurements,
        part_ok=part_ok,
    )


def row_batches(raw: bytes | bytearray) -> list[FeatureBatch]:
    """All features of a GeoJSON document as batches (streamed when the layout allows).

    The garbage collector is paused meanwhile: millions of small lists would trigger it over and
    over without it ever finding garbage.
    """
    import gc

    enabled = gc.isenabled()
    gc.disable()
    try:
        try:
            return [_batch(features) for features in _batches(raw, stream=True)]
        except orjson.JSONDecodeError:  # e.g. NaN, which only the standard parser accepts
            return [_batch(features) for features in _batches(raw, stream=False)]
    finally:
        if enabled:
            gc.enable()
