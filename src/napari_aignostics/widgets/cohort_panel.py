"""Cohort tab: a run's slides as one sortable, filterable table; a click opens a slide with its results.

The table is a view over :class:`..results.cohort.CohortTable` (read in workers); opening a slide goes
through the results loader, and the layers of the slide shown before are closed unless pinned.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from napari.utils.notifications import show_info, show_warning
from qtpy.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt, Signal
from qtpy.QtGui import QColor, QKeySequence, QPixmap, QShortcut
from qtpy.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ..platform.results_layout import run_folder
from ..results.cohort import CohortRow, CohortTable
from ..results.phenotype import PHENOTYPE_COLORS, Phenotype, PhenotypeRule
from ..workflow.session import Session
from .cohort_plots import CohortPlots
from .results_loader import ResultsLoader
from .workers import WorkerPool

if TYPE_CHECKING:
    from napari.components import ViewerModel
    from napari.layers import Layer

__all__ = ["CohortModel", "CohortPanel"]

THUMB_PX = 48
ModelIndex = QModelIndex | QPersistentModelIndex


class CohortModel(QAbstractTableModel):
    """Rows of a :class:`CohortTable` in a sorted, filtered order; thumbnails as decorations."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.table = CohortTable()
        self.order: list[int] = []
        self.thumbnails: dict[str, QPixmap] = {}
        self._sort: tuple[str, bool] | None = None
        self._filter = ""

    # --- contents --------------------------------------------------------------------------------

    def set_table(self, table: CohortTable) -> None:
        """Show another cohort."""
        self.beginResetModel()
        self.table = table
        self.thumbnails = {}
        self._reorder()
        self.endResetModel()

    def refresh(self) -> None:
        """Rows or columns changed (an item finished, a rule or ratio was edited)."""
        self.beginResetModel()
        self._reorder()
        self.endResetModel()

    def set_thumbnail(self, external_id: str, png: bytes) -> None:
        pixmap = QPixmap()
        pixmap.loadFromData(png)
        self.thumbnails[external_id] = pixmap.scaled(
            THUMB_PX, THUMB_PX, Qt.AspectRatioMode.KeepAspectRatio
        )
        index = self.table.index_of(external_id)
        if index is not None and index in self.order:
            at = self.index(self.order.index(index), 0)
            self.dataChanged.emit(at, at, [Qt.ItemDataRole.DecorationRole])

    def set_filter(self, text: str) -> None:
        """Keep rows whose slide, state, message or phenotype contain ``text`` (any case)."""
        self._filter = text.strip().lower()
        self.refresh()

    def row_at(self, view_row: int) -> int:
        """The table row shown at ``view_row``."""
        return self.order[view_row]

    def view_row_of(self, table_row: int) -> int | None:
        return self.order.index(table_row) if table_row in self.order else None

    def _reorder(self) -> None:
        table = self.table
        if self._sort is not None and self._sort[0] in table.columns:
            order = table.sorted_indices(*self._sort)
        else:
            order = list(range(len(table.rows)))
        if self._filter:
            words = ("slide", "state", "message", "phenotype")
            order = [
                i
                for i in order
                if any(self._filter in str(table.value(i, w)).lower() for w in words)
            ]
        self.order = order

    # --- Qt model --------------------------------------------------------------------------------

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self.order)

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self.table.columns)

    def headerData(  # noqa: N802
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return self.table.columns[section]
        return None

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self.order[index.row()]
        column = self.table.columns[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            value = self.table.value(row, column)
            if isinstance(value, float):
                return f"{value:.4g}"
            return value or ""
        if role == Qt.ItemDataRole.ToolTipRole and column in ("slide", "message"):
            item = self.table.rows[row]
            return f"{item.external_id}\n{item.message}".strip()
        if role == Qt.ItemDataRole.DecorationRole and column == "slide":
            return self.thumbnails.get(self.table.rows[row].external_id)
        if role == Qt.ItemDataRole.BackgroundRole and column == "phenotype":
            phenotype = Phenotype(str(self.table.value(row, "phenotype")))
            colour = QColor(PHENOTYPE_COLORS[phenotype])
            colour.setAlpha(110)
            return colour
        return None

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self.layoutAboutToBeChanged.emit()
        descending = order == Qt.SortOrder.DescendingOrder
        self._sort = (self.table.columns[column], descending) if column >= 0 else None
        self._reorder()
        self.layoutChanged.emit()


def _read_table(folder: Path) -> CohortTable:
    return CohortTable.from_folder(folder)


def _thumbnails(rows: list[CohortRow]) -> Any:
    from ..results.cohort_thumbnails import thumbnail_png

    for row in rows:
        path = row.slide_path
        if path is None:
            continue
        try:
            yield row.external_id, thumbnail_png(path)
        except Exception:  # noqa: BLE001 - a slide that cannot be read has no thumbnail, says why on open
            continue


class CohortPanel(QWidget):
    """The Cohort tab: table, phenotype thresholds, ratio column, plots, exports, slide navigation."""

    slide_opened = Signal(str)
    """external id of the slide just opened from the table"""

    def __init__(
        self,
        viewer: ViewerModel,
        session: Session,
        loader: ResultsLoader,
        pool: WorkerPool,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.viewer = viewer
        self.session = session
        self.loader = loader
        self.pool = pool
        self.model = CohortModel(self)
        self.current: int | None = None
        self._layers: list[Layer] = []
        self._collecting = False
        self._collecting_id = ""
        self._queued: int | None = None
        """A row asked for while the last slide's layers were still arriving (opened next)."""

        self.title = QLabel(
            "No cohort yet: follow a run, load one in Runs, or open a results folder."
        )
        self.title.setWordWrap(True)
        self.open_folder_button = QPushButton("Open results folder…")
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("filter: slide, state, message or phenotype")
        self.view = QTableView()
        self.view.setModel(self.model)
        header = self.view.horizontalHeader()
        if header is not None:
            header.setSortIndicator(-1, Qt.SortOrder.AscendingOrder)  # the run's order first
        self.view.setSortingEnabled(True)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        rows = self.view.verticalHeader()
        if rows is not None:
            rows.setDefaultSectionSize(THUMB_PX + 4)

        self.measure = QComboBox()
        self.measure.addItems(["density", "percentage"])
        self.carcinoma = _threshold_box(PhenotypeRule().carcinoma_threshold)
        self.stroma = _threshold_box(PhenotypeRule().stroma_threshold)
        self.numerator = QComboBox()
        self.denominator = QComboBox()
        self.ratio_button = QPushButton("Add ratio")
        self.previous_button = QPushButton("◀ Previous")
        self.next_button = QPushButton("Next ▶")
        self.pin = QCheckBox("Keep this slide's layers")
        self.csv_button = QPushButton("CSV…")
        self.report_button = QPushButton("HTML report…")
        self.qupath_button = QPushButton("QuPath project…")
        self.csv_button.setToolTip("Save the table as CSV")
        self.report_button.setToolTip("Save a self-contained HTML report (figures, thumbnails)")
        self.qupath_button.setToolTip("Save a QuPath project of every slide with its objects")
        self.plots = CohortPlots(self)

        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        top = QHBoxLayout()
        top.addWidget(self.open_folder_button)
        top.addWidget(self.filter, 1)
        layout.addLayout(top)
        controls = QWidget()
        form = QGridLayout(controls)
        form.setContentsMargins(0, 0, 0, 0)
        form.addWidget(QLabel("Phenotype on lymphocyte"), 0, 0)
        form.addWidget(self.measure, 0, 1)
        form.addWidget(QLabel("in carcinoma ≥"), 0, 2)
        form.addWidget(self.carcinoma, 0, 3)
        form.addWidget(QLabel("in stroma ≥"), 1, 2)
        form.addWidget(self.stroma, 1, 3)
        form.addWidget(QLabel("Ratio column"), 2, 0)
        form.addWidget(self.numerator, 2, 1, 1, 2)
        form.addWidget(self.denominator, 3, 1, 1, 2)
        form.addWidget(self.ratio_button, 3, 3)
        form.addWidget(self.previous_button, 4, 0)
        form.addWidget(self.next_button, 4, 1)
        form.addWidget(self.pin, 4, 2, 1, 2)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.view)
        split.addWidget(controls)
        split.addWidget(self.plots)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(2, 2)
        layout.addWidget(split, 1)
        exports = QHBoxLayout()
        for widget in (self.csv_button, self.report_button, self.qupath_button):
            exports.addWidget(widget)
        layout.addLayout(exports)

        self.open_folder_button.clicked.connect(self._choose_folder)
        self.filter.textChanged.connect(self.model.set_filter)
        self.view.clicked.connect(lambda index: self.open_row(self.model.row_at(index.row())))
        self.view.activated.connect(lambda index: self.open_row(self.model.row_at(index.row())))
        for box in (self.carcinoma, self.stroma):
            box.valueChanged.connect(self._rule_changed)
        self.measure.currentTextChanged.connect(self._rule_changed)
        self.ratio_button.clicked.connect(self._add_ratio)
        self.previous_button.clicked.connect(lambda: self.step(-1))
        self.next_button.clicked.connect(lambda: self.step(1))
        self.csv_button.clicked.connect(self._save_csv)
        self.report_button.clicked.connect(self._save_report)
        self.qupath_button.clicked.connect(self._save_qupath)
        self.plots.point_clicked.connect(self.open_row)
        for keys, delta in (("Alt+Right", 1), ("Alt+Left", -1), ("Alt+Down", 1), ("Alt+Up", -1)):
            shortcut = QShortcut(QKeySequence(keys), self)
            shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
            shortcut.activated.connect(lambda d=delta: self.step(d))
        self.viewer.layers.events.inserted.connect(self._layer_inserted)
        self.loader.item_loaded.connect(self._item_shown)
        self.loader.item_failed.connect(self._item_shown)

    # --- sources ---------------------------------------------------------------------------------

    @property
    def table(self) -> CohortTable:
        return self.model.table

    def show_table(self, table: CohortTable) -> None:
        """Show a cohort (GUI thread) and make its thumbnails in a worker."""
        self.model.set_table(table)
        self._update_title()
        self._fill_columns()
        self.plots.set_table(table)
        self.pool.start(
            _thumbnails,
            list(table.rows),
            on_yield=lambda pair: self.model.set_thumbnail(*pair),
            key="cohort-thumbnails",
        )

    def show_folder(self, folder: Path) -> None:
        """Read a results folder's cohort in a worker and show it."""
        self.pool.start(_read_table, folder, on_done=self.show_table, key="cohort-table")

    def show_run(self, run_id: str, _label: str = "") -> None:
        """The cohort of a run downloaded into the session's results folder."""
        self.show_folder(run_folder(self.session.results_root(), run_id))

    def item_loaded(self, run_id: str, external_id: str) -> None:
        """A followed run's item finished and was loaded: its row appears or is refreshed."""
        if self.table.run_id not in ("", run_id):
            return
        if self.table.index_of(external_id) is not None:
            return  # opened from this table, or known already

        from ..platform.results_layout import item_folder

        folder = item_folder(self.session.results_root(), run_id, external_id)

        def read() -> CohortRow:
            from ..results.cohort import read_item_readouts

            readouts, cells = read_item_readouts(folder)
            return CohortRow(external_id, "SUCCEEDED", "", folder, readouts, cells)

        def add(row: CohortRow) -> None:
            self.table.run_id = self.table.run_id or run_id
            self.table.set_row(row)
            self.model.refresh()
            self._update_title()
            self._fill_columns()
            self.plots.set_table(self.table)

        self.pool.start(read, on_done=add)

    # --- opening slides --------------------------------------------------------------------------

    def open_row(self, index: int) -> None:
        """Open a row's slide with its results; the previous slide's layers close unless pinned."""
        if not 0 <= index < len(self.table.rows):
            return
        row = self.table.rows[index]
        self.current = index
        view_row = self.model.view_row_of(index)
        if view_row is not None:
            self.view.selectRow(view_row)
        if row.folder is None:
            show_warning(f"{row.name}: no results to show ({row.state}) {row.message}".strip())
            return
        if self._collecting:  # the last slide's layers are still arriving: open this one next
            self._queued = index
            return
        self.close_current()
        self._collecting, self._collecting_id = True, row.external_id
        self.loader.load_item(self.table.run_id, row.external_id, row.folder, row.artifacts)
        self.slide_opened.emit(row.external_id)

    def close_current(self) -> None:
        """Remove the layers of the slide shown last (kept when pinned), in one batch."""
        layers, self._layers = self._layers, []
        if self.pin.isChecked():
            self.pin.setChecked(False)
            return
        self.loader.remove_layers(layers)

    def step(self, delta: int) -> None:
        """Open the previous (-1) or next (+1) slide in the table's current order."""
        order = self.model.order
        if not order:
            return
        if self.current is None or self.current not in order:
            position = 0 if delta > 0 else len(order) - 1
        else:
            position = min(max(order.index(self.current) + delta, 0), len(order) - 1)
        self.open_row(order[position])

    def _item_shown(self, _run_id: str, external_id: str) -> None:
        """The opened slide's results are on screen: later layers are not the slide's."""
        if self._collecting and external_id == self._collecting_id:
            self._collecting = False
            queued, self._queued = self._queued, None
            if queued is not None:
                self.open_row(queued)

    def _layer_inserted(self, event: Any) -> None:
        if self._collecting:
            self._layers.append(event.value)

    # --- derived columns -------------------------------------------------------------------------

    def _rule_changed(self, *_: object) -> None:
        percentage = self.measure.currentText() == "percentage"
        self.table.rule = PhenotypeRule(
            self.carcinoma.value(), self.stroma.value(), "percentage" if percentage else "density"
        )
        self.model.refresh()
        self.plots.set_table(self.table)

    def _fill_columns(self) -> None:
        columns = self.table.readout_columns
        for box in (self.numerator, self.denominator):
            chosen = box.currentText()
            box.blockSignals(True)
            box.clear()
            box.addItems(columns)
            if chosen in columns:
                box.setCurrentText(chosen)
            box.blockSignals(False)

    def _add_ratio(self) -> None:
        try:
            self.table.add_ratio(self.numerator.currentText(), self.denominator.currentText())
        except ValueError as exc:
            show_warning(str(exc))
            return
        self.model.refresh()
        self.plots.set_table(self.table)

    def _update_title(self) -> None:
        table = self.table
        done = sum(1 for r in table.rows if r.state == "SUCCEEDED")
        self.title.setText(
            f"Run {table.run_id or '—'} · {table.application_id} {table.version_number} · "
            f"{len(table.rows)} slides, {done} with results"
        )

    # --- exports ---------------------------------------------------------------------------------

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a run's results folder")
        if folder:
            self.show_folder(Path(folder))

    def _save_csv(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Save the cohort table", "cohort.csv", "CSV (*.csv)"
        )
        if path:
            self.pool.start(
                self.table.write_csv, Path(path), on_done=lambda p: show_info(f"saved {p}")
            )

    def _save_report(self) -> None:
        from ..results.cohort_report import write_report

        path, _ = QFileDialog.getSaveFileName(
            self, "Save the cohort report", "cohort-report.html", "HTML (*.html)"
        )
        if path:
            self.pool.start(
                write_report, self.table, Path(path), on_done=lambda p: show_info(f"saved {p}")
            )

    def _save_qupath(self) -> None:
        from ..results.qupath_project import write_qupath_project

        folder = QFileDialog.getExistingDirectory(self, "Folder for the QuPath project")
        if folder:
            self.pool.start(
                write_qupath_project,
                self.table,
                Path(folder),
                on_done=lambda images: show_info(
                    f"QuPath project with {len(images)} images in {folder}; run "
                    "scripts/import_aignostics_objects.groovy for the project to import the objects"
                ),
            )


def _threshold_box(value: float) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setRange(0.0, 1e6)
    box.setDecimals(2)
    box.setValue(value)
    box.setKeyboardTracking(False)
    return box
