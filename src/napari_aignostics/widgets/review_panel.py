"""Review: class visibility and colours, confidence threshold, counts, the cell under the cursor, export."""

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
from ..results.result_set import ResultSet
from ..results.review import ReviewModel
from .cell_layers import CellLayers
from .table_widget import make_table

if TYPE_CHECKING:
    from napari.components import ViewerModel
    from napari.layers import Labels, Points, Shapes

    from .viewport import InViewOutlines

CLASS_COLUMNS = ("Show", "Class", "Colour", "Cells")


class ReviewPanel(QWidget):
    """Drives a :class:`ReviewModel`; every change updates the raster, points and outlines."""

    def __init__(self, viewer: ViewerModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.viewer = viewer
        self.result: ResultSet | None = None
        self.review: ReviewModel | None = None
        self.raster: Labels | None = None
        self.points: Points | None = None
        self._point_colors: tuple[tuple[str, tuple[int, int, int]], ...] = ()
        self.outlines: Shapes | None = None
        self._in_view: InViewOutlines | None = None

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

        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.classes, 2)
        form = QFormLayout()
        row = QHBoxLayout()
        row.addWidget(self.confidence)
        row.addWidget(self.confidence_label)
        form.addRow("Confidence", row)
        form.addRow("Opacity", self.opacity)
        layout.addLayout(form)
        layout.addWidget(self.total)
        layout.addWidget(self.under_cursor)
        layout.addWidget(self.readouts)
        buttons = QHBoxLayout()
        buttons.addWidget(self.export_geojson_button)
        buttons.addWidget(self.export_csv_button)
        layout.addLayout(buttons)

        self.confidence.valueChanged.connect(self._confidence_changed)
        self.opacity.valueChanged.connect(self._opacity_changed)
        self.export_geojson_button.clicked.connect(lambda: self._export("geojson"))
        self.export_csv_button.clicked.connect(lambda: self._export("csv"))
        self._set_enabled(False)

    def _set_enabled(self, enabled: bool) -> None:
        for widget in (
            self.confidence,
            self.opacity,
            self.export_geojson_button,
            self.export_csv_button,
        ):
            widget.setEnabled(enabled)

    # --- results ----------------------------------------------------------------------------------

    def show_results(self, result: ResultSet, layers: CellLayers) -> None:
        """Review the cells of a freshly added result set, shown in ``layers``."""
        from .viewport import InViewOutlines

        self.result, self.review = result, result.review
        assert self.review is not None
        self.raster, self.points, self.outlines = layers.raster, layers.points, layers.outlines
        self._point_colors = self._colors_key()  # the layer was made with these colours
        self.review.on_classes_changed.append(self._classes_changed)  # corrections
        if self.outlines is not None and self.raster is not None:
            self._in_view = InViewOutlines(self.viewer, self.outlines, self.raster, self.review)
        self.title.setText(f"<b>{result.name}</b>: {len(self.review.table)} cells")
        self._fill_classes()
        self._show_readouts()
        if self._hover not in self.viewer.mouse_move_callbacks:
            self.viewer.mouse_move_callbacks.append(self._hover)
        if self._click not in self.viewer.mouse_drag_callbacks:
            self.viewer.mouse_drag_callbacks.append(self._click)
        self._set_enabled(True)
        self.apply()

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
            for layer in (self.raster, self.points, self.outlines):
                if layer is not None:
                    layer.opacity = value / 100

    def _colors_key(self) -> tuple[tuple[str, tuple[int, int, int]], ...]:
        styles = self.review.styles if self.review is not None else {}
        return tuple((name, style.color) for name, style in styles.items())

    def apply(self) -> None:
        """Push the model to the layers and the counts."""
        review = self.review
        if review is None:
            return
        from napari.utils.colormaps import DirectLabelColormap

        shown = review.shown()
        if self.points is not None:
            colors = self._colors_key()
            if colors != self._point_colors and len(shown):
                self.points.face_color = review.face_colors()  # ~0.2 s for 1M: only on change
                self._point_colors = colors
            self.points.shown = shown
        if self.raster is not None:
            self.raster.colormap = DirectLabelColormap(color_dict=review.label_colors())
        if self._in_view is not None:
            self._in_view.refresh()
        self.show_counts(shown)

    def _classes_changed(self, _rows: np.ndarray) -> None:
        """Corrected classes: counts and outlines follow (the raster's colours stay as they are)."""
        if self.review is not None:
            self.show_counts(self.review.shown())
        if self._in_view is not None:
            self._in_view.refresh()

    def show_counts(self, shown: np.ndarray) -> None:
        """The shown and total cells per class, and in all."""
        review = self.review
        if review is None:
            return
        counts = review.counts(shown)
        largest = max((total for _shown, total in counts.values()), default=1) or 1
        for row, name in enumerate(review.styles):
            shown_count, total = counts[name]
            bar = self.classes.cellWidget(row, 3)
            if isinstance(bar, QProgressBar):  # a bar chart of the shown cells per class
                bar.setRange(0, largest)
                bar.setValue(shown_count)
                bar.setFormat(f"{shown_count} / {total}")
        self.total.setText(f"{int(shown.sum())} of {len(shown)} cells shown")

    # --- cursor and export ------------------------------------------------------------------------

    def _click(self, viewer: Any, event: Any) -> None:
        """A click pins the cell under the cursor (its properties stay until the next click)."""
        self._pinned = False
        self._hover(viewer, event)
        self._pinned = self.review is not None and bool(self.under_cursor.text())

    def _hover(self, viewer: Any, event: Any) -> None:
        if (
            self.review is None
            or self.result is None
            or (event.type == "mouse_move" and getattr(self, "_pinned", False))
        ):
            return
        scale = self.result.slide_mpp or 1.0
        y, x = viewer.cursor.position[-2:]
        index = self.review.object_at(x / scale + 0.5, y / scale + 0.5, radius=2.0)
        if index is None:
            return
        props = self.review.properties(index)
        text = ", ".join(
            f"{k}: {v:.3g}" if isinstance(v, float) else f"{k}: {v}" for k, v in props.items()
        )
        self.under_cursor.setText(text)

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
        written = writer(self.review.table, path, mask, self.review.class_codes())
        show_info(f"exported {int(np.count_nonzero(mask))} cells to {written}")
        return written
