"""The Edit tab: ROIs with live statistics, selecting cells and correcting their class, undo/redo.

The panel only shows and wires: ROI statistics come from :mod:`..results.roi_stats` (in a worker,
debounced), edits from :class:`..results.corrections.Corrections`, the sidecar is saved after each
change and replayed when results are shown again.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from napari.utils.notifications import show_info, show_warning
from qtpy.QtCore import QTimer, Signal
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..results.coords import to_data, world_scale
from ..results.corrections import Corrections, load_review, save_review
from ..results.export import export_roi_csv, export_roi_geojson
from ..results.object_columns import numeric_columns
from ..results.raster import invalidate_all
from ..results.result_set import ResultSet
from ..results.review import NOT_A_CELL, ReviewModel
from ..results.roi_stats import ROI_KINDS, Roi, RoiStats, cells_in, roi_from_shape, roi_stats
from .camera import camera_of
from .cell_layers import CellLayers, raster_levels
from .table_widget import make_table
from .workers import WorkerPool

if TYPE_CHECKING:
    from napari.components import ViewerModel
    from napari.layers import Points, Shapes

__all__ = ["RoiPanel"]

ROI_LAYER = "ROIs"
SELECTION_LAYER = "selected cells"
STATS_DELAY_MS = 200
ROI_EDGE_PX = 2.5
"""ROI outlines are this many screen pixels wide at any zoom (a slide spans 100,000 pixels)."""
ROI_COLUMNS = ("ROI", "Area mm²", "Cells", "Cells/mm²", "Classes", "Mean")


class RoiPanel(QWidget):
    """ROIs and their table; select cells, assign a class or "not a cell", undo, redo."""

    stats_shown = Signal()
    """The ROI table shows fresh statistics."""

    def __init__(
        self, viewer: ViewerModel, pool: WorkerPool | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.viewer = viewer
        self.pool = pool or WorkerPool()
        self.result: ResultSet | None = None
        self.review: ReviewModel | None = None
        self.layers = CellLayers()
        self.corrections: Corrections | None = None
        self.item_dir: Path | None = None
        self.rois_layer: Shapes | None = None
        self.selection = np.zeros(0, dtype=np.int64)
        self.stats: list[RoiStats] = []
        self.columns: dict[str, np.ndarray] = {}

        self.title = QLabel("Load results to draw ROIs and correct cells.")
        self.title.setWordWrap(True)
        self.table = make_table(ROI_COLUMNS, stretch=4)
        self.measurement = QComboBox()
        self.pick_region = QComboBox()
        self.add_region = QPushButton("Add region as ROI")
        self.select_mode = QCheckBox("Click selects cells (shift adds)")
        self.select_in_roi = QPushButton("Select shown cells in selected ROI")
        self.clear_selection = QPushButton("Clear")
        self.selected_label = QLabel("No cells selected.")
        self.target_class = QComboBox()
        self.assign = QPushButton("Assign class")
        self.not_a_cell = QPushButton("Not a cell")
        self.undo_button = QPushButton("Undo")
        self.redo_button = QPushButton("Redo")
        self.export_csv_button = QPushButton("ROI table CSV…")
        self.export_geojson_button = QPushButton("ROIs as QuPath GeoJSON…")
        self.status = QLabel()
        self.status.setWordWrap(True)

        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        row = QHBoxLayout()
        row.addWidget(QLabel("Mean of"))
        row.addWidget(self.measurement, 1)
        layout.addLayout(row)
        layout.addWidget(self.table, 2)
        row = QHBoxLayout()
        row.addWidget(self.pick_region, 1)
        row.addWidget(self.add_region)
        layout.addLayout(row)
        layout.addWidget(self.select_mode)
        row = QHBoxLayout()
        row.addWidget(self.select_in_roi, 1)
        row.addWidget(self.clear_selection)
        layout.addLayout(row)
        layout.addWidget(self.selected_label)
        row = QHBoxLayout()
        row.addWidget(self.target_class, 1)
        row.addWidget(self.assign)
        row.addWidget(self.not_a_cell)
        layout.addLayout(row)
        row = QHBoxLayout()
        for button in (self.undo_button, self.redo_button):
            row.addWidget(button)
        layout.addLayout(row)
        row = QHBoxLayout()
        for button in (self.export_csv_button, self.export_geojson_button):
            row.addWidget(button)
        layout.addLayout(row)
        layout.addWidget(self.status)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(STATS_DELAY_MS)
        self._timer.timeout.connect(self.refresh_stats)
        self.measurement.currentIndexChanged.connect(lambda _i: self.schedule())
        self.add_region.clicked.connect(self._add_picked_region)
        self.select_in_roi.clicked.connect(self.select_shown_in_roi)
        self.clear_selection.clicked.connect(lambda: self.set_selection(np.zeros(0, np.int64)))
        self.assign.clicked.connect(lambda: self.correct(self.target_class.currentIndex() + 1))
        self.not_a_cell.clicked.connect(lambda: self.correct(NOT_A_CELL))
        self.undo_button.clicked.connect(self.undo)
        self.redo_button.clicked.connect(self.redo)
        self.export_csv_button.clicked.connect(lambda: self.export("csv"))
        self.export_geojson_button.clicked.connect(lambda: self.export("geojson"))
        viewer.layers.events.removed.connect(self._layer_removed)
        camera_of(viewer).events.zoom.connect(self._fit_edges)
        self._update_buttons()

    # --- results ----------------------------------------------------------------------------------

    def show_results(self, result: ResultSet, layers: CellLayers) -> None:
        """Edit the cells of a freshly shown result set; its saved corrections and ROIs come back."""
        if result.review is None:
            return
        self.result, self.review, self.layers = result, result.review, layers
        self.selection = np.zeros(0, dtype=np.int64)
        self.selected_label.setText("No cells selected.")
        self._bind_keys()
        self.columns = numeric_columns(self.review.table, result.slide_mpp)
        self.item_dir = Path(result.cells_source).parent if result.cells_source else None
        rois: list[Roi] = []
        problems: list[str] = []
        if self.item_dir is not None:
            self.corrections, rois, problems = load_review(self.item_dir, self.review)
        else:
            self.corrections = Corrections(self.review)
        self.review.on_classes_changed.append(self._classes_changed)
        self.title.setText(f"<b>{result.name}</b>: draw ROIs in the “{ROI_LAYER}” layer.")
        for combo, items in (
            (self.measurement, ["(none)", *self.columns]),
            (self.target_class, self.review.table.class_names),
            (self.pick_region, [f"{n} #{i}" for n, t in result.regions for i in range(len(t))]),
        ):
            combo.blockSignals(True)
            combo.clear()
            combo.addItems(items)
            combo.blockSignals(False)
        self._make_roi_layer(rois)
        if self.corrections.done:
            self._refresh_overlay()
        self.status.setText("; ".join(problems))
        if self._click not in self.viewer.mouse_drag_callbacks:
            self.viewer.mouse_drag_callbacks.append(self._click)
        self._update_buttons()
        self.schedule()

    def _layer_removed(self, event: Any) -> None:
        """The result's cell layers left the viewer: let go of its cells (saved edits stay saved)."""
        if event.value is self.rois_layer:
            self.rois_layer = None
        if self.review is None or not any(
            event.value is layer for layer in (self.layers.raster, self.layers.centroids)
        ):
            return
        self._timer.stop()
        self.pool.drop("roi-stats")
        self.result = self.review = self.corrections = None
        self.layers = CellLayers()
        self.columns, self.stats = {}, []
        self.selection = np.zeros(0, dtype=np.int64)
        self._update_buttons()

    def _make_roi_layer(self, rois: list[Roi]) -> None:
        assert self.result is not None
        if self.rois_layer is not None and self.rois_layer in self.viewer.layers:
            self.viewer.layers.remove(self.rois_layer)
        scale, units = world_scale(self.result.slide_mpp)
        layer = self.viewer.add_shapes(
            name=ROI_LAYER,
            scale=scale,
            units=units,
            edge_color="yellow",
            edge_width=3,
            face_color="transparent",
            features={
                "name": np.array([], dtype=object),
                "kind": np.array([], dtype=object),
                "classification": np.array([], dtype=object),
            },
        )
        self.rois_layer = layer
        self._fit_edges()
        for roi in rois:
            self._add_roi(roi)
        layer.events.data.connect(lambda _e: self.schedule())
        layer.events.set_data.connect(lambda _e: self.schedule())

    def _fit_edges(self, *_: Any) -> None:
        """The ROI outlines keep their width on screen as the view zooms (widths are in pixels
        of the slide): only when it changed by more than a fifth."""
        layer, result = self.rois_layer, self.result
        if layer is None or result is None:
            return
        width = ROI_EDGE_PX / (camera_of(self.viewer).zoom * (result.slide_mpp or 1.0))
        if abs(width - layer.current_edge_width) <= 0.2 * layer.current_edge_width:
            return
        layer.current_edge_width = width
        if layer.nshapes:
            layer.edge_width = width

    def _add_roi(self, roi: Roi) -> None:
        assert self.rois_layer is not None
        ring = to_data(np.asarray(roi.polygon.exterior.coords)[:-1])
        self.rois_layer.feature_defaults = {
            "name": roi.name,
            "kind": roi.kind,
            "classification": roi.classification or "",
        }
        if roi.kind == "rectangle" and len(ring) == 4:
            self.rois_layer.add_rectangles([ring])
        else:  # an ellipse comes back as its polygon, still called an ellipse
            self.rois_layer.add_polygons([ring])
        self.rois_layer.feature_defaults = {"name": "", "kind": "", "classification": ""}

    def _add_picked_region(self) -> None:
        if self.result is None or self.pick_region.currentIndex() < 0:
            return
        label = self.pick_region.currentText()
        name, _, number = label.rpartition(" #")
        table = dict(self.result.regions)[name]
        index = int(number)
        roi = Roi(
            f"{table.classes[index]} {number}",
            table.polygon(index),
            "region",
            str(table.classes[index]),
        )
        self._add_roi(roi)

    def rois(self) -> list[Roi]:
        """The ROIs of the layer, in level-0 pixels (unnamed ones get ``ROI n``)."""
        layer = self.rois_layer
        if layer is None:
            return []
        features = layer.features
        rois = []
        for k, (kind, vertices) in enumerate(zip(layer.shape_type, layer.data, strict=True)):
            name = _feature_text(features, "name", k)
            roi = roi_from_shape(name or f"ROI {k + 1}", kind, vertices)
            saved = _feature_text(features, "kind", k)
            if saved in ROI_KINDS:  # as saved (a region, an ellipse kept as a polygon)
                roi.kind = saved
                roi.classification = _feature_text(features, "classification", k) or None
            rois.append(roi)
        return rois

    # --- statistics -------------------------------------------------------------------------------

    def schedule(self) -> None:
        """Recompute the ROI table once things settle (debounced)."""
        self._timer.start()

    def refresh_stats(self) -> None:
        """ROI statistics in a worker; the table and the sidecar follow when they arrive."""
        review, result = self.review, self.result
        if review is None or result is None:
            return
        rois = self.rois()
        name = self.measurement.currentText() if self.measurement.currentIndex() > 0 else None
        values = self.columns.get(name) if name else None

        def compute() -> list[RoiStats]:
            return [roi_stats(review, roi, result.slide_mpp, values, name) for roi in rois]

        self.pool.start(
            compute, on_done=lambda stats: self._show_stats(stats, rois), key="roi-stats"
        )

    def _show_stats(self, stats: list[RoiStats], rois: list[Roi]) -> None:
        self.stats = stats
        self.table.setRowCount(len(stats))
        for row, s in enumerate(stats):
            shares = ", ".join(
                f"{n} {s.share(n):.0%}"
                for n, c in sorted(s.counts.items(), key=lambda i: -i[1])
                if c
            )
            cells = [
                s.name,
                "" if s.area_mm2 is None else f"{s.area_mm2:.4f}",
                str(s.count),
                "" if s.density is None else f"{s.density:.0f}",
                shares,
                "" if s.mean is None else f"{s.mean:.4g}",
            ]
            for column, text in enumerate(cells):
                self.table.setItem(row, column, QTableWidgetItem(text))
        self._save(rois)
        self.stats_shown.emit()

    # --- selection and corrections ----------------------------------------------------------------

    def _click(self, viewer: Any, event: Any) -> None:
        if not self.select_mode.isChecked() or self.review is None or self.result is None:
            return
        scale = self.result.slide_mpp or 1.0
        y, x = viewer.cursor.position[-2:]
        index = self.review.object_at(x / scale + 0.5, y / scale + 0.5, radius=4.0)
        if index is None:
            return
        adding = "Shift" in {str(getattr(m, "name", m)) for m in getattr(event, "modifiers", ())}
        chosen = np.array([index], dtype=np.int64)
        self.set_selection(np.union1d(self.selection, chosen) if adding else chosen)

    def select_shown_in_roi(self) -> None:
        """Select the shown cells inside the ROI(s) selected in the ROI layer (or the last one)."""
        if self.review is None or self.rois_layer is None or not len(self.rois_layer.data):
            return
        rois = self.rois()
        picked = sorted(self.rois_layer.selected_data) or [len(rois) - 1]
        shown = self.review.shown()
        found = [cells_in(self.review, rois[k].polygon, shown) for k in picked]
        self.set_selection(np.unique(np.concatenate(found)))

    def set_selection(self, indices: np.ndarray) -> None:
        """Select these cells (marked by a points layer)."""
        self.selection = np.asarray(indices, dtype=np.int64)
        self.selected_label.setText(f"{len(self.selection)} cells selected.")
        if self.review is not None and self.result is not None:
            points = (
                to_data(self.review.table.centroids[self.selection])
                if len(self.selection)
                else np.zeros((0, 2))
            )
            layer: Points | None = next(
                (lay for lay in self.viewer.layers if lay.name == SELECTION_LAYER), None
            )  # type: ignore[assignment]
            if layer is None:
                scale, units = world_scale(self.result.slide_mpp)
                self.viewer.add_points(
                    points,
                    name=SELECTION_LAYER,
                    scale=scale,
                    units=units,
                    size=14,
                    face_color="transparent",
                    border_color="cyan",
                    border_width=0.2,
                )
            else:
                layer.data = points
        self._update_buttons()

    def correct(self, code: int) -> None:
        """Give the selected cells class ``code`` (``NOT_A_CELL``: not a cell)."""
        if self.corrections is None or not len(self.selection):
            return
        edit = self.corrections.assign(self.selection, code)
        if edit is not None:
            what = "not a cell" if code == NOT_A_CELL else self.target_class.currentText()
            show_info(f"{len(edit.indices)} cells → {what}")
        self._update_buttons()

    def undo(self) -> None:
        """Take back the last correction."""
        if self.corrections is not None:
            self.corrections.undo()
            self._update_buttons()

    def redo(self) -> None:
        """Do the last undone correction again."""
        if self.corrections is not None:
            self.corrections.redo()
            self._update_buttons()

    def _bind_keys(self) -> None:
        """Ctrl+Z / Ctrl+Shift+Z undo and redo corrections.

        Bound on the viewer, so a layer with its own undo (a Labels layer being painted) keeps
        it while it is the active layer; and on the cells' overview, whose keys come first while it is
        the active layer.
        """
        bindings = {
            "Control-Z": lambda _target: self.undo(),
            "Control-Shift-Z": lambda _target: self.redo(),
        }
        for key, action in bindings.items():
            self.viewer.bind_key(key, action, overwrite=True)
            if self.layers.raster is not None:
                self.layers.raster.bind_key(key, action, overwrite=True)

    def _classes_changed(self, _indices: np.ndarray) -> None:
        # the Review tab redraws the overview tiles the edit touched, the cells in view and the counts
        self.schedule()

    def _refresh_overlay(self) -> None:
        """After replaying saved edits: the overview drawn again (the cells in view follow the
        Review tab's next refresh)."""
        raster = self.layers.raster
        if raster is not None and invalidate_all(raster_levels(raster)):
            raster.refresh()

    def _update_buttons(self) -> None:
        ready = self.review is not None
        has = ready and len(self.selection) > 0
        for button in (self.assign, self.not_a_cell):
            button.setEnabled(has)
        self.undo_button.setEnabled(bool(self.corrections and self.corrections.done))
        self.redo_button.setEnabled(bool(self.corrections and self.corrections.undone))
        for widget in (
            self.select_in_roi,
            self.add_region,
            self.export_csv_button,
            self.export_geojson_button,
            self.select_mode,
        ):
            widget.setEnabled(ready)

    # --- saving and exports -----------------------------------------------------------------------

    def _save(self, rois: list[Roi]) -> None:
        corrections, item_dir = self.corrections, self.item_dir
        if corrections is None or item_dir is None:
            return
        if not corrections.done and not rois and not item_dir.joinpath("review").exists():
            return  # nothing to keep: leave the results folder as downloaded
        done = list(corrections.done)
        snapshot = Corrections(corrections.review, corrections.author, done)

        def failed(error: BaseException) -> None:
            show_warning(f"could not save the review in {item_dir}: {error}")

        self.pool.start(save_review, item_dir, snapshot, rois, on_error=failed, key="review-save")

    def export(self, kind: str, path: Path | None = None) -> Path | None:
        """The ROI table as CSV, or the ROIs as QuPath annotations."""
        if self.review is None:
            return None
        if path is None:
            suffix = "csv" if kind == "csv" else "geojson"
            chosen, _ = QFileDialog.getSaveFileName(self, "Export ROIs", f"rois.{suffix}")
            if not chosen:
                return None
            path = Path(chosen)
        rois = self.rois()
        stats = (
            [
                roi_stats(self.review, roi, self.result.slide_mpp if self.result else None)
                for roi in rois
            ]
            if len(rois) != len(self.stats)
            else self.stats
        )
        if kind == "csv":
            written = export_roi_csv(stats, self.review.table.class_names, path)
        else:
            written = export_roi_geojson(rois, path, stats)
        show_info(f"exported {len(rois)} ROIs to {written}")
        return written


def _feature_text(features: Any, column: str, row: int) -> str:
    """A text feature of a shape; "" where it is missing (a shape added without features)."""
    if row >= len(features) or column not in features:
        return ""
    value = features[column].iloc[row]
    return value if isinstance(value, str) else ""
