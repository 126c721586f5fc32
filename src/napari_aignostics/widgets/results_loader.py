"""Follows runs and puts finished items' results on their slides (work in threads, layers on the GUI thread)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from napari.utils.notifications import show_info, show_warning
from qtpy.QtCore import QObject, Signal

from ..platform.run_labels import run_label
from ..results.result_layers import LayerData
from ..results.result_set import ResultSet, find_item_folders, load_results
from ..slides.layers import METADATA_KEY
from ..workflow.session import Session
from .review_panel import ReviewPanel
from .workers import WorkerPool


class ResultsLoader(QObject):
    """Downloads results as items finish and adds their layers over the matching slide."""

    item_loaded = Signal(str, str)
    """run id, external id"""
    run_followed = Signal(str, str)
    """run id, final label (after every finished item's layers were added)"""

    def __init__(
        self, viewer: Any, session: Session, pool: WorkerPool, review: ReviewPanel
    ) -> None:
        super().__init__()
        self.viewer = viewer
        self.session = session
        self.pool = pool
        self.review = review
        self._pending: dict[str, int] = {}
        self._finished: dict[str, str] = {}

    # --- slides ----------------------------------------------------------------------------------

    def slide_for(self, external_id: str) -> dict[str, Any] | None:
        """Metadata of the open slide this item belongs to (by path, then by file name)."""
        slides = [
            layer.metadata[METADATA_KEY]
            for layer in self.viewer.layers
            if METADATA_KEY in layer.metadata
        ]
        for meta in slides:
            if str(Path(meta["path"]).resolve()) == str(Path(external_id).resolve()):
                return dict(meta)
        for meta in slides:
            if Path(meta["path"]).name == Path(external_id).name:
                return dict(meta)
        if Path(external_id).is_file():  # not open yet: open it
            self.viewer.open(external_id, plugin="napari-aignostics")
            return (
                self.slide_for(external_id)
                if any(METADATA_KEY in layer.metadata for layer in self.viewer.layers)
                else None
            )
        return None

    # --- following -------------------------------------------------------------------------------

    def follow(self, run_id: str, slides: dict[str, Path] | None = None) -> None:
        """Poll the run in a worker; each finished item is downloaded and shown."""
        from ..platform.follow import ItemFailed, ItemFinished, RunFinished

        self._pending[run_id] = 0

        def events() -> Iterator[Any]:
            yield from self.session.follow(run_id)

        def received(event: Any) -> None:
            if isinstance(event, ItemFinished) and event.folder is not None:
                self._load_item(run_id, event.item.external_id, event.folder)
            elif isinstance(event, ItemFailed):
                item = event.item
                show_warning(
                    f"{Path(item.external_id).name}: {item.termination_reason} "
                    f"{item.error_message or ''}".strip()
                )
            elif isinstance(event, RunFinished):
                self._finished[run_id] = run_label(event.run)
                self._maybe_done(run_id)

        self.pool.start(events, on_yield=received)

    def load_run(self, run_id: str) -> None:
        """Download (verified, skipping what is there) and show every item of a run."""
        self._pending[run_id] = 0

        def done(folder: Path) -> None:
            for external_id, item_dir, meta in find_item_folders(folder):
                self._load_item(run_id, external_id, item_dir, meta)
            self._finished[run_id] = "loaded"
            self._maybe_done(run_id)

        self.pool.start(self.session.download, run_id, on_done=done)

    def _load_item(
        self, run_id: str, external_id: str, folder: Path, metadata: dict[str, Any] | None = None
    ) -> None:
        slide = self.slide_for(external_id)
        mpp = slide.get("mpp") if slide else None
        size = tuple(slide["level_dimensions"][0]) if slide else None
        if metadata is None:
            metadata = _manifest_metadata(folder, external_id)
        self._pending[run_id] = self._pending.get(run_id, 0) + 1
        name = Path(external_id).stem

        def loaded(prepared: tuple[ResultSet, list[LayerData]]) -> None:
            self.add_layers(*prepared)
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
            mpp,
            size,
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

    def add_layers(self, result: ResultSet, prepared: list[LayerData] | None = None) -> list[Any]:
        """Add a result set's layers (GUI thread) and hand the cells to the review panel.

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
            self.review.show_results(result, layers)
        show_info(f"{result.name}: results added ({len(layers)} layers)")
        return layers


def _load_layer_data(folder: Path, *args: Any, **kwargs: Any) -> tuple[ResultSet, list[LayerData]]:
    """In a worker: the results of one item and their layer data, ready for the GUI thread."""
    result = load_results(folder, *args, **kwargs)
    return result, result.layer_data()


def _manifest_metadata(folder: Path, external_id: str) -> dict[str, Any]:
    manifest = folder.parent / "manifest.json"
    if not manifest.is_file():
        return {}
    for item in json.loads(manifest.read_text()).get("items", []):
        if item.get("external_id") == external_id:
            return {
                Path(a["file"]).name: a.get("metadata") or {} for a in item.get("artifacts", [])
            }
    return {}
