"""The cell table and the tissue-region table: a Qt model over the arrays, sorted and filtered in a worker.

Rows are indices into the object table; a cell shows ``array[rows[row]]`` only when Qt asks for it,
so a million rows cost one index array. A click centres and zooms the view on the object and marks it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from qtpy.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt
from qtpy.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ..results.coords import to_data, world_scale
from ..results.object_columns import (
    RowFilter,
    column_range,
    filter_rows,
    numeric_columns,
    sort_rows,
)
from ..results.result_set import ResultSet
from ..results.review import ReviewModel
from .camera import camera_of
from .workers import WorkerPool

if TYPE_CHECKING:
    from napari.components import ViewerModel
    from napari.layers import Points

__all__ = ["CellTablePanel", "ObjectTableModel"]

HIGHLIGHT_LAYER = "highlighted object"
ModelIndex = QModelIndex | QPersistentModelIndex


class ObjectTableModel(QAbstractTableModel):
    """Id, class and every numeric column of a review's objects, in the order of ``rows``."""

    def __init__(self, review: ReviewModel, mpp: float | None, parent: QObject | None = None):
        super().__init__(parent)
        self.review = review
        self.columns = numeric_columns(review.table, mpp)
        self.headers = ["id", "class", *self.columns]
        self.rows = np.flatnonzero(review.class_codes > 0)

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self.headers)

    def headerData(  # noqa: N802
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> str | None:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return self.headers[section]
        return None

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> str | None:
        if role != Qt.ItemDataRole.DisplayRole or not index.isValid():
            return None
        row = int(self.rows[index.row()])
        name = self.headers[index.column()]
        if name == "id":
            return str(self.review.table.ids[row])
        if name == "class":
            return self.review.class_name(row) or "not a cell"
        value = float(self.columns[name][row])
        return "" if np.isnan(value) else f"{value:.4g}"

    def sort_key(self, column: int) -> np.ndarray:
        """The numbers a column sorts by (classes by name, ids by their order in the file)."""
        name = self.headers[column]
        if name == "class":
            ranks = np.argsort(np.argsort(self.review.table.class_names)) + 1
            return np.concatenate([[0], ranks])[self.review.class_codes]
        if name == "id":
            return np.arange(len(self.review.table))
        return self.columns[name]

    def set_rows(self, rows: np.ndarray) -> None:
        """Show ``rows`` (object indices) in this order."""
        self.beginResetModel()
        self.rows = rows
        self.endResetModel()

    def object_at(self, row: int) -> int:
        """The object index of a table row."""
        return int(self.rows[row])


class CellTablePanel(QWidget):
    """Pick cells or a tissue-region layer; filter, sort, click to jump."""

    def __init__(
        self, viewer: ViewerModel, pool: WorkerPool | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.viewer = viewer
        self.pool = pool or WorkerPool()
        self.result: ResultSet | None = None
        self.sources: list[tuple[str, ReviewModel]] = []
        self.model: ObjectTableModel | None = None
        self._sorted: tuple[int, bool] | None = None
        viewer.layers.events.removed.connect(self._layer_removed)

        self.source = QComboBox()
        self.class_filter = QComboBox()
        self.column = QComboBox()
        self.low = QDoubleSpinBox()
        self.high = QDoubleSpinBox()
        for box in (self.low, self.high):
            box.setDecimals(3)
            box.setEnabled(False)  # a range only once a column is picked (its min and max)
        self.text = QLineEdit()
        self.text.setPlaceholderText("id contains…")
        self.count = QLabel("No results loaded.")
        self.view = QTableView()
        self.view.setSortingEnabled(False)  # sorting runs in a worker (see _sort)
        self.view.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        header = self.view.horizontalHeader()
        if header is not None:
            header.setSectionsClickable(True)
            header.setSortIndicatorShown(True)
            header.sectionClicked.connect(self._header_clicked)
            header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)

        layout = QVBoxLayout(self)
        top = QHBoxLayout()
        top.addWidget(QLabel("Table of"))
        top.addWidget(self.source, 1)
        top.addWidget(self.class_filter, 1)
        layout.addLayout(top)
        ranges = QHBoxLayout()
        ranges.addWidget(self.column, 1)
        ranges.addWidget(self.low)
        ranges.addWidget(QLabel("–"))
        ranges.addWidget(self.high)
        layout.addLayout(ranges)
        layout.addWidget(self.text)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.count)

        self.source.currentIndexChanged.connect(self._source_changed)
        self.class_filter.currentIndexChanged.connect(self.refilter)
        self.column.currentIndexChanged.connect(self._column_changed)
        for box in (self.low, self.high):
            box.editingFinished.connect(self.refilter)
        self.text.editingFinished.connect(self.refilter)
        self.view.clicked.connect(lambda index: self.jump_to(index.row()))

    def _layer_removed(self, event: object) -> None:
        """The result's cell layer left the viewer: drop its tables."""
        from ..results.result_layers import CELLS_KEY

        layer = getattr(event, "value", None)
        result = self.result
        if (
            result is None
            or layer is None
            or CELLS_KEY not in layer.metadata
            or not layer.name.startswith(f"{result.name} · ")
        ):
            return
        self.result, self.sources, self._sorted = None, [], None
        if self.model is not None:
            self.view.setModel(None)
            self.model.deleteLater()
            self.model = None
        self.source.clear()

    def show_results(self, result: ResultSet) -> None:
        """Tables of the result set's cells and of each of its tissue-region layers."""
        self.result = result
        self.sources = [("cells", result.review)] if result.review is not None else []
        self.sources += [(name, ReviewModel(table)) for name, table in result.regions]
        if result.review is not None:  # a corrected class leaves or joins the filtered rows
            result.review.on_classes_changed.append(lambda _rows: self.refilter())
        self.source.blockSignals(True)
        self.source.clear()
        self.source.addItems([name for name, _ in self.sources])
        self.source.blockSignals(False)
        self._source_changed(0)

    def _source_changed(self, position: int) -> None:
        if not 0 <= position < len(self.sources) or self.result is None:
            return
        review = self.sources[position][1]
        if self.model is not None:  # a Qt child of this panel: dropped with its cells
            self.model.deleteLater()
        self.model = ObjectTableModel(review, self.result.slide_mpp, self)
        self.view.setModel(self.model)
        self._sorted = None
        for combo, items in (
            (self.class_filter, ["all classes", *review.table.class_names]),
            (self.column, ["any value", *self.model.columns]),
        ):
            combo.blockSignals(True)
            combo.clear()
            combo.addItems(items)
            combo.blockSignals(False)
        self._column_changed(self.column.currentIndex())

    def _column_changed(self, position: int) -> None:
        """The range boxes span the picked column's values (all of them, until narrowed)."""
        model = self.model
        name = self.column.currentText() if position > 0 else None
        low, high = column_range(model.columns[name]) if model is not None and name else (0.0, 0.0)
        step = 10.0 ** -self.low.decimals()
        for box, value in ((self.low, low - step), (self.high, high + step)):
            box.blockSignals(True)
            box.setRange(low - step, high + step)
            box.setValue(value)
            box.setEnabled(name is not None)
            box.blockSignals(False)
        self.refilter()

    def row_filter(self) -> RowFilter:
        """The filter the controls describe."""
        column = self.column.currentText() if self.column.currentIndex() > 0 else None
        return RowFilter(
            class_code=self.class_filter.currentIndex() or None,
            column=column,
            low=self.low.value() if column else -np.inf,
            high=self.high.value() if column else np.inf,
            text=self.text.text().strip(),
        )

    def refilter(self) -> None:
        """Filter (then sort again) in a worker; the table changes when the answer comes."""
        model = self.model
        if model is None:
            return
        wanted, order = self.row_filter(), self._sorted

        def rows() -> np.ndarray:
            found = filter_rows(model.review, model.columns, wanted)
            if order is not None:
                found = sort_rows(found, model.sort_key(order[0]), order[1])
            return found

        self.pool.start(rows, on_done=lambda r: self._show(model, r), key="cell-table-rows")

    def _header_clicked(self, column: int) -> None:
        descending = self._sorted == (column, False)
        self.sort(column, descending)

    def sort(self, column: int, descending: bool = False) -> None:
        """Sort by a column in a worker (an argsort: under a second for a million rows)."""
        model = self.model
        if model is None:
            return
        self._sorted = (column, descending)
        header = self.view.horizontalHeader()
        if header is not None:
            order = Qt.SortOrder.DescendingOrder if descending else Qt.SortOrder.AscendingOrder
            header.setSortIndicator(column, order)
        rows, key = model.rows, model.sort_key(column)
        self.pool.start(
            sort_rows,
            rows,
            key,
            descending,
            on_done=lambda r: self._show(model, r),
            key="cell-table-rows",
        )

    def _show(self, model: ObjectTableModel, rows: np.ndarray) -> None:
        if model is not self.model:
            return  # another source was picked meanwhile
        model.set_rows(rows)
        total = int((model.review.class_codes > 0).sum())
        self.count.setText(f"{len(rows)} of {total} rows")

    def jump_to(self, row: int) -> int | None:
        """Centre and zoom the view on the object of a table row and mark it; its index."""
        if self.model is None or self.result is None or not 0 <= row < len(self.model.rows):
            return None
        index = self.model.object_at(row)
        review = self.model.review
        mpp = self.result.slide_mpp
        center, zoom = review.jump_target(index, mpp)
        self._highlight(to_data(review.table.centroids[[index]]), mpp)  # may reset the view
        camera = camera_of(self.viewer)
        camera.center, camera.zoom = center, zoom
        return index

    def _highlight(self, point: np.ndarray, mpp: float | None) -> None:
        layer: Points | None = next(
            (lay for lay in self.viewer.layers if lay.name == HIGHLIGHT_LAYER), None
        )  # type: ignore[assignment]
        if layer is None:
            scale, units = world_scale(mpp)
            layer = self.viewer.add_points(
                point,
                name=HIGHLIGHT_LAYER,
                scale=scale,
                units=units,
                size=40,
                face_color="transparent",
                border_color="yellow",
                border_width=0.15,
            )
        else:
            layer.data = point
