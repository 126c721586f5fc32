"""Everything opening a slide in napari needs before its layer is added, done in one call that may
run in a worker thread: the imports, the file's headers, the pint registry for its µm units, and
the levels napari slices first decoded into memory (so the first slice is a memory read)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .layers import LayerData, slide_layer_data
from .warmup import build_unit_registry, import_now, unit_registry_needed

if TYPE_CHECKING:
    import pint

    from .reader import Slide

__all__ = ["FIRST_VIEW_BYTES", "PreparedSlide", "first_view_level", "prepare_slide"]

FIRST_VIEW_BYTES = 128 * 2**20
"""A level napari slices first is decoded ahead only up to this size (the rest stays lazy)."""


@dataclass
class PreparedSlide:
    """A slide ready to become a layer: its layer data and what the main thread shows with it."""

    path: Path
    layer: LayerData
    warnings: list[str]
    physical: bool
    """Whether the slide has a pixel size (then napari shows a µm scale bar)."""
    units: pint.UnitRegistry | None = field(default=None, repr=False)
    """A complete pint registry when pint's was still unused (installed on the main thread)."""
    decoded: list[int] = field(default_factory=list)
    """The levels handed over in memory."""


def first_view_level(level_shapes: Sequence[tuple[int, int]], canvas: tuple[int, int]) -> int:
    """The level napari shows for the whole slide in a ``canvas`` of (height, width) screen pixels:
    the coarsest level still larger than the canvas in both directions (napari's own rule)."""
    level = 0
    for index, shape in enumerate(level_shapes):
        if shape[0] > canvas[0] and shape[1] > canvas[1]:
            level = index
    return level


def prepare_slide(
    path: Path,
    canvas: tuple[int, int] | None = None,
    read_errors: Callable[[Path, BaseException], None] | None = None,
) -> PreparedSlide:
    """Open ``path`` and make its layer data; with ``canvas`` (height, width), decode the coarsest
    level and the one napari shows the whole slide at into memory (each up to
    :data:`FIRST_VIEW_BYTES`). ``read_errors`` becomes the reader's report of undecodable tiles.
    Raises :class:`SlideError` for a file that is not a readable slide."""
    import_now()  # tiffslide, zarr, dask and dask's `distributed` probe, here rather than later
    from . import reader

    if read_errors is not None:
        reader.read_error_handler = read_errors
    slide = reader.open_slide(path)
    try:
        levels: list[object] = list(slide.levels)
        decoded = _levels_to_decode(slide, canvas) if canvas is not None else []
        for index in decoded:
            levels[index] = slide.read_region(index, 0, 0, *slide.level_dimensions[index])
        units = build_unit_registry() if unit_registry_needed() else None
    except BaseException:
        slide.close()
        raise
    return PreparedSlide(
        path=path,
        layer=slide_layer_data(slide, levels),
        warnings=list(slide.warnings),
        physical=slide.mpp is not None,
        units=units,
        decoded=decoded,
    )


def _levels_to_decode(slide: Slide, canvas: tuple[int, int]) -> list[int]:
    shapes = [(height, width) for width, height in slide.level_dimensions]
    wanted = {len(shapes) - 1, first_view_level(shapes, canvas)}
    return sorted(
        index
        for index in wanted
        if shapes[index][0] * shapes[index][1] * 3 <= FIRST_VIEW_BYTES
    )
