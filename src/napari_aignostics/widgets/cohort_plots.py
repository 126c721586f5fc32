"""Cohort plots in the dock: the phenotype scatter (or any two columns), per-class bars or boxes.

Drawing is :mod:`..results.cohort_figures` on a matplotlib canvas embedded in Qt; a click near a
point of a scatter opens that slide.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from qtpy.QtCore import Signal
from qtpy.QtWidgets import QComboBox, QHBoxLayout, QVBoxLayout, QWidget

from ..results.cohort import CohortTable
from ..results.cohort_figures import CLASS_PREFIXES, draw_classes, draw_scatter

if TYPE_CHECKING:
    from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
    from matplotlib.figure import Figure

__all__ = ["PLOTS", "CohortPlots"]

PLOTS = ("phenotype", "scatter", "bars per class", "boxes per class")
PICK_RADIUS_PX = 8.0


class CohortPlots(QWidget):
    """A plot kind chooser, axis choosers and the canvas."""

    point_clicked = Signal(int)
    """table row of the slide whose point was clicked"""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.table = CohortTable()
        self.kind = QComboBox()
        self.kind.addItems(PLOTS)
        self.x_box = QComboBox()
        self.y_box = QComboBox()
        self.prefix = QComboBox()
        self.prefix.addItems(CLASS_PREFIXES)
        self._canvas: FigureCanvasQTAgg | None = None
        """Made at the first draw: matplotlib is imported then, not when the dock opens."""
        self.points: list[int] = []
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        choose = QHBoxLayout()
        for widget in (self.kind, self.x_box, self.y_box, self.prefix):
            choose.addWidget(widget)
        self._layout.addLayout(choose)
        self._layout.addStretch(1)
        for box in (self.kind, self.x_box, self.y_box, self.prefix):
            box.currentTextChanged.connect(lambda _text: self.redraw())
        self._show_choosers()

    @property
    def canvas(self) -> FigureCanvasQTAgg:
        """The matplotlib canvas (made on first use)."""
        if self._canvas is None:
            from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
            from matplotlib.figure import Figure

            self._canvas = FigureCanvasQTAgg(Figure(figsize=(4, 3), layout="constrained"))
            self._canvas.setMinimumHeight(220)
            self._canvas.mpl_connect("button_press_event", self._clicked)
            self._layout.insertWidget(1, self._canvas, 1)
            self._layout.takeAt(2)  # the stretch that held the canvas's place
        return self._canvas

    @property
    def figure(self) -> Figure:
        """The figure the plots are drawn on."""
        return self.canvas.figure

    def set_table(self, table: CohortTable) -> None:
        """Plot another (or a changed) cohort."""
        self.table = table
        numeric = [c for c in table.columns if c in table.ratios or c in table.readout_columns]
        for box in (self.x_box, self.y_box):
            chosen = box.currentText()
            box.blockSignals(True)
            box.clear()
            box.addItems(numeric)
            if chosen in numeric:
                box.setCurrentText(chosen)
            box.blockSignals(False)
        self.redraw()

    def redraw(self) -> None:
        self._show_choosers()
        self.figure.clear()
        kind = self.kind.currentText()
        self.points = []
        if kind == "phenotype":
            self.points = draw_scatter(self.figure, self.table)
        elif kind == "scatter":
            self.points = draw_scatter(
                self.figure, self.table, self.x_box.currentText() or None, self.y_box.currentText() or None
            )
        else:
            style = "box" if kind.startswith("boxes") else "bar"
            draw_classes(self.figure, self.table, self.prefix.currentText(), style)
        self.canvas.draw_idle()

    def _show_choosers(self) -> None:
        kind = self.kind.currentText()
        self.x_box.setVisible(kind == "scatter")
        self.y_box.setVisible(kind == "scatter")
        self.prefix.setVisible(kind not in ("phenotype", "scatter"))

    def _axes_columns(self) -> tuple[str | None, str | None]:
        if self.kind.currentText() == "scatter":
            return self.x_box.currentText() or None, self.y_box.currentText() or None
        return self.table.rule.columns(self.table.readout_columns)

    def nearest(self, x_px: float, y_px: float) -> int | None:
        """The table row of the point within a few pixels of (x, y) in display pixels."""
        x_column, y_column = self._axes_columns()
        if not self.points or not self.figure.axes or x_column is None or y_column is None:
            return None
        xs, ys = self.table.numbers(x_column), self.table.numbers(y_column)
        data = np.array([[xs[i], ys[i]] for i in self.points], dtype=float)
        shown = self.figure.axes[0].transData.transform(data)
        distance = np.hypot(shown[:, 0] - x_px, shown[:, 1] - y_px)
        best = int(np.argmin(distance))
        return self.points[best] if distance[best] <= PICK_RADIUS_PX else None

    def _clicked(self, event: Any) -> None:
        if event.inaxes is None:
            return
        row = self.nearest(event.x, event.y)
        if row is not None:
            self.point_clicked.emit(row)
