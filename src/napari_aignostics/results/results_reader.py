"""npe2 reader: results folders and cell files onto the open slide."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..slides.layers import METADATA_KEY, LayerData
from .geojson import is_geojson
from .result_set import find_item_folders, load_results, looks_like_results

__all__ = ["get_reader", "read_results"]

HEAD = 64 * 1024
FEATURE_TYPE = re.compile(rb'"type"\s*:\s*"Feature(Collection)?"')


def _accepts(path: Path) -> bool:
    if path.is_dir():
        return looks_like_results(path) or any(
            looks_like_results(child) for child in path.iterdir() if child.is_dir()
        )
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return True
    if suffix == ".csv":
        return path.open().readline().startswith("minx,miny,width,height")
    if suffix in {".json", ".geojson"}:
        return _sniff_geojson(path)
    return False


def _sniff_geojson(path: Path) -> bool:
    """Whether a JSON file holds GeoJSON features, from its first 64 KiB (big files: no parse)."""
    import orjson

    try:
        with path.open("rb") as handle:
            head = handle.read(HEAD + 1)
    except OSError:
        return False
    if len(head) <= HEAD:
        try:
            return is_geojson(orjson.loads(head))
        except ValueError:
            pass  # NaN, Infinity or damage: decided like a big file; the loader reports details
    start = head.lstrip()[:1]
    return start in (b"{", b"[") and FEATURE_TYPE.search(head) is not None


def get_reader(path: str | list[str]) -> Callable[[Any], list[LayerData]] | None:
    """A reader for results, or None to let other readers try."""
    if isinstance(path, list):
        return None
    target = Path(path)
    try:
        accepted = target.exists() and _accepts(target)
    except (OSError, ValueError):  # unreadable, or bytes that are not text: not ours to open
        return None
    return read_results if accepted else None


def current_slide() -> dict[str, Any] | None:
    """The metadata of the slide open in the current viewer, if any."""
    try:
        import napari
    except ImportError:  # pragma: no cover
        return None
    viewer = napari.current_viewer()
    if viewer is None:
        return None
    for layer in reversed(list(viewer.layers)):
        meta = layer.metadata.get(METADATA_KEY)
        if meta:
            return dict(meta)
    return None


def read_results(path: Any) -> list[LayerData]:
    """Layers of a results folder or file, scaled onto the open slide (or alone)."""
    from napari.utils.notifications import show_warning

    target = Path(path)
    slide = current_slide()
    mpp = slide.get("mpp") if slide else None
    size = tuple(slide["level_dimensions"][0]) if slide else None
    if slide is None:
        show_warning(f"{target.name}: no slide is open; results are shown in level-0 pixels alone")
    if target.is_dir():
        entries = find_item_folders(target)
        if not entries:
            return []
        chosen = entries[0]
        if slide is not None:
            for entry in entries:
                if Path(entry[0]).name == Path(slide["path"]).name:
                    chosen = entry
        external_id, folder, meta = chosen
        result = load_results(folder, mpp, size, name=Path(external_id).stem, metadata=meta)  # type: ignore[arg-type]
    else:
        result = load_results(target, mpp, size)  # type: ignore[arg-type]
    layers = result.layer_data()
    if not layers and result.problems:
        raise ValueError("; ".join(result.problems[:5]))  # napari shows it; nothing to add
    for problem in result.problems[:5]:
        show_warning(problem)
    return layers
