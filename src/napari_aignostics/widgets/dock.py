"""Plugins → Aignostics: the dock widget that wires connection, submission, runs and review.

Opened from napari's menu (:class:`MenuDock`), the dock shows its tabs at once with a "Loading…"
placeholder each; the panels' modules (the platform client, pydantic models, jsonschema, the
results stack) are imported in a worker thread, then one panel is built per turn of the event loop,
so napari never stalls on them. :attr:`AignosticsWidget.ready` tells when every tab is usable.
Constructed directly (scripts, tests), the dock is built at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from qtpy.QtCore import Qt, QTimer, Signal
from qtpy.QtWidgets import QLabel, QTabWidget, QVBoxLayout, QWidget

from ..slides.warmup import import_now, use_cached_unit_registry, warm_up
from .dock_registry import dock_building
from .workers import WorkerPool

if TYPE_CHECKING:
    from napari.viewer import Viewer

    from ..slides.slide_ref import SlideRef
    from ..workflow.session import ConnectionInfo, Session
    from .cell_table import CellTablePanel
    from .cohort_panel import CohortPanel
    from .connection_panel import ConnectionPanel
    from .results_loader import ResultsLoader
    from .review_panel import ReviewPanel
    from .roi_panel import RoiPanel
    from .runs_panel import RunsPanel
    from .submit_panel import SubmitPanel

TAB_NAMES = ("Connect", "Submit", "Runs", "Review", "Cohort", "Edit", "Table")
PANEL_MODULES = tuple(
    f"napari_aignostics.{name}"
    for name in (
        "workflow.session", "widgets.connection_panel", "widgets.submit_panel",
        "widgets.runs_panel", "widgets.review_panel", "widgets.results_loader",
        "widgets.cohort_panel", "widgets.roi_panel", "widgets.cell_table",
    )
)
"""What the panels import (about 2 s of main thread at load 5 when the factory imported them), in
the order they are built."""


class AignosticsWidget(QWidget):
    """Submit the open slide, watch the run, review the results."""

    run_finished = Signal(str, str)
    """run id, final label"""
    ready = Signal()
    """Every panel is built and wired (emitted once)."""

    connection: ConnectionPanel
    submit_panel: SubmitPanel
    runs: RunsPanel
    review: ReviewPanel
    loader: ResultsLoader
    cohort: CohortPanel
    edit: RoiPanel
    cell_table: CellTablePanel
    session: Session

    def __init__(
        self, napari_viewer: Viewer, session: Session | None = None, *, deferred: bool = False
    ) -> None:
        """Build every panel now, or with ``deferred`` import them in a worker and build them one
        per event-loop turn (:attr:`ready` at the end)."""
        super().__init__()
        warm_up()  # the slide stack imports while the user looks at the dock
        use_cached_unit_registry()
        self.viewer = napari_viewer
        self.pool = WorkerPool()
        self.tabs = QTabWidget()
        for name in TAB_NAMES:
            placeholder = QLabel("Loading…")
            placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
            self.tabs.addTab(placeholder, name)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.tabs)
        self.setMinimumWidth(380)
        # napari deletes the dock with its window: a slot of the deleted widget itself is never
        # called then, so the pool and the session are closed by a function that holds only them
        owned: list[Session] = []
        self._owned = owned
        pool = self.pool
        self.destroyed.connect(lambda *_: _close(pool, owned))
        self._steps: list[Callable[[], None]] = [
            lambda: self._build_connection(session), self._build_submit, self._build_runs,
            self._build_review, self._build_loader, self._build_cohort, self._build_edit,
            self._build_table, self._wire,
        ]
        if not deferred:
            while self._steps:
                self._steps.pop(0)()
            return
        dock_building(napari_viewer, self)  # File → Open meanwhile waits for the loader
        self._step_timer = QTimer(self)
        self._step_timer.setSingleShot(True)
        self._step_timer.setInterval(0)
        self._step_timer.timeout.connect(self._next_step)
        self.pool.start(
            import_now, PANEL_MODULES, on_done=lambda _: self._step_timer.start(), key="imports"
        )

    def is_ready(self) -> bool:
        """Whether every panel is built and wired."""
        return not self._steps

    def _next_step(self) -> None:
        self._steps.pop(0)()
        if self._steps:
            self._step_timer.start()

    def _place(self, index: int, panel: QWidget) -> None:
        """Put ``panel`` in the place of tab ``index``'s placeholder (the current tab stays)."""
        current = self.tabs.currentIndex()
        placeholder = self.tabs.widget(index)
        self.tabs.removeTab(index)
        self.tabs.insertTab(index, panel, TAB_NAMES[index])
        self.tabs.setCurrentIndex(current)
        if placeholder is not None:
            placeholder.deleteLater()

    def _build_connection(self, session: Session | None) -> None:
        from ..workflow.session import Session
        from .connection_panel import ConnectionPanel

        self.session = session or Session()
        self._owned.append(self.session)
        self.connection = ConnectionPanel(self.session, self.pool)
        self._place(0, self.connection)

    def _build_submit(self) -> None:
        from .submit_panel import SubmitPanel

        self.submit_panel = SubmitPanel(self.viewer, self.session, self.pool)
        self._place(1, self.submit_panel)

    def _build_runs(self) -> None:
        from .runs_panel import RunsPanel

        self.runs = RunsPanel(self.session, self.pool)
        self._place(2, self.runs)

    def _build_review(self) -> None:
        from .review_panel import ReviewPanel

        self.review = ReviewPanel(self.viewer)
        self._place(3, self.review)

    def _build_loader(self) -> None:
        from .results_loader import ResultsLoader

        self.loader = ResultsLoader(self.viewer, self.session, self.pool)

    def _build_cohort(self) -> None:
        from .cohort_panel import CohortPanel

        self.cohort = CohortPanel(self.viewer, self.session, self.loader, self.pool)
        self._place(4, self.cohort)

    def _build_edit(self) -> None:
        from .roi_panel import RoiPanel

        self.edit = RoiPanel(self.viewer, self.pool)
        self._place(5, self.edit)

    def _build_table(self) -> None:
        from .cell_table import CellTablePanel

        self.cell_table = CellTablePanel(self.viewer, self.pool)
        self._place(6, self.cell_table)

    def _wire(self) -> None:
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
        self.ready.emit()

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
        if hasattr(self, "runs"):
            self.runs.stop_polling()
        _close(self.pool, self._owned)


class MenuDock(AignosticsWidget):
    """Plugins → Aignostics: the dock at once, its panels built as their imports arrive (napari
    calls a widget class, as it reads the viewer parameter off ``__init__``)."""

    def __init__(self, napari_viewer: Viewer) -> None:
        super().__init__(napari_viewer, deferred=True)


def _close(pool: WorkerPool, owned: list[Session]) -> None:
    """No answer of a worker reaches a widget any more; the local platform stops."""
    pool.cancel_all()
    for session in owned:
        session.close()
