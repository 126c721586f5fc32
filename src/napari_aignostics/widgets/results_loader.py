"""Follows runs and puts finished items' results on their slides (work in threads, layers on the GUI thread)."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Callable, Generator, Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING
from weakref import WeakValueDictionary

from napari.utils.notifications import show_info, show_warning
from qtpy.QtCore import QObject, QTimer, Signal

from ..platform.results_layout import ArtifactMetadata, artifact_metadata
from ..platform.run_labels import run_label
from ..results.item_signature import Signature, item_signature
from ..results.result_layers import (
    LayerData,
    is_overview,
    layer_name,
    placeholder_overview,
    predraw_like,
)
from ..results.result_set import (
    Partial,
    ResultSet,
    find_item_folders,
    iter_results,
    loads_progressively,
)
from ..results.results_reader import plan_results
from ..slides.slide_ref import SlideRef, find_slide
from ..slides.warmup import LAYER_MODULES, use_cached_unit_registry, warm_up
from ..workflow.session import Session
from .cell_layers import CellLayers, add_unselected, make_layer, update_in_place
from .dock_registry import viewer_key
from .growing_overview import GrowingOverview
from .slide_opener import open_slide_in
from .workers import WorkerPool

if TYPE_CHECKING:
    from napari.components import ViewerModel
    from napari.layers import Layer

    from ..platform.follow import Event as FollowEvent
    from ..results.review import ReviewModel
    from .viewport import InViewCentroids


RESULT_MODULES = (*LAYER_MODULES, "pandas")
"""napari's layer modules, and pandas: pyarrow imports it on its first conversion of a Python
value (0.4 s, which delayed the first batch of cells)."""


class ResultsLoader(QObject):
    """Downloads results as items finish and adds their layers over the matching slide."""

    item_loaded = Signal(str, str)
    """run id, external id"""
    item_failed = Signal(str, str)
    """run id, external id: the item's results could not be shown (a warning said why)"""
    run_followed = Signal(str, str)
    """run id, final label (after every finished item's layers were added)"""
    cells_shown = Signal(object, object)
    """ResultSet, CellLayers: a result set with cells was added (the review panel takes it)"""
    opened = Signal(str)
    """path: results opened with File → Open were added (or reported as not readable)"""

    _by_viewer: WeakValueDictionary[int, ResultsLoader] = WeakValueDictionary()
    """The loader of each viewer (the dock's when it is open): File → Open hands results to it."""

    def __init__(self, viewer: ViewerModel, session: Session, pool: WorkerPool) -> None:
        super().__init__()
        self.viewer = viewer
        self.session = session
        self.pool = pool
        self._pending: dict[str, int] = {}
        self._finished: dict[str, str] = {}
        self._shown: dict[tuple[str, str], list[Layer]] = {}
        """The layers shown for each (run id, external id): loading an item again updates them."""
        self._loaded: dict[tuple[str, str], tuple[Signature, ResultSet]] = {}
        """What each shown item's folder held when it was read, and the result read from it."""
        self._centroids: list[InViewCentroids] = []
        """Without a review panel: the cells' centroids layers this loader fills with those in view."""
        ResultsLoader._by_viewer[viewer_key(viewer)] = self
        viewer.layers.events.removed.connect(self._layer_removed)
        use_cached_unit_registry()  # results layers carry µm units
        warm_up(RESULT_MODULES)  # loaded while the results are read, not on the first batch's path
        freeze_long_lived_heap()

    def _layer_removed(self, event: object) -> None:
        """A removed layer is forgotten here, so that its data can be freed; a slide's file closes."""
        from napari.layers import Image

        from ..slides.layers import close_slide_of

        removed = getattr(event, "value", None)
        if isinstance(removed, Image) and removed.multiscale:
            close_slide_of(removed.data)
        for follower in [f for f in self._centroids if removed in (f.layer, f.raster)]:
            follower.close()
            self._centroids.remove(follower)
        for key, layers in list(self._shown.items()):
            kept = [layer for layer in layers if layer is not removed]
            if kept:
                self._shown[key] = kept
            else:
                del self._shown[key]
            if len(kept) != len(layers):  # the item is no longer shown whole: read it again
                self._loaded.pop(key, None)

    @classmethod
    def of(cls, viewer: ViewerModel) -> ResultsLoader:
        """The viewer's loader: the dock's when it is open, else one made for File → Open."""
        loader = cls._by_viewer.get(viewer_key(viewer))
        if loader is None or viewer_key(loader.viewer) != viewer_key(viewer):
            loader = cls(viewer, Session(), WorkerPool())
            window = getattr(getattr(viewer, "window", None), "_qt_window", None)
            loader.setParent(window)  # lives as long as the viewer's window
        return loader

    # --- File → Open -----------------------------------------------------------------------------

    def open_path(self, target: Path) -> None:
        """Show a results folder or file over the open slide; parsing runs in a worker.

        The same review as results loaded from a run: the cells reach the Review tab.
        """
        plan = plan_results(target, list(self.viewer.layers))
        if plan is None:
            return
        folder, slide, name, metadata = plan
        growing = GrowingOverview(self.viewer)

        def loaded(prepared: tuple[ResultSet, list[LayerData]]) -> None:
            result, layer_data = prepared
            if not layer_data and result.problems:
                growing.discard()
                show_warning(f"{target.name}: " + "; ".join(result.problems[:5]))
                self.opened.emit(str(target))
                return
            self.add_layers(
                result,
                layer_data,
                then=lambda _layers: self.opened.emit(str(target)),
                growing=growing,
            )

        def failed(error: BaseException) -> None:
            growing.discard()
            show_warning(f"{target.name}: could not be opened: {error}")
            self.opened.emit(str(target))

        self.pool.start(
            _load_layer_data,
            folder,
            slide,
            name=name,
            metadata=metadata,
            on_done=loaded,
            on_yield=growing.update,
            on_error=failed,
        )
        # on the next turn: napari's reader call (its own open progress bar) returns first
        QTimer.singleShot(0, lambda: _start_empty(growing, folder, slide, name or folder.stem))

    # --- slides ----------------------------------------------------------------------------------

    def slide_for(self, run_id: str, external_id: str) -> SlideRef | None:
        """The slide an item belongs to: the one submitted in this session, else an open one.

        A run submitted elsewhere has no reference here: its slide is found among the open layers
        (:meth:`load_item` opens it from its path first when that file exists).
        """
        ref = self.session.slide_of(run_id, external_id)
        if ref is not None:
            return ref
        return find_slide(self.viewer.layers, external_id)

    # --- following -------------------------------------------------------------------------------

    def follow(self, run_id: str) -> None:
        """Poll the run in a worker; each finished item is downloaded and shown."""
        from ..platform.follow import ItemFailed, ItemFinished, Reconnecting, RunFinished

        self._pending[run_id] = 0

        def events() -> Iterator[FollowEvent]:
            yield from self.session.follow(run_id)

        def received(event: FollowEvent) -> None:
            if isinstance(event, ItemFinished) and event.folder is not None:
                item = event.item
                self.load_item(run_id, item.external_id, event.folder, artifact_metadata(item))
            elif isinstance(event, ItemFailed):
                item = event.item
                show_warning(
                    f"{Path(item.external_id).name}: {item.termination_reason} "
                    f"{item.error_message or ''}".strip()
                )
            elif isinstance(event, RunFinished):
                self._finished[run_id] = run_label(event.run)
                self._maybe_done(run_id)
            elif isinstance(event, Reconnecting):
                show_info(f"reconnecting to the platform in {event.delay:.0f} s ({event.error})")

        self.pool.start(events, on_yield=received)

    def load_run(self, run_id: str) -> None:
        """Download (verified, skipping what is there) and show every item of a run."""
        self._pending[run_id] = 0

        def done(folder: Path) -> None:
            try:
                entries = find_item_folders(folder)
            except ValueError as exc:  # a damaged manifest: the message names it
                show_warning(str(exc))
                entries = []
            if not entries:
                show_warning(
                    f"Run {run_id[:8]}: no results to load (deleted, or none finished yet)."
                )
            for external_id, item_dir, meta in entries:
                self.load_item(run_id, external_id, item_dir, meta)
            self._finished[run_id] = "loaded"
            self._maybe_done(run_id)

        self.pool.start(self.session.download, run_id, on_done=done)

    def load_item(
        self,
        run_id: str,
        external_id: str,
        folder: Path,
        metadata: dict[str, ArtifactMetadata],
        open_slide: bool = True,
    ) -> None:
        """Show one item's results on its slide (opened from its path first when not open yet).

        Loading an item again changes its layers in place (no second copy, no new visuals), and
        does nothing but hand the cells on when its folder did not change.
        """
        key = (run_id, external_id)
        slide = self.slide_for(run_id, external_id)
        self._pending[run_id] = self._pending.get(run_id, 0) + 1
        if slide is None and open_slide and Path(external_id).is_file():

            def opened(_layer: Layer | None) -> None:
                self._pending[run_id] -= 1
                self.load_item(run_id, external_id, folder, metadata, open_slide=False)

            open_slide_in(self.viewer, Path(external_id), then=opened)
            return
        name = Path(external_id).stem
        signature = item_signature(folder)
        old = self._shown.get(key, [])
        before = self._loaded.get(key)
        if before is not None and before[0] == signature and old:
            QTimer.singleShot(0, lambda: self._unchanged(run_id, external_id, before[1], old))
            return
        growing = GrowingOverview(self.viewer)
        growing.adopt(CellLayers.among(old).raster)

        def loaded(prepared: tuple[ResultSet, list[LayerData]]) -> None:
            result, layer_data = prepared
            stale = self._shown.pop(key, [])
            self._loaded.pop(key, None)
            self.add_layers(
                result,
                layer_data,
                then=lambda layers: shown(result, layers),
                growing=growing,
                reuse=stale,
            )

        def shown(result: ResultSet, layers: list[Layer]) -> None:
            self._shown[key] = layers
            self._loaded[key] = (signature, result)
            self._pending[run_id] -= 1
            self.item_loaded.emit(run_id, external_id)
            self._maybe_done(run_id)

        def failed(error: BaseException) -> None:
            growing.discard()
            show_warning(f"{name}: the results could not be shown: {error}")
            self._pending[run_id] -= 1
            self.item_failed.emit(run_id, external_id)
            self._maybe_done(run_id)

        self.pool.start(
            _load_layer_data,
            folder,
            slide,
            name=name,
            metadata=metadata,
            on_done=loaded,
            on_yield=growing.update,
            on_error=failed,
        )
        if not old:
            _start_empty(growing, folder, slide, name)

    def _unchanged(
        self, run_id: str, external_id: str, result: ResultSet, layers: list[Layer]
    ) -> None:
        """An item loaded again whose folder did not change: its layers stay as they are."""
        if result.review is not None:
            self.cells_shown.emit(result, CellLayers.among(layers))
        self._pending[run_id] -= 1
        self.item_loaded.emit(run_id, external_id)
        self._maybe_done(run_id)

    def _maybe_done(self, run_id: str) -> None:
        if run_id in self._finished and self._pending.get(run_id, 0) == 0:
            label = self._finished.pop(run_id)
            self._pending.pop(run_id, None)
            self.run_followed.emit(run_id, label)

    def remove_layers(self, layers: Sequence[Layer]) -> None:
        """Remove layers in one batch: napari then cleans up (a full ``gc.collect()``) once, not per layer."""
        batch = getattr(self.viewer.layers, "batched_update", contextlib.nullcontext)
        with batch():
            for layer in layers:
                if layer in self.viewer.layers:
                    self.viewer.layers.remove(layer)

    def add_layers(
        self,
        result: ResultSet,
        prepared: list[LayerData] | None = None,
        then: Callable[[list[Layer]], None] | None = None,
        growing: GrowingOverview | None = None,
        reuse: Sequence[Layer] = (),
    ) -> None:
        """Add a result set's layers on the GUI thread, one per event-loop turn (no long freeze).

        ``prepared`` is the result's layer data when a worker has made it already. When all are
        added, :attr:`cells_shown` hands the cells on and ``then`` gets the layers. The cells'
        overview that ``growing`` showed while they loaded becomes their overview layer. Layers
        in ``reuse`` (the item's layers from before) take the data of the same name and kind in
        place; the others of them are removed in one batch.
        """
        layers: list[Layer] = []
        kept = {layer.name: layer for layer in reuse if layer in self.viewer.layers}
        if growing is not None and growing.layer is not None:
            kept = {n: lay for n, lay in kept.items() if lay is not growing.layer}

        def add(data: LayerData) -> None:
            grown = growing is not None and growing.layer is not None and is_overview(data)
            layer = growing.take(data) if grown and growing is not None else None
            old = kept.pop(data[1]["name"], None)
            if layer is None and old is not None and update_in_place(old, data):
                layer = old
            elif old is not None:
                kept[old.name] = old  # removed with the others
            if layer is None:
                layer = make_layer(data)
                add_unselected(self.viewer, layer)
            layers.append(layer)

        def finish() -> None:
            self.remove_layers(list(kept.values()))
            for problem in result.problems[:5]:
                show_warning(problem)
            if result.review is not None:
                cells = CellLayers.among(layers)
                if not self.receivers(self.cells_shown):  # no dock: File → Open alone
                    self._follow_view(result.review, cells)
                self.cells_shown.emit(result, cells)
            show_info(f"{result.name}: results added ({len(layers)} layers)")
            if then is not None:
                then(layers)

        data = result.layer_data() if prepared is None else prepared
        _in_turns([partial(add, item) for item in data], finish)

    def _follow_view(self, review: ReviewModel, cells: CellLayers) -> None:
        """The centroids layer draws the cells in view whenever it is visible (as with the dock)."""
        from .viewport import InViewCentroids

        for old in [f for f in self._centroids if f.layer is cells.centroids]:
            old.close()  # the item was loaded again into the same layer
            self._centroids.remove(old)
        if cells.centroids is not None and cells.raster is not None:
            follower = InViewCentroids(self.viewer, cells.centroids, cells.raster, review, self.pool)
            follower.key = f"{follower.key} {id(cells.centroids)}"  # one query per result set
            self._centroids.append(follower)


