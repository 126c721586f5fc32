"""Camera glue: show the outlines (or centroids) of only the cells in view when zoomed in.

The query (grid index) and the drawing are Qt-free (``ReviewModel.in_view`` and
``outlines.draw_outlines``); this module runs them in the panel's worker pool on debounced camera
changes, drops stale answers and swaps the answer in on the main thread (one texture upload for the
outline image, one data change for the centroids).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from ..results.coords import to_data
from ..results.outlines import OutlineImage, draw_outlines, empty_outlines
from ..results.review import ReviewModel
from .camera import camera_of
from .workers import WorkerPool

if TYPE_CHECKING:
    from napari.components import ViewerModel
    from napari.layers import Image, Points

__all__ = ["InViewCentroids", "InViewOutlines", "camera_bounds", "view_bounds"]

MAX_VIEW_PX = 3000.0
"""Outlines appear when the view spans at most this many level-0 pixels."""
SETTLE_MS = 30
"""Redraw this long after the camera's last move (a pan moves it every frame)."""
MIN_PIXEL = 0.125
"""Finest outline image: 8 image pixels per level-0 pixel."""
MAX_IMAGE_PX = 4096
"""Largest side of the outline image (a canvas not drawn yet reports the whole slide in view)."""
MARGIN = 0.25
"""The outline image reaches this fraction of the view's width and height beyond each side."""


def view_bounds(raster: Image) -> tuple[float, float, float, float]:
    """The level-0 (minx, miny, maxx, maxy) in view, from the overview raster's visible corners.

    Level ``k`` of the raster has one pixel per ``2**k`` level-0 pixels.
    """
    corners = np.asarray(raster.corner_pixels, dtype=float)[:, -2:]
    factor = 2.0 ** int(getattr(raster, "data_level", 0))
    (y0, x0), (y1, x1) = corners * factor
    return float(x0), float(y0), float(x1), float(y1)


def camera_bounds(viewer: ViewerModel, raster: Image) -> tuple[float, float, float, float]:
    """The level-0 (minx, miny, maxx, maxy) in view, from the camera and the canvas size.

    Unlike :func:`view_bounds`, right at once after a camera change (the raster's corner pixels
    follow only when the canvas next draws); clipped to the raster.
    """
    canvas = getattr(viewer, "canvas", None)  # napari >= 0.9 keeps the canvas size in the model
    if canvas is None:
        return view_bounds(raster)
    height, width = canvas.size
    camera = camera_of(viewer)
    zoom = camera.zoom
    y, x = camera.center[-2:]
    corners = [
        raster.world_to_data((y + dy * height / 2 / zoom, x + dx * width / 2 / zoom))[-2:]
        for dy, dx in ((-1, -1), (1, 1))
    ]
    (r0, c0), (r1, c1) = np.asarray(corners) + 0.5  # napari data → level-0 pixel edges
    rows, cols = (float(n) for n in raster.level_shapes[0][-2:])
    return max(0.0, c0), max(0.0, r0), min(cols, c1), min(rows, r1)


Bounds = tuple[float, float, float, float]


def _grown(bounds: Bounds, by: float, limit: Bounds) -> Bounds:
    """``bounds`` grown by ``by`` times its width and height on every side, clipped to ``limit``."""
    x0, y0, x1, y1 = bounds
    dx, dy = (x1 - x0) * by, (y1 - y0) * by
    return (
        max(limit[0], x0 - dx),
        max(limit[1], y0 - dy),
        min(limit[2], x1 + dx),
        min(limit[3], y1 + dy),
    )


def _covers(extent: Bounds | None, bounds: Bounds) -> bool:
    """Whether ``extent`` holds all of ``bounds``."""
    if extent is None:
        return False
    return (
        extent[0] <= bounds[0]
        and extent[1] <= bounds[1]
        and extent[2] >= bounds[2]
        and extent[3] >= bounds[3]
    )


