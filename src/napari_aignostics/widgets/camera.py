"""The viewer's camera, where the running napari keeps it.

napari 0.9 moved it to ``viewer.scene.camera``; ``viewer.camera`` still works there but raises a
deprecation warning at every read, which napari hands to its notification handler on the main
thread (seen in stack samples of a pan). Earlier napari has only ``viewer.camera``.
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
