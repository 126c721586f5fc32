"""Camera glue: show the outlines (or centroids) of only the cells in view when zoomed in.

The query (grid index) and vertex preparation are Qt-free (``ReviewModel.in_view`` and
``layers.shapes_data``); this module runs them in the panel's worker pool on debounced camera changes,
drops stale answers and swaps the Shapes layer's data on the main thread.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import numpy as np

from ..results.coords import to_data
from ..results.result_layers import shapes_data
from ..results.review import ReviewModel
from .workers import WorkerPool

if TYPE_CHECKING:
    from napari.components import ViewerModel
    from napari.layers import Labels, Points, Shapes

__all__ = ["InViewCentroids", "InViewOutlines", "view_bounds"]

MAX_VIEW_PX = 3000.0
"""Outlines appear when the view spans at most this many level-0 pixels."""


def view_bounds(raster: Labels) -> tuple[float, float, float, float]:
    """The level-0 (minx, miny, maxx, maxy) in view, from the overview raster's visible corners.

    Level ``k`` of the raster has one pixel per ``2**k`` level-0 pixels.
    """
    corners = np.asarray(raster.corner_pixels, dtype=float)[:, -2:]
    factor = 2.0 ** int(getattr(raster, "data_level", 0))
    (y0, x0), (y1, x1) = corners * factor
    return float(x0), float(y0), float(x1), float(y1)


class InViewOutlines:
    """Keeps a Shapes layer filled with the shown cells inside the view."""

    def __init__(
        self,
        viewer: ViewerModel,
        layer: Shapes | Points,
        raster: Labels,
        review: ReviewModel,
        pool: WorkerPool,
        cap: int = 5000,
    ) -> None:
        from qtpy.QtCore import QTimer

        self.viewer, self.raster, self.review = viewer, raster, review
        self.layer = layer
        self.pool, self.cap = pool, cap
        self._generation = 0
        self.closed = False
        self._timer = QTimer()
        self._timer.setSingleShot(True)
        self._timer.setInterval(150)
        self._timer.timeout.connect(self.refresh)
        viewer.camera.events.center.connect(self._schedule)
        viewer.camera.events.zoom.connect(self._schedule)

    def close(self) -> None:
        """Stop following the camera and drop pending answers (the layers are going away)."""
        self._timer.stop()
        self._generation += 1
        self.pool.drop(self.key)
        for emitter in (self.viewer.camera.events.center, self.viewer.camera.events.zoom):
            emitter.disconnect(self._schedule)
        self.closed = True

    def _schedule(self, *_: Any) -> None:
        if not self.closed:
            self._timer.start()

    def refresh(self) -> None:
        """Query the view in a worker; apply the answer unless a newer one was asked for.

        Nothing while the layer is hidden: it is refreshed when shown again.
        """
        if self.closed or not self.layer.visible:
            return
        bounds = view_bounds(self.raster)
        self._generation += 1
        generation = self._generation
        if bounds[2] - bounds[0] > MAX_VIEW_PX:
            self._apply(generation, ([], np.zeros((0, 4))))
            return

        review, cap = self.review, self.cap
        self.pool.start(
            lambda: self.query(review, bounds, cap),
            key=self.key,
            on_done=lambda result: self._apply(generation, result),
        )

    key = "in-view"
    """The worker pool key of this view's queries (a newer query supersedes an older one)."""

    @staticmethod
    def query(
        review: ReviewModel, bounds: tuple[float, float, float, float], cap: int
    ) -> tuple[list[np.ndarray], np.ndarray]:
        """In a worker: the outlines of the shown cells in ``bounds`` and their colours."""
        indices = review.in_view(bounds, cap)
        return shapes_data(review.table, indices), review.face_colors(indices)

    def _apply(self, generation: int, result: tuple[list[np.ndarray], np.ndarray]) -> None:
        if generation != self._generation or self.closed:
            return  # a newer view was asked for meanwhile, or the layers are gone
        self.show(*result)

    def show(self, data: list[np.ndarray], colors: np.ndarray) -> None:
        """On the main thread: the layer takes the answer."""
        layer = cast("Shapes", self.layer)
        layer.data = []
        if data:
            layer.add_polygons(data, edge_color=colors, face_color="transparent")


class InViewCentroids(InViewOutlines):
    """Keeps a small Points layer filled with the centroids of the shown cells inside the view.

    A change of a million-point layer costs napari seconds on the main thread (every point's
    symbol, colour and position sent again); the view holds at most ``cap`` cells, so a class
    toggle, a correction or a colour change costs what those few cost.
    """

    key = "in-view-centroids"

    @staticmethod
    def query(  # type: ignore[override]
        review: ReviewModel, bounds: tuple[float, float, float, float], cap: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """In a worker: the (row, col) data of the shown cells' centroids in ``bounds``, colours."""
        indices = review.in_view(bounds, cap)
        return to_data(review.table.centroids[indices]), review.face_colors(indices)

    def show(self, data: np.ndarray, colors: np.ndarray) -> None:  # type: ignore[override]
        """On the main thread: the points and their colours in one data change."""
        layer = cast("Points", self.layer)
        layer.data = data
        if len(data):
            layer.face_color = colors
