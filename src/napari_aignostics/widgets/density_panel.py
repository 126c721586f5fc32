"""Density maps and hotspots of the reviewed cells: choose a class, a tissue region and a grid.

The numbers come from ``results.density`` in worker threads; this panel only adds the Image and
Shapes layers, the colour bar and the hotspot table (a click on a row moves the camera there).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from qtpy.QtCore import QTimer
from qtpy.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QPushButton,
    QSpinBox,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..results.density import DensityMap, Hotspot, Region, density_map, find_hotspots
from ..results.result_set import ResultSet
from ..results.review import ReviewModel
from .camera import camera_of
from .colour_bar import RangeControl
from .table_widget import make_table
from .workers import WorkerPool

if TYPE_CHECKING:
    from napari.components import ViewerModel
    from napari.layers import Image, Shapes

__all__ = ["DensityPanel"]

ALL_CELLS = "All cells"
WHOLE_SLIDE = "Whole slide"
HOTSPOT_COLUMNS = ("#", "Cells", "Cells/mm²", "Area mm²")


class DensityPanel(QGroupBox):
    """Controls and results of density maps and hotspots for one result set."""

    def __init__(
        self, viewer: ViewerModel, pool: WorkerPool, parent: QWidget | None = None
    ) -> None:
        super().__init__("Density and hotspots", parent)
        self.viewer, self.pool = viewer, pool
        self.result: ResultSet | None = None
        self.review: ReviewModel | None = None
        self.layer: Image | None = None
        self.hotspot_layer: Shapes | None = None
        self.map: DensityMap | None = None
        self.hotspots: list[Hotspot] = []
        self.cell_class = QComboBox()
        self.region = QComboBox()
        self.grid = QDoubleSpinBox()
        self.grid.setRange(5.0, 5000.0)
        self.grid.setValue(100.0)
        self.grid.setSuffix(" µm")
        self.window_um = QDoubleSpinBox()
        self.window_um.setRange(20.0, 20000.0)
        self.window_um.setValue(1000.0)
        self.window_um.setSuffix(" µm")
        self.top = QSpinBox()
        self.top.setRange(1, 50)
        self.top.setValue(5)
        self.map_button = QPushButton("Density map")
        self.hotspot_button = QPushButton("Find hotspots")
        self.range = RangeControl()
        self.range.setVisible(False)
        self.table = make_table(HOTSPOT_COLUMNS, stretch=2)
        self.table.setMaximumHeight(160)
        self.table.setVisible(False)
        self._again = QTimer()
        self._again.setSingleShot(True)
        self._again.setInterval(300)  # corrections come in bursts: recompute once after them
        self._again.timeout.connect(self._recompute)

        for combo in (self.cell_class, self.region):  # long class names never widen the dock
            combo.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
            )
            combo.setMinimumContentsLength(10)
        self.top.setPrefix("top ")
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        form.addRow("Cells", self.cell_class)
        form.addRow("Within", self.region)
        form.addRow("Grid", self.grid)
        windows = QHBoxLayout()
        windows.addWidget(self.window_um, 2)
        windows.addWidget(self.top, 1)
        form.addRow("Hotspots", windows)
        buttons = QHBoxLayout()
        buttons.addWidget(self.map_button)
        buttons.addWidget(self.hotspot_button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.range)
        layout.addWidget(self.table)
        self.map_button.clicked.connect(self.compute_map)
        self.hotspot_button.clicked.connect(self.compute_hotspots)
        self.range.changed.connect(self._range_changed)
        self.table.cellClicked.connect(lambda row, _col: self.jump_to(row))
        self.setEnabled(False)

    def release(self) -> None:
        """Forget the result (its layers left the viewer); its map and hotspot layers go too."""
        self._again.stop()
        for layer in (self.layer, self.hotspot_layer):
            if layer is not None and layer in self.viewer.layers:
                self.viewer.layers.remove(layer)
        self.result = self.review = None
        self.layer = self.hotspot_layer = None
        self.map, self.hotspots = None, []
        self.range.setVisible(False)
        self.table.setVisible(False)
        self.setEnabled(False)

    def show_results(self, result: ResultSet, review: ReviewModel) -> None:
        """Offer the classes of ``review`` and the tissue classes of ``result``."""
        self.result, self.review = result, review
        self.cell_class.clear()
        self.cell_class.addItems([ALL_CELLS, *review.class_names])
        self.region.clear()
        tissue = sorted({str(c) for _stem, table in result.regions for c in table.colors})
        self.region.addItems([WHOLE_SLIDE, *tissue])
        self.layer = self.hotspot_layer = None
        self.map, self.hotspots = None, []
        self.range.setVisible(False)
        self.table.setVisible(False)
        review.on_classes_changed.append(lambda _indices: self._classes_changed())
        self.setEnabled(result.slide_mpp is not None)
        self.setToolTip("" if result.slide_mpp else "Densities need the slide's µm per pixel.")

    # --- what is asked ----------------------------------------------------------------------------

    def _question(self) -> tuple[np.ndarray, Region | None, str]:
        """The chosen cells' centroids, the region and a label (on the GUI thread: cheap)."""
        assert self.review is not None and self.result is not None
        review = self.review
        chosen = self.cell_class.currentText()
        keep = review.shown()
        if chosen != ALL_CELLS:
            keep &= review.class_codes == review.class_names.index(chosen) + 1
        region = None
        tissue = self.region.currentText()
        if tissue and tissue != WHOLE_SLIDE:
            polygons = [
                table.geometry.to_shapely(np.flatnonzero(table.classes == tissue))
                for _stem, table in self.result.regions
            ]
            region = Region(tissue, np.concatenate(polygons) if polygons else np.zeros(0, object))
        label = "cells" if chosen == ALL_CELLS else chosen
        return review.table.centroids[keep], region, label

    def _slide(self) -> tuple[tuple[int, int], float]:
        assert self.result is not None and self.review is not None
        size = self.result.slide_size
        if size is None:
            _, _, maxx, maxy = self.review.table.bounds()
            size = (int(maxx) + 1, int(maxy) + 1)
        return size, float(self.result.slide_mpp or 1.0)

    def compute_map(self) -> None:
        """Build the density map in a worker; the layer follows on the GUI thread."""
        if self.review is None:
            return
        xy, region, label = self._question()
        size, mpp = self._slide()
        grid = self.grid.value()
        self.pool.start(
            density_map, xy, size, mpp, grid, region, label, key="density", on_done=self._show_map
        )

    def compute_hotspots(self) -> None:
        """Search the hotspots in a worker; boxes and table follow on the GUI thread."""
        if self.review is None:
            return
        xy, region, _label = self._question()
        size, mpp = self._slide()
        self.pool.start(
            find_hotspots,
            xy,
            size,
            mpp,
            self.window_um.value(),
            self.top.value(),
            4,
            region,
            key="hotspots",
            on_done=self._show_hotspots,
        )

    # --- answers ----------------------------------------------------------------------------------

    def _show_map(self, density: DensityMap) -> None:
        from napari.layers import Layer

        from ..results.result_layers import density_layer

        assert self.result is not None
        self.map = density
        name = f"{self.result.name} · density of {density.label}"
        data, kwargs, kind = density_layer(name, density, self.result.slide_mpp)
        if self.layer is not None and self.layer in self.viewer.layers:
            self.layer.data = data
            self.layer.name = name
        else:
            self.layer = Layer.create(data, kwargs, kind)
            self.viewer.add_layer(self.layer)
        self.range.setVisible(True)
        self.range.colormaps.setCurrentText(str(kwargs["colormap"]))
        self.range.set_range(0.0, density.peak or 1.0, default=True, title="cells per mm²")

    def _range_changed(self) -> None:
        if self.layer is not None:
            self.layer.contrast_limits = self.range.range()
            self.layer.colormap = self.range.colormap

    def _show_hotspots(self, spots: list[Hotspot]) -> None:
        from napari.layers import Layer

        from ..results.result_layers import hotspot_layer

        assert self.result is not None
        self.hotspots = spots
        self.table.setRowCount(0)
        for row, spot in enumerate(spots):
            self.table.insertRow(row)
            values = (row + 1, spot.count, f"{spot.density:.0f}", f"{spot.area_mm2:.3f}")
            for col, value in enumerate(values):
                self.table.setItem(row, col, QTableWidgetItem(str(value)))
        self.table.setVisible(True)
        if self.hotspot_layer is not None and self.hotspot_layer in self.viewer.layers:
            self.viewer.layers.remove(self.hotspot_layer)
        data, kwargs, kind = hotspot_layer(
            f"{self.result.name} · hotspots", spots, self.result.slide_mpp
        )
        self.hotspot_layer = Layer.create(data, kwargs, kind)
        self.viewer.add_layer(self.hotspot_layer)

    def jump_to(self, row: int) -> None:
        """Centre the view on hotspot ``row`` with the whole window in view."""
        if not 0 <= row < len(self.hotspots) or self.result is None:
            return
        spot = self.hotspots[row]
        mpp = self.result.slide_mpp or 1.0
        x, y = spot.center
        side = (spot.box[2] - spot.box[0]) * mpp
        camera = camera_of(self.viewer)
        camera.center = ((y - 0.5) * mpp, (x - 0.5) * mpp)
        camera.zoom = 600.0 / (1.2 * side)

    # --- corrections ------------------------------------------------------------------------------

    def _classes_changed(self, *_: Any) -> None:
        if self.map is not None or self.hotspots:
            self._again.start()

    def _recompute(self) -> None:
        if self.map is not None:
            self.compute_map()
        if self.hotspots:
            self.compute_hotspots()
