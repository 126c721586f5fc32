"""Follows runs and puts finished items' results on their slides (work in threads, layers on the GUI thread)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from napari.utils.notifications import show_info, show_warning
from qtpy.QtCore import QObject, Signal

from ..platform.results_layout import ArtifactMetadata, artifact_metadata
from ..platform.run_labels import run_label
from ..results.result_layers import LayerData
from ..results.result_set import ResultSet, find_item_folders, load_results
from ..slides.slide_ref import SlideRef, find_slide
from ..workflow.session import Session
from .cell_layers import CellLayers
from .workers import WorkerPool

if TYPE_CHECKING:
    from napari.components import ViewerModel
    from napari.layers import Layer

    from ..platform.follow import Event as FollowEvent


class ResultsLoader(QObject):
    """Downloads results as items finish and adds their layers over the matching slide."""

    item_loaded = Signal(str, str)
    """run id, external id"""
    run_followed = Signal(str, str)
    """run id, final label (after every finished item's layers were added)"""
    cells_shown = Signal(object, object)
    """ResultSet, CellLayers: a result set with cells was added (the review panel takes it)"""

    def __init__(self, viewer: ViewerModel, session: Session, pool: WorkerPool) -> None:
        super().__init__()
        self.viewer = viewer
        self.session = session
        self.pool = pool
        self._pending: dict[str, int] = {}
        self._finished: dict[str, str] = {}
        self._shown: dict[tuple[str, str], list[Layer]] = {}
        """The layers shown for each (run id, external id): loading an item again replaces them."""
        viewer.layers.events.removed.connect(self._layer_removed)

    def _layer_removed(self, event: object) -> None:
        """A removed layer is forgotten here, so that its data can be freed; a slide's file closes."""
        from napari.layers import Image

        from ..slides.layers import close_slide_of

        removed = getattr(event, "value", None)
        if isinstance(removed, Image) and removed.multiscale:
            close_slide_of(removed.data)
        for key, layers in list(self._shown.items()):
            kept = [layer for layer in layers if layer is not removed]
            if kept:
                self._shown[key] = kept
            else:
                del self._shown[key]

    # --- slides ----------------------------------------------------------------------------------

    def slide_for(self, run_id: str, external_id: str) -> SlideRef | None:
        """The slide an item belongs to: the one submitted in this session, else an open one.

        A run submitted elsewhere has no reference here: its slide is found among the open layers,
        or opened from its path when that file exists.
        """
        ref = self.session.slide_of(run_id, external_id)
        if ref is not None:
            return ref
        ref = find_slide(self.viewer.layers, external_id)
        if ref is None and Path(external_id).is_file():
            self.viewer.open(external_id, plugin="napari-aignostics")
            ref = find_slide(self.viewer.layers, external_id)
        return ref

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
                self._load_item(run_id, item.external_id, event.folder, artifact_metadata(item))
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
                self._load_item(run_id, external_id, item_dir, meta)
            self._finished[run_id] = "loaded"
            self._maybe_done(run_id)

        self.pool.start(self.session.download, run_id, on_done=done)

    def load_item(
        self, run_id: str, external_id: str, folder: Path, metadata: dict[str, ArtifactMetadata]
    ) -> None:
        """Show one item's results on its slide (opened from its path when not open yet)."""
        self._load_item(run_id, external_id, folder, metadata)

    def _load_item(
        self,
        run_id: str,
        external_id: str,
        folder: Path,
        metadata: dict[str, ArtifactMetadata],
    ) -> None:
        slide = self.slide_for(run_id, external_id)
        self._pending[run_id] = self._pending.get(run_id, 0) + 1
        name = Path(external_id).stem

        def loaded(prepared: tuple[ResultSet, list[LayerData]]) -> None:
            for old in self._shown.pop((run_id, external_id), []):
                if old in self.viewer.layers:
                    self.viewer.layers.remove(old)
            self._shown[(run_id, external_id)] = self.add_layers(*prepared)
            self._pending[run_id] -= 1
            self.item_loaded.emit(run_id, external_id)
            self._maybe_done(run_id)

        def failed(error: BaseException) -> None:
            show_warning(f"{name}: the results could not be shown: {error}")
            self._pending[run_id] -= 1
            self._maybe_done(run_id)

        self.pool.start(
            _load_layer_data,
            folder,
            slide,
            name=name,
            metadata=metadata,
            on_done=loaded,
            on_error=failed,
        )

    def _maybe_done(self, run_id: str) -> None:
        if run_id in self._finished and self._pending.get(run_id, 0) == 0:
            label = self._finished.pop(run_id)
            self._pending.pop(run_id, None)
            self.run_followed.emit(run_id, label)

    def add_layers(self, result: ResultSet, prepared: list[LayerData] | None = None) -> list[Layer]:
        """Add a result set's layers (GUI thread); :attr:`cells_shown` hands its cells on.

        ``prepared`` is the result's layer data when a worker has made it already.
        """
        from napari.layers import Layer

        layers = []
        for data, kwargs, kind in result.layer_data() if prepared is None else prepared:
            layer = Layer.create(data, kwargs, kind)
            self.viewer.add_layer(layer)
            layers.append(layer)
        for problem in result.problems[:5]:
            show_warning(problem)
        if result.review is not None:
            self.cells_shown.emit(result, CellLayers.among(layers))
        show_info(f"{result.name}: results added ({len(layers)} layers)")
        return layers


def _load_layer_data(
    folder: Path, slide: SlideRef | None, name: str, metadata: dict[str, ArtifactMetadata]
) -> tuple[ResultSet, list[LayerData]]:
    """In a worker: the results of one item placed on ``slide``, and their layer data."""
    mpp, size = (slide.mpp, slide.size) if slide is not None else (None, None)
    result = load_results(folder, mpp, size, name=name, metadata=metadata)
    return result, result.layer_data()
