"""npe2 reader: results folders and cell files onto the open slide."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..platform.results_layout import ArtifactMetadata
from ..slides.layers import LayerData
from ..slides.slide_ref import SlideRef, find_slide, open_slides
from .geojson import is_geojson
from .result_set import find_item_folders, load_results, looks_like_results

if TYPE_CHECKING:
    from napari.layers import Layer

__all__ = ["get_reader", "plan_results", "read_results"]

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


def _open_slide_layers() -> list[Layer]:
    """The layers of the current viewer (none when napari has no viewer)."""
    import napari

    viewer = napari.current_viewer()
    return [] if viewer is None else list(viewer.layers)


ResultsPlan = tuple[Path, SlideRef | None, str | None, dict[str, ArtifactMetadata] | None]
"""What to load and where: folder or file, slide, layer name prefix, artifact metadata."""


def plan_results(target: Path, layers: list[Layer]) -> ResultsPlan | None:
    """Which item of ``target`` to show over which open slide (cheap: no result is parsed).

    No session carries a slide reference here: the item is matched to an open slide layer.
    None when a folder holds no item.
    """
    from napari.utils.notifications import show_warning

    topmost = next(iter(open_slides(layers)), None)
    if topmost is None:
        show_warning(f"{target.name}: no slide is open; results are shown in level-0 pixels alone")
    if not target.is_dir():
        return target, topmost, None, None
    entries = find_item_folders(target)
    if not entries:
        return None
    chosen = entries[0]
    if topmost is not None and topmost.layer is not None:  # the item of the topmost slide
        shown = [topmost.layer]
        chosen = next((e for e in entries if find_slide(shown, e[0]) is not None), chosen)
    external_id, folder, meta = chosen
    return folder, find_slide(layers, external_id) or topmost, Path(external_id).stem, meta


def read_results(path: str | Path) -> list[LayerData]:
    """Layers of a results folder or file, scaled onto the open slide (or alone), read at once."""
    from napari.utils.notifications import show_warning

    plan = plan_results(Path(path), _open_slide_layers())
    if plan is None:
        return []
    target, slide, name, meta = plan
    mpp, size = (slide.mpp, slide.size) if slide is not None else (None, None)
    result = load_results(target, mpp, size, name=name, metadata=meta)
    layer_data = result.layer_data()
    if not layer_data and result.problems:
        raise ValueError("; ".join(result.problems[:5]))  # napari shows it; nothing to add
    for problem in result.problems[:5]:
        show_warning(problem)
    return layer_data
