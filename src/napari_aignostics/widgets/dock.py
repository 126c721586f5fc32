"""Plugins → Aignostics: the dock widget that wires connection, submission, runs and review."""

from __future__ import annotations

from typing import TYPE_CHECKING

from qtpy.QtCore import Signal
from qtpy.QtWidgets import QTabWidget, QVBoxLayout, QWidget

from ..slides.slide_ref import SlideRef
from ..slides.warmup import use_cached_unit_registry, warm_up
from ..workflow.session import ConnectionInfo, Session
from .cell_table import CellTablePanel
from .cohort_panel import CohortPanel
from .connection_panel import ConnectionPanel
from .results_loader import ResultsLoader
from .review_panel import ReviewPanel
from .roi_panel import RoiPanel
from .runs_panel import RunsPanel
from .submit_panel import SubmitPanel
from .workers import WorkerPool

if TYPE_CHECKING:
    from napari.viewer import Viewer


class AignosticsWidget(QWidget):
    """Submit the open slide, watch the run, review the results."""

    run_finished = Signal(str, str)
    """run id, final label"""

    def __init__(self, napari_viewer: Viewer, session: Session | None = None) -> None:
        super().__init__()
        warm_up()  # the slide stack imports while the user looks at the dock
        use_cached_unit_registry()
        self.viewer = napari_viewer
        self.session = session or Session()
        self.pool = WorkerPool()
        self.connection = ConnectionPanel(self.session, self.pool)
        self.submit_panel = SubmitPanel(napari_viewer, self.session, self.pool)
        self.runs = RunsPanel(self.session, self.pool)
        self.review = ReviewPanel(napari_viewer)
        self.loader = ResultsLoader(napari_viewer, self.session, self.pool)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.connection, "Connect")
        self.tabs.addTab(self.submit_panel, "Submit")
        self.tabs.addTab(self.runs, "Runs")
        self.tabs.addTab(self.review, "Review")
        self.cohort = CohortPanel(napari_viewer, self.session, self.loader, self.pool)
        self.tabs.addTab(self.cohort, "Cohort")
        self.edit = RoiPanel(napari_viewer, self.pool)
        self.cell_table = CellTablePanel(napari_viewer, self.pool)
        self.tabs.addTab(self.edit, "Edit")
        self.tabs.addTab(self.cell_table, "Table")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.tabs)
        self.setMinimumWidth(380)

        self.connection.connected.connect(self._connected)
        self.submit_panel.submitted.connect(self._submitted)
        self.runs.load_requested.connect(self.loader.load_run)
        self.loader.item_loaded.connect(lambda *_: self.runs.refresh())
        self.loader.run_followed.connect(self._run_followed)
        self.loader.cells_shown.connect(self.review.show_results)
        self.loader.item_loaded.connect(self.cohort.item_loaded)
        self.loader.run_followed.connect(self.cohort.show_run)
        self.loader.cells_shown.connect(self.edit.show_results)
        self.loader.cells_shown.connect(
            lambda result, _layers: self.cell_table.show_results(result)
        )
        # napari deletes the dock with its window: a slot of the deleted widget itself is never
        # called then, so the pool and the session are closed by a function that holds only them
        pool, session = self.pool, self.session
        self.destroyed.connect(lambda *_: _close(pool, session))

    def _connected(self, _info: ConnectionInfo) -> None:
        self.submit_panel.refresh_applications()
        self.runs.refresh()
        self.runs.start_polling()
        self.tabs.setCurrentWidget(self.submit_panel)
        self.submit_panel.add_selected_layer_quietly()

    def _submitted(self, run_id: str, _slides: dict[str, SlideRef]) -> None:
        self.runs.refresh()
        self.tabs.setCurrentWidget(self.runs)
        self.loader.follow(run_id)  # the session keeps the run's slide references

    def _run_followed(self, run_id: str, label: str) -> None:
        self.runs.refresh()
        self.run_finished.emit(run_id, label)

    def shutdown(self) -> None:
        """Stop workers and the local platform (when the widget or napari closes)."""
        self.runs.stop_polling()
        _close(self.pool, self.session)


def _close(pool: WorkerPool, session: Session) -> None:
    """No answer of a worker reaches a widget any more; the local platform stops."""
    pool.cancel_all()
    session.close()