class InViewOutlines:
    """Keeps an RGBA image layer showing the outlines of the shown cells inside the view.

    The image reaches ``margin`` of the view's size beyond each side: while the camera pans, a new
    one is drawn ahead when the view comes within half that margin of its edge, so when the pan
    settles the outlines of the new view are usually in place already.
    """

    margin = MARGIN

    def __init__(
        self,
        viewer: ViewerModel,
        layer: Image | Points,
        raster: Image,
        review: ReviewModel,
        pool: WorkerPool,
        cap: int = 20000,
    ) -> None:
        from qtpy.QtCore import QTimer

        self.viewer, self.layer, self.raster, self.review = viewer, layer, raster, review
        self.pool, self.cap = pool, cap
        self._generation = 0
        self.closed = False
        self.extent: Bounds | None = None
        """Level-0 bounds of what is shown (``None``: nothing, or not known to be current)."""
        self._pixel = 0.0
        self._pending: tuple[Bounds, float] | None = None
        self._timer = QTimer()
        self._timer.setSingleShot(True)
        self._timer.setInterval(SETTLE_MS)
        self._timer.timeout.connect(self._settle)
        camera = camera_of(viewer)
        camera.events.center.connect(self._schedule)
        camera.events.zoom.connect(self._schedule)
        layer.events.visible.connect(self._visible_changed)

    def close(self) -> None:
        """Stop following the camera and drop pending answers (the layers are going away)."""
        self._timer.stop()
        self._generation += 1
        self.pool.drop(self.key)
        events = camera_of(self.viewer).events
        for emitter in (events.center, events.zoom):
            emitter.disconnect(self._schedule)
        self.layer.events.visible.disconnect(self._visible_changed)
        self.closed = True

    def _visible_changed(self, *_: Any) -> None:
        """Shown (from the panel or the layer list): draw the view unless that is under way."""
        if self.layer.visible and self.extent is None and self._pending is None:
            self.refresh()

    def _schedule(self, *_: Any) -> None:
        if self.closed:
            return
        self._timer.start()
        if self.margin and self.layer.visible:
            self._follow(ahead=True)

    def _settle(self) -> None:
        if not self.margin or not self._follow(ahead=False):
            self.refresh()

    def _follow(self, ahead: bool) -> bool:
        """Draw ahead unless what is shown (or being drawn) still holds the view; whether it does.

        ``ahead``: while panning, the view plus half the margin must be held.
        """
        bounds = camera_bounds(self.viewer, self.raster)
        if not self._drawable(bounds):
            return False
        pixel = self.pixel_size(bounds)
        need = _grown(bounds, self.margin / 2, self._limit()) if ahead else bounds
        for extent, drawn in ((self.extent, self._pixel), self._pending or (None, 0.0)):
            if drawn == pixel and _covers(extent, need):
                return True
        if ahead:
            self._start(bounds, pixel)
        return False

    key = "in-view"
    """The worker pool key of this view's queries (a newer query supersedes an older one)."""

    def refresh(self) -> None:
        """Query the view in a worker; apply the answer unless a newer one was asked for.

        Nothing while the layer is hidden: it is refreshed when shown again.
        """
        if self.closed or not self.layer.visible:
            self.extent = None
            return
        bounds = camera_bounds(self.viewer, self.raster)
        if not self._drawable(bounds):
            self._generation += 1
            self._pending = None
            self.show(self.empty())
            self.extent = None
            return
        self._start(bounds, self.pixel_size(bounds))

    def _start(self, bounds: Bounds, pixel: float) -> None:
        self._generation += 1
        generation = self._generation
        area = _grown(bounds, self.margin, self._limit())
        self._pending = (area, pixel)
        self.pool.start(
            self.job(bounds, area, pixel),
            key=self.key,
            on_done=lambda result: self._apply(generation, result),
        )

    @staticmethod
    def _drawable(bounds: Bounds) -> bool:
        return (
            bounds[2] - bounds[0] <= MAX_VIEW_PX and bounds[2] > bounds[0] and bounds[3] > bounds[1]
        )

    def _limit(self) -> Bounds:
        rows, cols = (float(n) for n in self.raster.level_shapes[0][-2:])
        return 0.0, 0.0, cols, rows

    def pixel_size(self, bounds: Bounds) -> float:
        """Level-0 pixels per image pixel: one per screen pixel, within the image's limits."""
        # the camera's zoom is screen pixels per world unit
        screen = 1.0 / (camera_of(self.viewer).zoom * float(self.raster.scale[-1]))
        widest = (
            (1 + 2 * self.margin) * max(bounds[2] - bounds[0], bounds[3] - bounds[1]) / MAX_IMAGE_PX
        )
        return max(MIN_PIXEL, screen, widest)

    def _apply(self, generation: int, result: Any) -> None:
        if generation != self._generation or self.closed:
            return  # a newer view was asked for meanwhile, or the layers are gone
        self._pending = None
        self.show(result)

    def empty(self) -> OutlineImage:
        """The answer for a view too wide (or empty) to show single cells."""
        return empty_outlines()

    def job(self, bounds: Bounds, area: Bounds, pixel: float) -> Callable[[], OutlineImage]:
        """The worker's job: the outlines of the cells in ``area``, or in ``bounds`` (the view)
        alone when ``area`` holds more than ``cap`` cells."""
        review, cap = self.review, self.cap

        def draw() -> OutlineImage:
            indices, drawn = review.in_view(area, cap + 1), area
            if len(indices) > cap:
                indices, drawn = review.in_view(bounds, cap), bounds
            return draw_outlines(review.table, indices, review.face_colors(indices), drawn, pixel)

        return draw

    def show(self, image: OutlineImage) -> None:
        """On the main thread: the outline image and its placement in one refresh."""
        layer = cast("Image", self.layer)
        sy, sx = (float(s) for s in self.raster.scale[-2:])
        x0, y0 = image.origin
        half = image.pixel / 2 - 0.5  # image pixel centres in napari data coordinates
        # placement and pixels land in one refresh, and the viewer re-derives its dims once (from
        # the data change) instead of once per scale, translate and data change (~40 ms each)
        viewer = getattr(self.viewer, "__wrapped__", self.viewer)  # napari hands docks a proxy
        dims = getattr(viewer, "_on_layers_change", None)
        events = layer.events
        with layer._block_refresh(), ExitStack() as blockers:
            if dims is not None:
                blockers.enter_context(events.scale.blocker(dims))
                blockers.enter_context(events.translate.blocker(dims))
            layer.scale = (image.pixel * sy, image.pixel * sx)
            layer.translate = ((y0 + half) * sy, (x0 + half) * sx)
        layer.data = image.rgba
        layer.metadata["cells_drawn"] = image.count
        rows, cols = image.rgba.shape[:2]
        self.extent = (x0, y0, x0 + cols * image.pixel, y0 + rows * image.pixel)
        self._pixel = image.pixel


Centroids = tuple[np.ndarray, np.ndarray]


class InViewCentroids(InViewOutlines):
    """Keeps a small Points layer filled with the centroids of the shown cells inside the view.

    A change of a million-point layer costs napari seconds on the main thread (every point's
    symbol, colour and position sent again); the view holds at most ``cap`` cells, so a class
    toggle, a correction or a colour change costs what those few cost.
    """

    key = "in-view-centroids"
    margin = 0.0

    def empty(self) -> Centroids:  # type: ignore[override]
        return np.zeros((0, 2)), np.zeros((0, 4))

    def job(self, bounds: Bounds, area: Bounds, pixel: float) -> Callable[[], Centroids]:  # type: ignore[override]
        review, cap = self.review, self.cap

        def query() -> Centroids:
            indices = review.in_view(bounds, cap)
            return to_data(review.table.centroids[indices]), review.face_colors(indices)

        return query

    def show(self, result: Centroids) -> None:  # type: ignore[override]
        """On the main thread: the points and their colours in one data change."""
        data, colors = result
        layer = cast("Points", self.layer)
        layer.data = data
        if len(data):
            layer.face_color = colors
