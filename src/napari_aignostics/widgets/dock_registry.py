"""Docks still building their panels, per viewer: File → Open made meanwhile waits for the dock's
results loader, so the results reach its Review tab as they do once the dock is built."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING
from weakref import WeakValueDictionary

if TYPE_CHECKING:
    from napari.components import ViewerModel

    from .dock import AignosticsWidget

__all__ = ["after_dock_built", "dock_building", "viewer_key"]

_BUILDING: WeakValueDictionary[int, AignosticsWidget] = WeakValueDictionary()


def viewer_key(viewer: ViewerModel) -> int:
    """One key per viewer, whether napari hands it to a plugin widget wrapped in a proxy or not."""
    return id(getattr(viewer, "__wrapped__", viewer))


def dock_building(viewer: ViewerModel, dock: AignosticsWidget) -> None:
    """``dock`` builds its panels in turns for ``viewer`` (until it emits ``ready``)."""
    _BUILDING[viewer_key(viewer)] = dock


def after_dock_built(viewer: ViewerModel, then: Callable[[], None]) -> None:
    """Call ``then`` once the viewer's dock has built its panels: at once when none is building,
    and also when the dock is closed before it is built (then nothing waits in vain)."""
    dock = _BUILDING.get(viewer_key(viewer))
    if dock is None or dock.is_ready():
        then()
        return
    called: list[bool] = []

    def once(*_: object) -> None:
        if not called:
            called.append(True)
            then()

    dock.ready.connect(once)
    dock.destroyed.connect(once)
