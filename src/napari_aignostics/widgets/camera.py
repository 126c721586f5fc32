"""The viewer's camera, where the running napari keeps it.

napari 0.9 moved it to ``viewer.scene.camera``; ``viewer.camera`` still works there but warns on
every access, and napari routes each warning through its notification machinery on the main
thread (measured while panning: part of the longest main-thread gaps). Earlier napari has only
``viewer.camera``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from napari.components import Camera, ViewerModel

__all__ = ["camera_of"]


def camera_of(viewer: ViewerModel) -> Camera:
    """``viewer.scene.camera`` where napari has a scene, else ``viewer.camera``."""
    scene = getattr(viewer, "scene", None)
    camera: Camera = scene.camera if scene is not None else viewer.camera
    return camera
