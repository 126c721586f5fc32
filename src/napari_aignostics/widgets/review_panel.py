"""Review: class visibility and colours, colour by measurement, confidence threshold, counts,
display mode, the cell under the cursor, provenance, density maps and hotspots, export."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from napari.utils.notifications import show_info
from qtpy.QtCore import Qt
from qtpy.QtGui import QColor
from qtpy.QtWidgets import (
    QCheckBox,
    QColorDialog,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSlider,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..results.export import export_csv, export_geojson
from ..results.measure_colors import MeasureColors, measure_names, measure_values
from ..results.result_set import ResultSet
from ..results.review import ReviewModel
from .camera import camera_of
from .cell_layers import CellLayers, overview_palette, raster_levels
from .colour_bar import RangeControl
from .density_panel import DensityPanel
from .table_widget import make_table
from .workers import WorkerPool

if TYPE_CHECKING:
    from napari.components import ViewerModel
    from napari.layers import Image, Points, Shapes

    from .viewport import InViewCentroids, InViewOutlines

CLASS_COLUMNS = ("Show", "Class", "Colour", "Cells")
BY_CLASS = "Class"
TISSUE_MODES = ("Contours", "Fill")
"""Tissue maps as class-coloured contours (the H&E visible) or as a translucent fill."""
DISPLAY_MODES = ("Outlines", "Fill", "Centroids")
IN_VIEW_CENTROIDS = 20_000
"""At most this many centroids are shown in view (zoomed in, a view holds a few thousand cells)."""
"""Outlines: the overview when zoomed out, class-coloured outlines (nuclei visible) when zoomed in;
Fill: filled cells at every zoom; Centroids: one dot per cell."""


class ReviewPanel(QWidget):
    """Drives a :class:`ReviewModel`; every change updates the raster and the in-view layers."""

    def __init__(self, viewer: ViewerModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.viewer = viewer
        self.result: ResultSet | None = None
        self.review: ReviewModel | None = None
        self.raster: Image | None = None
        self.outlines: Image | None = None
        self._in_view: InViewOutlines | None = None
        self.centroids: Points | None = None
        """The cells' points: the centroids of the shown cells in view (drawn while visible)."""
        self._raster_stale = False
        """The overview's colours wait until it is shown again."""
        self._in_view_centroids: InViewCentroids | None = None

        self.title = QLabel("Load results from the Runs tab, or open a results folder.")
        self.title.setWordWrap(True)
        self.classes = make_table(CLASS_COLUMNS, stretch=1)
        self.classes.setColumnWidth(0, 44)
        self.classes.setColumnWidth(2, 48)
        self.classes.setColumnWidth(3, 150)  # "1234567 / 1234567" fits
        self.confidence = QSlider(Qt.Orientation.Horizontal)
        self.confidence.setRange(0, 100)
        self.confidence_label = QLabel("≥ 0.00")
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(80)
        self.total = QLabel()
        self.under_cursor = QLabel("Hover over a cell to see it.")
        self.under_cursor.setWordWrap(True)
        self.readouts = QLabel()
        self.readouts.setWordWrap(True)
        self.export_geojson_button = QPushButton("Export GeoJSON (QuPath)…")
        self.export_csv_button = QPushButton("Export CSV…")
        self.pool = WorkerPool()
        self.color_by = QComboBox()
        self.color_by.addItem(BY_CLASS)
        self.color_range = RangeControl()
        self.color_range.setVisible(False)
        self.display = QComboBox()
        self.display.addItems(DISPLAY_MODES)
        self.tissue_as = QComboBox()
        self.tissue_as.addItems(TISSUE_MODES)
        self.tissue_as.currentTextChanged.connect(lambda _text: self.show_tissue_mode())
        self.picked = make_table(("Property", "Value"), stretch=1)
        self.picked.setMaximumHeight(150)
        self.picked.setVisible(False)
        self.tissue_legend = QLabel()
        self.tissue_legend.setWordWrap(True)
        self.provenance = QLabel()
        self.provenance.setWordWrap(True)
        self.provenance.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.density = DensityPanel(viewer, self.pool)
        self.measure_layer: Image | None = None
        self.picked_layer: Shapes | None = None
        self._measure_values: np.ndarray | None = None
        self._shown_key: object = None
        self._zoomed_in = False

        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.provenance)
        layout.addWidget(self.classes, 2)
        form = QFormLayout()
        row = QHBoxLayout()
        row.addWidget(self.confidence)
        row.addWidget(self.confidence_label)
        form.addRow("Confidence", row)
        form.addRow("Opacity", self.opacity)
        form.addRow("Cells as", self.display)
        form.addRow("Tissue maps as", self.tissue_as)
        form.addRow("Colour by", self.color_by)
        layout.addLayout(form)
        layout.addWidget(self.color_range)
        layout.addWidget(self.total)
        layout.addWidget(self.under_cursor)
        layout.addWidget(self.picked)
        layout.addWidget(self.tissue_legend)
        layout.addWidget(self.readouts)
        layout.addWidget(self.density)
        buttons = QHBoxLayout()
        buttons.addWidget(self.export_geojson_button)
        buttons.addWidget(self.export_csv_button)
        layout.addLayout(buttons)

        self.confidence.valueChanged.connect(self._confidence_changed)
        self.opacity.valueChanged.connect(self._opacity_changed)
        self.export_geojson_button.clicked.connect(lambda: self._export("geojson"))
        self.export_csv_button.clicked.connect(lambda: self._export("csv"))
        self.color_by.currentTextChanged.connect(self.set_color_by)
        self.color_range.changed.connect(self._range_changed)
        self.display.currentTextChanged.connect(lambda _t: self._show_mode())
        camera_of(viewer).events.zoom.connect(self._zoom_changed)
        viewer.layers.events.removed.connect(self._layer_removed)
        self._set_enabled(False)

    def _set_enabled(self, enabled: bool) -> None:
        for widget in (
            self.confidence,
            self.opacity,
            self.export_geojson_button,
            self.export_csv_button,
            self.color_by,
            self.display,
            self.tissue_as,
        ):
            widget.setEnabled(enabled)

    # --- results ----------------------------------------------------------------------------------

    def show_results(self, result: ResultSet, layers: CellLayers) -> None:
        """Review the cells of a freshly added result set, shown in ``layers``."""
        from .viewport import InViewCentroids, InViewOutlines

        current = CellLayers(self.raster, self.centroids, self.outlines)
        if result is self.result and layers == current:
            return  # the same cells loaded again, unchanged: the review goes on as it was
        self.release()
        self.result, self.review = result, result.review
        assert self.review is not None
        self.raster, self.centroids, self.outlines = layers.raster, layers.centroids, layers.outlines
        if self.outlines is not None and self.raster is not None:
            self._in_view = InViewOutlines(
                self.viewer, self.outlines, self.raster, self.review, self.pool
            )
        if self.centroids is not None and self.raster is not None:
            self._in_view_centroids = InViewCentroids(
                self.viewer, self.centroids, self.raster, self.review, self.pool, IN_VIEW_CENTROIDS
            )
        if self.raster is not None:
            self.raster.events.visible.connect(self._color_raster)
        self.title.setText(f"<b>{result.name}</b>: {len(self.review.table)} cells")
        self._fill_classes()
        self._show_readouts()
        self._show_provenance()
        self._show_tissue_legend()
        self.show_tissue_mode()
        self._remove_measure_layer()
        self.color_by.blockSignals(True)
        self.color_by.clear()
        self.color_by.addItems([BY_CLASS, *measure_names(self.review.table)])
        self.color_by.blockSignals(False)
        self.color_range.setVisible(False)
        self.density.show_results(result, self.review)
        self._bind_keys()
        if self._hover not in self.viewer.mouse_move_callbacks:
            self.viewer.mouse_move_callbacks.append(self._hover)
        if self._click not in self.viewer.mouse_drag_callbacks:
            self.viewer.mouse_drag_callbacks.append(self._click)
        self.review.on_classes_changed.append(self._classes_changed)
        self._set_enabled(True)
        self.apply()
        self._zoom_changed()

    def _layer_removed(self, event: Any) -> None:
        """The shown result's cell layers left the viewer: let go of the result."""
        if event.value is not None and any(
            event.value is layer for layer in (self.raster, self.centroids, self.outlines)
        ):
            self.release()

    def release(self) -> None:
        """Forget the shown result (its layers are gone or a new result replaces it)."""
        if self._in_view is not None:
            self._in_view.close()
            self._in_view = None
        if self._in_view_centroids is not None:
            self._in_view_centroids.close()
            self._in_view_centroids = None
        if self.review is not None and self._classes_changed in self.review.on_classes_changed:
            self.review.on_classes_changed.remove(self._classes_changed)
        self.pool.drop("colour-by")
        self._remove_measure_layer()
        if self.picked_layer is not None and self.picked_layer in self.viewer.layers:
            self.viewer.layers.remove(self.picked_layer)
        self.picked_layer = None
        self.result = self.review = None
        self.raster = self.centroids = self.outlines = None
        self.density.release()
        self.classes.setRowCount(0)
        self.picked.setVisible(False)
        self.title.setText("Load results from the Runs tab, or open a results folder.")
        self._set_enabled(False)

    def _classes_changed(self, indices: np.ndarray) -> None:
        """Corrections changed some cells' classes: redraw only their tiles, then the counts."""
        from ..results.raster import invalidate_objects

        if self.review is None:
            return
        review = self.review
        if self.classes.rowCount() != len(review.styles):  # the edit added a class
            self._fill_classes()
            self.apply()
            return
        boxes = review.table.boxes[indices]
        if self.raster is not None and invalidate_objects(raster_levels(self.raster), boxes):
            self.raster.refresh()
        layer, values = self.measure_layer, self._measure_values
        if layer is not None and values is not None and review.color_by is not None:
            # a colour-by overview drops the cells that are no longer shown
            values[indices] = np.where(
                review.shown(indices), review.color_by.values[indices], np.float32(np.nan)
            )
            if invalidate_objects(raster_levels(layer), boxes):
                layer.refresh()
        self._refresh_in_view()
        self.show_counts()

    def _fill_classes(self) -> None:
        assert self.review is not None
        self.classes.setRowCount(0)
        for row, (name, style) in enumerate(self.review.styles.items()):
            self.classes.insertRow(row)
            box = QCheckBox()
            box.setChecked(style.visible)
            box.toggled.connect(lambda on, n=name: self.set_class_visible(n, on))
            self.classes.setCellWidget(row, 0, box)
            self.classes.setItem(row, 1, QTableWidgetItem(name))
            swatch = QPushButton()
            swatch.setFixedWidth(36)
            swatch.setStyleSheet(f"background-color: rgb{tuple(style.color)}")
            swatch.clicked.connect(lambda _=False, n=name: self._pick_color(n))
            self.classes.setCellWidget(row, 2, swatch)
            bar = QProgressBar()
            bar.setTextVisible(True)
            self.classes.setCellWidget(row, 3, bar)

    def _show_readouts(self) -> None:
        assert self.result is not None
        readout = next((r for n, r in self.result.readouts.items() if "slide" in n), None)
        if readout is None:
            self.readouts.setText("")
            return
        counts = readout.numbers("CELL_COUNT_")
        areas = readout.numbers("ABSOLUTE_AREA_")
        text = ", ".join(f"{k.lower()}: {int(v)}" for k, v in counts.items())
        area = ", ".join(f"{k.lower()}: {v:.2f} mm²" for k, v in areas.items())
        self.readouts.setText(f"<b>Slide readouts</b> — {text}<br>{area}")

    # --- changes ----------------------------------------------------------------------------------

    def set_class_visible(self, name: str, visible: bool) -> None:
        """Show or hide a class everywhere."""
        if self.review is not None:
            self.review.set_visible(name, visible)
            row = list(self.review.styles).index(name)
            box = self.classes.cellWidget(row, 0)
            if isinstance(box, QCheckBox) and box.isChecked() != visible:
                box.blockSignals(True)  # called from code: keep the tick in step
                box.setChecked(visible)
                box.blockSignals(False)
            self.apply()

    def set_class_color(self, name: str, rgb: tuple[int, int, int]) -> None:
        """Recolour a class everywhere."""
        if self.review is not None:
            self.review.set_color(name, rgb)
            self._fill_classes()
            self.apply()

    def _pick_color(self, name: str) -> None:
        assert self.review is not None
        current = QColor(*self.review.styles[name].color)
        color = QColorDialog.getColor(current, self, f"Colour of {name}")
        if color.isValid():
            self.set_class_color(name, (color.red(), color.green(), color.blue()))

    def _confidence_changed(self, value: int) -> None:
        self.confidence_label.setText(f"≥ {value / 100:.2f}")
        if self.review is not None:
            self.review.min_confidence = value / 100
            self.apply()

    def _opacity_changed(self, value: int) -> None:
        if self.review is not None:
            self.review.opacity = value / 100
            for layer in (self.raster, self.centroids, self.outlines):
                if layer is not None:
                    layer.opacity = value / 100

    def apply(self) -> None:
        """Push the model to the layers and the counts."""
        review = self.review
        if review is None:
            return
        self._raster_stale = True
        self._color_raster()
        self._refresh_measure_values()
        self._refresh_in_view()
        self.show_counts()

    def _color_raster(self, *_: Any) -> None:
        """The overview takes the class colours, only while shown: its palette changes and the
        view is drawn again from the cached code tiles."""
        raster, review = self.raster, self.review
        if raster is None or review is None or not self._raster_stale or not raster.visible:
            return
        palette = overview_palette(raster)
        if palette is not None:
            palette.lut = review.rgba_lut()
            raster.refresh()
        self._raster_stale = False

    def _refresh_in_view(self) -> None:
        """The in-view outlines and (when shown) centroids take the model's state, in a worker."""
        if self._in_view is not None:
            self._in_view.refresh()
        if self._in_view_centroids is not None:
            self._in_view_centroids.refresh()

    def show_counts(self) -> None:
        """The shown and total cells per class, and in all (from the model's tallies)."""
        review = self.review
        if review is None:
            return
        counts = review.counts()
        largest = max((total for _shown, total in counts.values()), default=1) or 1
        for row, name in enumerate(review.styles):
            shown_count, total = counts[name]
            bar = self.classes.cellWidget(row, 3)
            if isinstance(bar, QProgressBar):  # a bar chart of the shown cells per class
                bar.setRange(0, largest)
                bar.setValue(shown_count)
                bar.setFormat(f"{shown_count} / {total}")
        shown_total = sum(shown_count for shown_count, _total in counts.values())
        self.total.setText(f"{shown_total} of {len(review.table)} cells shown")

    # --- provenance, tissue legend, display mode ------------------------------------------------

    def _show_provenance(self) -> None:
        assert self.result is not None
        rows = self.result.provenance.lines()
        self.provenance.setText(" · ".join(f"<b>{k}</b> {v}" for k, v in rows))

    def show_tissue_mode(self) -> None:
        """Draw this slide's tissue maps as the *Tissue maps as* choice says."""
        from ..results.overview_rgba import RgbaLevel
        from ..results.result_layers import tissue_map_look

        if self.result is None:
            return
        contours = self.tissue_as.currentText() == "Contours"
        prefix = f"{self.result.name} · "
        for layer in self.viewer.layers:
            labels, shown = layer.metadata.get("tissue_map"), layer.data
            if (
                layer.name.startswith(prefix)
                and isinstance(labels, np.ndarray)
                and isinstance(shown, RgbaLevel)
                and (shown.codes is labels) == contours  # not drawn as asked yet
            ):
                layer.data, layer.opacity = tissue_map_look(labels, contours, shown.palette)

    def _show_tissue_legend(self) -> None:
        """Swatches of the tissue classes of this slide's maps and regions."""
        assert self.result is not None
        prefix = f"{self.result.name} · "
        legend: dict[str, tuple[int, int, int]] = {}
        for layer in self.viewer.layers:
            if layer.name.startswith(prefix):
                legend.update(layer.metadata.get("legend", {}))
        swatches = " ".join(
            f'<span style="color: rgb{tuple(rgb)}">■</span> {name}' for name, rgb in legend.items()
        )
        self.tissue_legend.setText(f"<b>Tissue</b> {swatches}" if legend else "")

    def _zoom_changed(self, *_: Any) -> None:
        """Zoomed in, the outlines take over from the filled overview (nuclei stay visible)."""
        from .viewport import MAX_VIEW_PX, view_bounds

        if self.raster is None:
            return
        x0, _y0, x1, _y1 = view_bounds(self.raster)
        zoomed_in = x1 - x0 <= MAX_VIEW_PX
        if zoomed_in != self._zoomed_in:
            self._zoomed_in = zoomed_in
            self._show_mode()

    def _show_mode(self) -> None:
        """Show the cells as the display mode says (fill, outlines when zoomed in, centroids)."""
        mode = self.display.currentText()
        overview = self.measure_layer if self.measure_layer is not None else self.raster
        if self.measure_layer is not None and self.raster is not None:
            self.raster.visible = False
        if overview is not None:
            overview.visible = mode == "Fill" or (mode == "Outlines" and not self._zoomed_in)
        if self.outlines is not None:
            self.outlines.visible = mode in ("Outlines", "Fill")
        if self.centroids is not None:
            self.centroids.visible = mode == "Centroids" and self._zoomed_in
            if overview is not None and mode == "Centroids":
                overview.visible = not self._zoomed_in
        self._refresh_in_view()

    def toggle_detections(self) -> None:
        """Show or hide every cell layer at once (QuPath's D)."""
        layers = [
            lay
            for lay in (self.raster, self.centroids, self.outlines, self.measure_layer)
            if lay is not None
        ]
        if any(lay.visible for lay in layers):
            for lay in layers:
                lay.visible = False
        else:
            self._show_mode()

    def step_opacity(self, delta: int) -> None:
        """Opacity up or down by ``delta`` percent."""
        self.opacity.setValue(max(0, min(100, self.opacity.value() + delta)))

    def _bind_keys(self) -> None:
        bindings = {
            "Shift-D": lambda _viewer: self.toggle_detections(),
            "Shift-Up": lambda _viewer: self.step_opacity(10),
            "Shift-Down": lambda _viewer: self.step_opacity(-10),
        }
        for key, action in bindings.items():
            self.viewer.bind_key(key, action, overwrite=True)

    # --- colour by measurement --------------------------------------------------------------------

    def set_color_by(self, name: str) -> None:
        """Colour the cells by class, or by a measurement (prepared in a worker)."""
        review, result = self.review, self.result
        if review is None or result is None:
            return
        if name == BY_CLASS or not name:
            self.pool.drop("colour-by")
            review.color_by = None
            self._remove_measure_layer()
            self.color_range.setVisible(False)
            self._show_mode()
            self.apply()
            return
        mpp, colormap = result.slide_mpp, self.color_range.colormap

        def prepare() -> tuple[MeasureColors, np.ndarray]:
            colors = MeasureColors.of(name, measure_values(review.table, name, mpp), colormap)
            values = np.where(review.shown(), colors.values, np.float32(np.nan))
            return colors, values.astype(np.float32)

        self.pool.start(prepare, key="colour-by", on_done=self._show_measure)

    def _show_measure(self, prepared: tuple[MeasureColors, np.ndarray]) -> None:
        from napari.layers import Layer

        from ..results.result_layers import measure_layer

        review, result = self.review, self.result
        if review is None or result is None:
            return
        colors, values = prepared
        review.color_by = colors
        self._remove_measure_layer()
        self._measure_values = values
        self._shown_key = self._current_shown_key()
        size = result.slide_size or _extent(review)
        data, kwargs, kind = measure_layer(
            f"{result.name} · cells by {colors.name}", review, values, result.slide_mpp, size
        )
        layer = Layer.create(data, kwargs, kind)
        at = (
            self.viewer.layers.index(self.raster) + 1 if self.raster in self.viewer.layers else None
        )
        if at is None:
            self.viewer.add_layer(layer)
        else:
            self.viewer.layers.insert(at, layer)
        self.measure_layer = layer
        self.color_range.setVisible(True)
        self.color_range.set_range(colors.low, colors.high, default=True, title=colors.name)
        self._show_mode()

    def _remove_measure_layer(self) -> None:
        if self.measure_layer is not None and self.measure_layer in self.viewer.layers:
            self.viewer.layers.remove(self.measure_layer)
        self.measure_layer, self._measure_values = None, None

    def _range_changed(self) -> None:
        """A range or colormap change: contrast limits and colours, nothing redrawn."""
        review = self.review
        if review is None or review.color_by is None:
            return
        low, high = self.color_range.range()
        review.color_by.set_range(low, high)
        if review.color_by.colormap != self.color_range.colormap:
            review.color_by.set_colormap(self.color_range.colormap)
            if self.measure_layer is not None:
                self.measure_layer.colormap = review.color_by.colormap
        if self.measure_layer is not None:
            self.measure_layer.contrast_limits = (low, high)
        self.apply()

    def _current_shown_key(self) -> object:
        review = self.review
        if review is None:
            return None
        return (
            tuple(style.visible for style in review.styles.values()),
            review.min_confidence,
        )

    def _refresh_measure_values(self) -> None:
        """Class toggles or the threshold changed while colouring by a measurement: redraw."""
        from ..results.raster import invalidate_all

        review, layer, values = self.review, self.measure_layer, self._measure_values
        key = self._current_shown_key()
        if review is None or layer is None or values is None or key == self._shown_key:
            return
        self._shown_key = key
        review.overview_values(values)
        invalidate_all(raster_levels(layer))
        layer.refresh()

    # --- cursor and export ------------------------------------------------------------------------

    def _click(self, viewer: Any, event: Any) -> None:
        """A click pins the cell under the cursor: highlighted, its properties in a table."""
        self._pinned = False
        index = self._hover(viewer, event)
        self._pinned = index is not None
        if index is not None:
            self.pick(index)

    def pick(self, index: int) -> None:
        """Highlight one cell and list its properties (µm, µm²)."""
        from napari.layers import Shapes

        from ..results.coords import world_scale
        from ..results.result_layers import shapes_data

        if self.review is None or self.result is None:
            return
        props = self.review.properties(index, self.result.slide_mpp)
        self.picked.setRowCount(0)
        for row, (key, value) in enumerate(props.items()):
            self.picked.insertRow(row)
            self.picked.setItem(row, 0, QTableWidgetItem(key))
            text = f"{value:.4g}" if isinstance(value, float) else str(value)
            self.picked.setItem(row, 1, QTableWidgetItem(text))
        self.picked.setVisible(True)
        ring = shapes_data(self.review.table, np.array([index]))
        if self.picked_layer is None or self.picked_layer not in self.viewer.layers:
            scale, units = world_scale(self.result.slide_mpp)
            self.picked_layer = Shapes(
                name=f"{self.result.name} · picked cell",
                scale=scale,
                units=units,
                face_color="transparent",
                edge_color="yellow",
                edge_width=3.0,
            )
            self.viewer.add_layer(self.picked_layer)
        self.picked_layer.data = []
        self.picked_layer.add_polygons(ring, edge_color="yellow", face_color="transparent")

    def _hover(self, viewer: Any, event: Any) -> int | None:
        if (
            self.review is None
            or self.result is None
            or (event.type == "mouse_move" and getattr(self, "_pinned", False))
        ):
            return None
        scale = self.result.slide_mpp or 1.0
        y, x = viewer.cursor.position[-2:]
        index = self.review.object_at(x / scale + 0.5, y / scale + 0.5, radius=2.0)
        if index is None:
            return None
        props = self.review.properties(index, self.result.slide_mpp)
        text = ", ".join(
            f"{k}: {v:.3g}" if isinstance(v, float) else f"{k}: {v}" for k, v in props.items()
        )
        self.under_cursor.setText(text)
        return index

    def _export(self, kind: str, path: Path | None = None) -> Path | None:
        if self.review is None:
            return None
        if path is None:
            suffix = "geojson" if kind == "geojson" else "csv"
            chosen, _ = QFileDialog.getSaveFileName(self, "Export cells", f"cells.{suffix}")
            if not chosen:
                return None
            path = Path(chosen)
        mask = self.review.shown()
        writer = export_geojson if kind == "geojson" else export_csv
        origin = self.result.provenance.as_dict() if self.result is not None else None
        written = writer(
            self.review.table, path, mask, codes=self.review.class_codes, provenance=origin
        )
        show_info(f"exported {int(np.count_nonzero(mask))} cells to {written}")
        return written


def _extent(review: ReviewModel) -> tuple[int, int]:
    _, _, maxx, maxy = review.table.bounds()
    return int(maxx) + 1, int(maxy) + 1