_HEAP_FROZEN = False


def freeze_long_lived_heap() -> None:
    """Move the objects alive now (napari, Qt, imported modules) out of the garbage collector's reach.

    napari runs a full ``gc.collect()`` after every layer removal; with the long-lived heap frozen
    once, a collection traverses only objects made later (results and their layers), so it takes
    milliseconds instead of a freeze of the window. Later objects are collected as before.
    """
    global _HEAP_FROZEN
    if not _HEAP_FROZEN:
        _HEAP_FROZEN = True
        gc.freeze()


def _start_empty(growing: GrowingOverview, folder: Path, slide: SlideRef | None, name: str) -> None:
    """Cells that load in batches: their overview is added empty now, while the worker (started
    first) reads the first batch."""
    if loads_progressively(folder):
        mpp = slide.mpp if slide is not None else None
        growing.start(placeholder_overview(layer_name(name, "cells"), mpp))


def _in_turns(steps: Sequence[Callable[[], None]], then: Callable[[], None]) -> None:
    """Run ``steps`` one per event-loop turn, then ``then``: the window repaints in between."""
    if not steps:
        then()
        return
    steps[0]()
    rest = steps[1:]
    QTimer.singleShot(0, lambda: _in_turns(rest, then))


def _load_layer_data(
    folder: Path,
    slide: SlideRef | None,
    name: str | None,
    metadata: dict[str, ArtifactMetadata] | None,
) -> Generator[Partial, None, tuple[ResultSet, list[LayerData]]]:
    """In a worker: the results of one item placed on ``slide``, and their layer data; the
    cells read so far are yielded while a big cell file loads.

    Each next overview comes with the tiles napari last drew of the one before already drawn,
    and with the cells' spatial index and centroid grid: the GUI thread only looks colours up.
    """
    mpp, size = (slide.mpp, slide.size) if slide is not None else (None, None)
    steps = iter_results(folder, mpp, size, name=name, metadata=metadata)
    shown: LayerData | None = None
    while True:
        try:
            step = next(steps)
        except StopIteration as finished:
            result: ResultSet = finished.value
            break
        if shown is not None:
            predraw_like(step.overview, shown)
        shown = step.overview
        yield step
    if result.cells is not None:
        _ = result.cells.index, result.cells.centroid_grid
    layer_data = result.layer_data()
    if shown is not None:
        for data in filter(is_overview, layer_data):
            predraw_like(data, shown)
    return result, layer_data
