"""The overview of cells that are still loading: drawn with the first batch, refreshed per batch."""

from __future__ import annotations

from typing import TYPE_CHECKING

from qtpy.QtCore import QTimer

from ..results.result_layers import LayerData, is_overview
from ..results.result_set import Partial
from .cell_layers import add_unselected, make_layer

if TYPE_CHECKING:
    from napari.components import ViewerModel
    from napari.layers import Layer
    from napari.utils import progress


class GrowingOverview:
    """One result's cell overview while its file is read: an RGBA layer and a progress bar.

    :meth:`start` may add the layer empty as the open starts (napari makes the layer and its
    visual, seconds on a busy machine, while the worker reads); :meth:`update` takes each
    :class:`Partial` (GUI thread; the raster was made in the worker);
    when the whole result lands, :meth:`take` hands the layer over as the final overview, so the
    window never removes and re-adds it.
    """

    def __init__(self, viewer: ViewerModel) -> None:
        self.viewer = viewer
        self.layer: Layer | None = None
        self.bar: progress | None = None
        self._in_bar = False
        """The bar is changing: napari runs queued events then, this object's own among them."""
        self._closing = False
        self._moved: tuple[str, int] | None = None
        self._empty = False
        """The layer is the placeholder :meth:`start` added: no cells shown yet."""
        self._adopted = False
        """The layer is the item's overview from an earlier load: kept if this load fails."""

    def adopt(self, layer: Layer | None) -> None:
        """Fill ``layer`` (the item's overview from an earlier load) instead of adding one."""
        if layer is not None and self.layer is None and layer in self.viewer.layers:
            self.layer, self._adopted = layer, True

    def start(self, placeholder: LayerData) -> None:
        """Add the empty overview now, unless the first cells were shown already (or the load
        ended)."""
        if self.layer is not None or self._closing:
            return
        self.layer = make_layer(placeholder)
        add_unselected(self.viewer, self.layer)
        self._empty = True

    def update(self, step: Partial) -> None:
        """Show the cells read so far and how far the file is read.

        napari's progress bar runs queued events when it changes, so the next step or the whole
        result may be handled in the middle of this one: the layer is settled first, and the bar
        is closed only after it finished changing.
        """
        if self.layer is not None and not self._fits(step.overview, self.layer):
            self._drop()
        if self.layer is None or self.layer not in self.viewer.layers:
            self.layer = make_layer(step.overview)
            add_unselected(self.viewer, self.layer)
        else:
            self._fill(self.layer, step.overview)
        self._moved = (f"{step.name}: {step.cells:,} cells", int(step.done * 100))
        QTimer.singleShot(0, self._move_bar)

    def _move_bar(self) -> None:
        """The bar follows the latest step (from the event loop: changing it runs queued events)."""
        from napari.utils import progress

        if self._in_bar or self._closing or self._moved is None:
            return
        text, percent = self._moved
        self._in_bar = True
        try:
            if self.bar is None:
                self.bar = progress(total=100)
            self.bar.set_description(text)
            self.bar.update(percent - self.bar.n)
        finally:
            self._in_bar = False
        if self._closing:
            self.close()

    def take(self, data: LayerData) -> Layer | None:
        """The growing layer, now showing ``data`` when it is the same layer's final data."""
        layer, self.layer = self.layer, None
        self.close()
        if layer is None or layer not in self.viewer.layers:
            return None
        if not is_overview(data) or not self._fits(data, layer):
            self.viewer.layers.remove(layer)
            return None
        self._fill(layer, data)
        layer.name = data[1]["name"]
        return layer

    @staticmethod
    def _fits(data: LayerData, layer: Layer) -> bool:
        """``layer`` can show ``data``: napari cannot switch a layer to or from multiscale."""
        return bool(getattr(layer, "multiscale", False)) == bool(data[1].get("multiscale"))

    def _fill(self, layer: Layer, data: LayerData) -> None:
        """:meth:`_refresh`; the placeholder also takes the overview's opacity when first filled."""
        self._refresh(layer, data)
        if self._empty:
            self._empty = False
            layer.opacity = data[1]["opacity"]

    def discard(self) -> None:
        """The load failed: the partial overview goes (an adopted one stays)."""
        if self._adopted:
            self.layer = None
        self._drop()
        self.close()

    def _drop(self) -> None:
        if self.layer is not None and self.layer in self.viewer.layers:
            self.viewer.layers.remove(self.layer)
        self.layer = None
        self._empty = False

    def close(self) -> None:
        """Close the progress bar (once the bar is no longer in the middle of a change)."""
        self._closing = True
        if self._in_bar:
            return
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    @staticmethod
    def _refresh(layer: Layer, data: LayerData) -> None:
        """Show ``data`` (its levels bring their own palette)."""
        values, kwargs, _kind = data
        layer.data = values
        layer.metadata = {**layer.metadata, **kwargs.get("metadata", {})}
