"""The npe2 slide reader: in a viewer on screen a slide opens in a worker, the window never freezes.

napari calls a reader on the main thread and adds what it returns there. For a viewer whose window
is shown, the reader returns napari's "read, nothing to add" sentinel ``[(None,)]`` and a worker
does the slow part (:func:`~napari_aignostics.slides.prepare.prepare_slide`: imports, headers,
pint's registry, the first levels decoded); the main thread then adds the layer, with napari's
progress meanwhile and an error notification naming the file if it fails (nothing is added then).
Without a shown window (scripts, ``ViewerModel``, hidden test viewers) the slide opens on the calling
thread and ``viewer.open`` returns its layer as before. Code that needs the layer of a slide it
opens uses :func:`open_slide_in`, which calls back with it either way.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ..reader_preference import PLUGIN_NAME
from ..slides.layers import LayerData, close_slide_of
from ..slides.napari_reader import (
    current_viewer_of_napari,
    notify_read_error,
    read_slide,
    show_prepared,
    slide_path,
)
from ..slides.prepare import PreparedSlide, prepare_slide

if TYPE_CHECKING:  # Qt only when a window is shown: the reader is also used without Qt
    from napari.components import ViewerModel
    from napari.layers import Layer

    from .workers import WorkerPool

__all__ = ["NULL_LAYER", "get_reader", "is_shown", "open_slide_in", "read_in_worker"]

NULL_LAYER: list[LayerData] = [(None,)]  # type: ignore[list-item]
"""napari's sentinel for "the file was read, there is nothing to add" (no reader dialog follows)."""

SlideCallback = Callable[["Layer | None"], None]
"""Called on the main thread with the added layer, or None when the slide could not be opened."""

_POOL: WorkerPool | None = None
"""The workers opening slides (made on the first open in a shown viewer)."""


def get_reader(path: str | list[str]) -> Callable[[str | list[str]], list[LayerData]] | None:
    """Accept slide files and DICOM series folders; decline everything else."""
    return read_in_worker if slide_path(path) is not None else None


def read_in_worker(path: str | list[str]) -> list[LayerData]:
    """The reader: a shown viewer gets the slide from a worker, any other caller its layer data now."""
    viewer = current_viewer_of_napari()
    p = slide_path(path)
    if p is None or viewer is None or not is_shown(viewer):
        return read_slide(path)
    open_slide_in(viewer, p)
    return NULL_LAYER


def is_shown(viewer: object | None) -> bool:
    """Whether ``viewer`` has a Qt window on screen (napari names the window only privately)."""
    window = getattr(getattr(viewer, "window", None), "_qt_window", None)
    return bool(window is not None and window.isVisible())


def open_slide_in(viewer: ViewerModel, path: Path, then: SlideCallback | None = None) -> None:
    """Add the slide at ``path`` to ``viewer``; ``then(layer)`` once it is there (None on failure).

    In a shown viewer the work runs in a worker and this returns at once; otherwise it all happens
    before this returns."""
    if not is_shown(viewer):
        try:
            prepared = prepare_slide(path, read_errors=notify_read_error)
        except Exception as error:  # noqa: BLE001 - reported like the worker's errors
            _report(path, error)
            _finish(then, None)
            return
        _finish(then, _add(viewer, path, show_prepared(prepared, viewer)))
        return
    from napari.utils import progress

    bar = progress(total=0, desc=f"Opening {path.name}")

    def added(prepared: PreparedSlide) -> None:
        bar.close()
        if not is_shown(viewer):  # the window closed meanwhile
            close_slide_of(prepared.layer[0])
            return
        _finish(then, _add(viewer, path, show_prepared(prepared, viewer)))

    def failed(error: BaseException) -> None:
        bar.close()
        _report(path, error)
        _finish(then, None)

    _pool().start(
        prepare_slide, path, canvas_of(viewer), notify_read_error, on_done=added, on_error=failed
    )


def _pool() -> WorkerPool:
    from .workers import WorkerPool

    global _POOL
    if _POOL is None:
        _POOL = WorkerPool()
    return _POOL


def canvas_of(viewer: object) -> tuple[int, int]:
    """The viewer's canvas (height, width) in screen pixels; a common screen's when unknown."""
    size = getattr(getattr(viewer, "canvas", None), "size", None)
    if size is not None and len(size) == 2 and min(size) > 0:
        return int(size[0]), int(size[1])
    return 1000, 1600


def _add(viewer: ViewerModel, path: Path, data: LayerData) -> Layer:
    """Add the layer with the source napari gives what its readers return (file, reader)."""
    from napari.layers import Layer
    from napari.layers._source import layer_source  # napari's own way; it has no public one

    with layer_source(path=str(path), reader_plugin=PLUGIN_NAME):
        layer = Layer.create(*data)
    viewer.add_layer(layer)
    return layer


def _report(path: Path, error: BaseException) -> None:
    from napari.utils.notifications import show_error

    from ..slides.slide_errors import SlideError

    text = str(error) if isinstance(error, SlideError) else f"{type(error).__name__}: {error}"
    show_error(text if text.startswith(path.name) else f"{path.name}: could not be opened: {text}")


def _finish(then: SlideCallback | None, layer: Layer | None) -> None:
    if then is not None:
        then(layer)
