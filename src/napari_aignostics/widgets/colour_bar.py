"""A colour bar legend (the colormap's gradient, range and title) and the controls of that range."""

from __future__ import annotations

import numpy as np
from qtpy.QtCore import QRectF, Qt, Signal
from qtpy.QtGui import QColor, QLinearGradient, QPainter, QPaintEvent
from qtpy.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from ..results.measure_colors import colormap_lut

__all__ = ["COLORMAPS", "ColourBar", "RangeControl"]

COLORMAPS = ("viridis", "magma", "inferno", "plasma", "cividis", "turbo")

STOPS = 16


class ColourBar(QWidget):
    """Gradient of a lookup table from ``low`` to ``high`` with three tick labels."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.lut = np.zeros((0, 4), dtype=np.float32)
        self.low, self.high, self.title = 0.0, 1.0, ""
        self.setMinimumHeight(44)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setVisible(False)

    def show_range(self, lut: np.ndarray, low: float, high: float, title: str) -> None:
        """Show ``lut`` (N × RGBA in [0, 1]) spanning ``low`` … ``high``."""
        self.lut, self.low, self.high, self.title = lut, low, high, title
        self.setVisible(True)
        self.update()

    def labels(self) -> list[str]:
        """The tick labels (low, middle, high)."""
        return [f"{v:.3g}" for v in (self.low, (self.low + self.high) / 2, self.high)]

    def paintEvent(self, event: QPaintEvent | None) -> None:  # noqa: N802 (Qt's name)
        if not len(self.lut):
            return
        painter = QPainter(self)
        width, height = self.width(), self.height()
        bar = QRectF(4, 16, width - 8, 12)
        gradient = QLinearGradient(bar.left(), 0, bar.right(), 0)
        picks = np.linspace(0, len(self.lut) - 1, STOPS).astype(int)
        for k, i in enumerate(picks):
            r, g, b, a = (int(round(float(c) * 255)) for c in self.lut[i])
            gradient.setColorAt(k / (STOPS - 1), QColor(r, g, b, a))
        painter.fillRect(bar, gradient)
        painter.setPen(self.palette().windowText().color())
        painter.drawText(QRectF(4, 0, width - 8, 14), Qt.AlignmentFlag.AlignLeft, self.title)
        low, mid, high = self.labels()
        row = QRectF(4, 30, width - 8, height - 30)
        painter.drawText(row, Qt.AlignmentFlag.AlignLeft, low)
        painter.drawText(row, Qt.AlignmentFlag.AlignHCenter, mid)
        painter.drawText(row, Qt.AlignmentFlag.AlignRight, high)
        painter.end()


class RangeControl(QWidget):
    """Colormap, low and high of a colour scale, with its colour bar; emits :attr:`changed`."""

    changed = Signal()
    """The colormap or the range changed (read :attr:`colormap` and :meth:`range`)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.colormaps = QComboBox()
        self.colormaps.addItems(COLORMAPS)
        self.low, self.high = QDoubleSpinBox(), QDoubleSpinBox()
        for box in (self.low, self.high):
            box.setRange(-1e12, 1e12)
            box.setDecimals(3)
            box.setKeyboardTracking(False)  # typing a number is one change, not one per key
        self.reset = QPushButton("Reset")
        self.bar = ColourBar()
        self._default = (0.0, 1.0)
        self._title = ""
        row = QHBoxLayout()
        row.addWidget(self.colormaps)
        row.addWidget(self.low)
        row.addWidget(self.high)
        row.addWidget(self.reset)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.bar)
        self.colormaps.currentTextChanged.connect(self._changed)
        self.low.valueChanged.connect(self._changed)
        self.high.valueChanged.connect(self._changed)
        self.reset.clicked.connect(lambda: self.set_range(*self._default, default=True))

    @property
    def colormap(self) -> str:
        """The chosen napari colormap."""
        return self.colormaps.currentText()

    def range(self) -> tuple[float, float]:
        """(low, high); ``high`` is kept above ``low``."""
        low, high = self.low.value(), self.high.value()
        return (low, high) if high > low else (low, low + max(abs(low) * 1e-3, 1e-6))

    def set_range(
        self, low: float, high: float, *, default: bool = False, title: str | None = None
    ) -> None:
        """Show a range (``default``: also what Reset goes back to) without emitting per box."""
        if default:
            self._default = (low, high)
        if title is not None:
            self._title = title
        step = (high - low) / 100 if high > low else 0.01
        for box, value in ((self.low, low), (self.high, high)):
            box.blockSignals(True)
            box.setSingleStep(step)
            box.setValue(value)
            box.blockSignals(False)
        self._changed()

    def _changed(self, *_: object) -> None:
        low, high = self.range()
        self.bar.show_range(colormap_lut(self.colormap), low, high, self._title)
        self.changed.emit()
