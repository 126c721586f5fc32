"""Slide → napari image layer data (Qt-free): lazy multiscale levels with a physical scale."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the reader imports dask: the dock and results need only the names here
    from .reader import Slide

LayerData = tuple[Any, dict[str, Any], str]
"""napari's ``(data, kwargs, layer_type)``."""

METADATA_KEY = "napari_aignostics"

_OPEN: dict[int, Slide] = {}
"""The slides behind layer data made here, by the id of their level-0 array (kept open while shown)."""


def slide_layer_metadata(slide: Slide) -> dict[str, Any]:
    """What results and the dock widget need to know about the slide behind a layer."""
    return {
        "path": str(slide.path),
        "mpp": slide.mpp,
        "mpp_source": slide.properties.get("napari_aignostics.mpp-source"),
        "vendor": slide.vendor,
        "backend": slide.backend,
        "objective_power": slide.objective_power,
        "level_dimensions": [list(d) for d in slide.level_dimensions],
        "level_downsamples": list(slide.level_downsamples),
        "warnings": list(slide.warnings),
    }


def slide_scale(mpp: float | None) -> tuple[tuple[float, float], tuple[str, str]]:
    """Layer ``scale`` and ``units`` for a level-0 pixel size: µm when known, else pixels.

    This is the one coordinate convention of the plugin: world coordinates are level-0 pixels
    times ``mpp`` (µm), or level-0 pixels when the slide has no pixel size.
    """
    if mpp:
        return (mpp, mpp), ("µm", "µm")
    return (1.0, 1.0), ("pixel", "pixel")


def slide_layer_data(slide: Slide, levels: Sequence[object] | None = None) -> LayerData:
    """A napari ``LayerData`` tuple: RGB, multiscale, fixed contrast, µm scale, metadata.

    ``levels``: the slide's levels with some already decoded into arrays (default: all lazy)."""
    scale, units = slide_scale(slide.mpp)
    kwargs: dict[str, Any] = {
        "name": slide.path.stem if slide.path.is_file() else slide.path.name,
        "rgb": True,
        "multiscale": True,
        "contrast_limits": (0, 255),
        "scale": scale,
        "units": units,
        "axis_labels": ("y", "x"),
        "metadata": {METADATA_KEY: slide_layer_metadata(slide)},
    }
    data = list(slide.levels if levels is None else levels)
    _OPEN[id(data[0])] = slide
    return data, kwargs, "image"


def close_slide_of(levels: Sequence[object]) -> bool:
    """Close the file behind a slide layer's levels (its layer left the viewer) and drop its
    decoded chunks from napari's dask cache; False if unknown."""
    if not len(levels):
        return False
    slide = _OPEN.pop(id(levels[0]), None)
    if slide is None:
        return False
    forget_cached_chunks(slide.levels)
    slide.close()
    return True


def forget_cached_chunks(levels: Sequence[Any]) -> int:
    """Evict a closed slide's chunks, and the assembled views (``finalize-*``), from napari's
    opportunistic dask cache; the bytes freed.

    napari caches every computed chunk up to a quarter of the RAM, so without this each slide
    visited stays in memory after its layer is gone. Views assembled from chunks carry no slide
    name: all are dropped (a shown slide recomputes them from its cached chunks).
    """
    from napari.utils import resize_dask_cache

    names = {str(level.name) for level in levels if hasattr(level, "name")}
    cache = resize_dask_cache().cache  # napari's cache as it is (sized by napari's settings)
    freed = 0
    for key in list(cache.data):
        name = str(key[0] if isinstance(key, tuple) and key else key)
        if name in names or name.startswith("finalize-"):
            freed += cache.nbytes.get(key, 0)
            cache.retire(key)
            cache.heap.pop(key, None)  # retire() leaves the key's score behind
    return freed
