"""Small helpers for the dock's tables."""

from __future__ import annotations

from collections.abc import Sequence

from qtpy.QtWidgets import QHeaderView, QTableWidget

__all__ = ["make_table", "selected_rows"]


def make_table(columns: Sequence[str], stretch: int) -> QTableWidget:
    """A read-only table with headers, one stretching column and no row numbers."""
    table = QTableWidget(0, len(columns))
    table.setHorizontalHeaderLabels(list(columns))
    table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
    header = table.horizontalHeader()
    if header is not None:
        header.setSectionResizeMode(stretch, QHeaderView.ResizeMode.Stretch)
    vertical = table.verticalHeader()
    if vertical is not None:
        vertical.setVisible(False)
    return table


def selected_rows(table: QTableWidget) -> list[int]:
    """Indices of the selected rows."""
    model = table.selectionModel()
    return sorted(index.row() for index in model.selectedRows()) if model is not None else []
