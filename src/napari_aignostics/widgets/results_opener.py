"""npe2 reader for results in a viewer: File → Open returns at once, the results follow from a worker."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ..results import results_reader
from ..slides.layers import LayerData

if TYPE_CHECKING:
    from napari.components import ViewerModel

ReaderAnswer = list[LayerData] | list[tuple[None]]
NO_LAYERS_YET: list[tuple[None]] = [(None,)]
"""npe2's "read, no layers to add" answer (its null-layer sentinel): the loader adds them later."""


def get_reader(path: str | list[str]) -> Callable[[str | list[str]], ReaderAnswer] | None:
    """The results reader when ``path`` holds results, or None to let other readers try."""
    return read_results if results_reader.get_reader(path) is not None else None


def read_results(path: str | list[str]) -> ReaderAnswer:
    """Hand the results to the viewer's loader (parsed in a worker, layers added in turns).

    Without a viewer window (headless use), the results are read at once instead. While the
    dock is still building its panels, they wait for its loader (and so reach its Review tab).
    """
    import napari

    assert isinstance(path, str)
    viewer = napari.current_viewer()
    if viewer is None:
        return results_reader.read_results(path)
    from .dock_registry import after_dock_built

    after_dock_built(viewer, lambda: _open(viewer, Path(path)))
    return NO_LAYERS_YET


def _open(viewer: ViewerModel, path: Path) -> None:
    from .results_loader import ResultsLoader

    ResultsLoader.of(viewer).open_path(path)
