"""Plugins → Aignostics: the dock widget that wires connection, submission, runs and review."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qtpy.QtCore import Signal
from qtpy.QtWidgets import QTabWidget, QVBoxLayout, QWidget

from ..workflow.session import Session
from .connection_panel import ConnectionPanel
from .results_loader import ResultsLoader
from .review_panel import ReviewPanel
from .runs_panel import RunsPanel
from .submit_panel import SubmitPanel
from .workers import WorkerPool


class AignosticsWidget(QWidget):
    """Submit the open slide, watch the run, review the results."""

    run_finished = Signal(str, str)
    """run id, final label"""

    def __init__(self, napari_viewer: Any, session: Session | None = None) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.session = session or Session()
        self.pool = WorkerPool()
        self.connection = ConnectionPanel(self.session, self.pool)
        self.submit_panel = SubmitPanel(napari_viewer, self.session, self.pool)
        self.runs = RunsPanel(self.session, self.pool)
        self.review = ReviewPanel(napari_viewer)
        self.loader = ResultsLoader(napari_viewer, self.session, self.pool, self.review)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.connection, "Connect")
        self.tabs.addTab(self.submit_panel, "Submit")
        self.tabs.addTab(self.runs, "Runs")
        self.tabs.addTab(self.review, "Review")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.tabs)
        self.setMinimumWidth(380)

        self.connection.connected.connect(self._connected)
        self.submit_panel.submitted.connect(self._submitted)
        self.runs.load_requested.connect(self.loader.load_run)
        self.loader.item_loaded.connect(lambda *_: self.runs.refresh())
        self.loader.run_followed.connect(self._run_followed)
        self.destroyed.connect(self._shutdown)

    def _connected(self, _info: Any) -> None:
        self.submit_panel.refresh_applications()
        self.runs.refresh()
        self.runs.start_polling()
        self.tabs.setCurrentWidget(self.submit_panel)
        self.submit_panel.add_selected_layer_quietly()

    def _submitted(self, run_id: str, slides: dict[str, Path]) -> None:
        self.runs.refresh()
        self.tabs.setCurrentWidget(self.runs)
        self.loader.follow(run_id, slides)

    def _run_followed(self, run_id: str, label: str) -> None:
        self.runs.refresh()
        self.run_finished.emit(run_id, label)

    def _shutdown(self, *_: Any) -> None:
        self.shutdown()

    def shutdown(self) -> None:
        """Stop workers and the local platform (when the widget or napari closes)."""
        self.runs.stop_polling()
        self.pool.cancel_all()
        self.session.close()
