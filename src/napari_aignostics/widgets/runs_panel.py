"""Runs: the user's runs with their state in plain words, queue, note/tags, search, items, actions, sharing."""

from __future__ import annotations

import time
from collections.abc import Iterator
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

from qtpy.QtCore import Qt, Signal
from qtpy.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..platform.run_labels import (
    FINAL_LABELS,
    note_and_tags,
    progress_fraction,
    queue_text,
    run_label,
)
from ..workflow.session import Session
from .share_panel import SharePanel
from .table_widget import make_table, selected_rows
from .workers import WorkerPool

if TYPE_CHECKING:
    from napari.qt.threading import WorkerBase

    from ..platform import models as m

RUN_COLUMNS = ("Run", "State", "Items", "Submitted", "Application", "Note / tags")
"""The short run id first: State, Items and Submitted stay visible at the dock's default width."""
SHORT_ID = 8
ITEM_COLUMNS = ("Slide", "State", "Error")


class RunsPanel(QWidget):
    """Lists runs (polled in a worker), shows the items of the selected run."""

    load_requested = Signal(str)
    """run id whose downloaded results should be put on the slides"""

    def __init__(self, session: Session, pool: WorkerPool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.pool = pool
        self.runs: list[m.RunReadResponse] = []
        self._poller: WorkerBase | None = None
        self._poller_stopped = False
        self._labels: dict[str, str] = {}

        self.search = QLineEdit()
        self.search.setPlaceholderText("search runs: id, application, state, note, tags")
        self.search.setClearButtonEnabled(True)
        self.table = make_table(RUN_COLUMNS, stretch=len(RUN_COLUMNS) - 1)
        header = self.table.horizontalHeader()
        if header is not None:
            for column in range(len(RUN_COLUMNS) - 1):
                header.setSectionResizeMode(column, QHeaderView.ResizeMode.Interactive)
            metrics = self.table.fontMetrics()
            # widths that fit the dock's default width; longer states elide (full text as tooltip)
            for column, sample in enumerate(("0123abcd", "scheduled (99)", "999/999", "12-31 23:59")):
                self.table.setColumnWidth(column, metrics.horizontalAdvance(sample) + 14)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
        self.items = make_table(ITEM_COLUMNS, stretch=2)
        self.refresh_button = QPushButton("Refresh")
        self.cancel_button = QPushButton("Cancel run")
        self.delete_button = QPushButton("Delete results")
        self.load_button = QPushButton("Load results")
        self.detail = QLabel()
        self.detail.setWordWrap(True)
        self.detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.share = SharePanel(session, pool)

        layout = QVBoxLayout(self)
        layout.addWidget(self.search)
        layout.addWidget(self.table, 2)
        buttons = QHBoxLayout()
        for button in (
            self.refresh_button,
            self.cancel_button,
            self.delete_button,
            self.load_button,
        ):
            buttons.addWidget(button)
        layout.addLayout(buttons)
        layout.addWidget(self.detail)
        layout.addWidget(self.items, 1)
        layout.addWidget(self.share)

        self.refresh_button.clicked.connect(self.refresh)
        self.cancel_button.clicked.connect(self.cancel_selected)
        self.delete_button.clicked.connect(self.delete_selected)
        self.load_button.clicked.connect(self._load_selected)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        self.search.textChanged.connect(self._apply_search)
        self._update_buttons()

    # --- polling ---------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Reload the runs list once (nothing to do before connecting)."""
        if self.session.client is not None and not self.pool.closed:
            self.pool.start(self.session.runs, on_done=self.set_runs, key="runs")

    def start_polling(self) -> None:
        """Poll the runs list every ``poll_interval_s`` in a worker until stopped."""
        if self._poller is not None:
            return

        def poll() -> Iterator[list[m.RunReadResponse] | None]:
            while True:
                try:
                    yield self.session.runs()
                except Exception:  # noqa: BLE001 - a failed poll is retried on the next tick
                    yield None
                deadline = time.monotonic() + max(1.0, self.session.settings.poll_interval_s)
                while time.monotonic() < deadline:
                    time.sleep(0.2)
                    yield None  # lets quit() stop the worker promptly

        def received(runs: list[m.RunReadResponse] | None) -> None:
            if runs is not None and not self._poller_stopped:
                self.set_runs(runs)  # never into a table torn down after stop_polling()

        self._poller_stopped = False
        self._poller = self.pool.start(poll, on_yield=received, on_finish=self._poller_finished)

    def _poller_finished(self) -> None:
        self._poller = None

    def stop_polling(self) -> None:
        self._poller_stopped = True
        if self._poller is not None:
            self._poller.quit()

    # --- table -----------------------------------------------------------------------------------

    def selected_run(self) -> m.RunReadResponse | None:
        rows = selected_rows(self.table)
        return self.runs[rows[0]] if rows else None

    def set_runs(self, runs: list[m.RunReadResponse]) -> None:
        """Show runs; notify when one reaches a final state; keep the selected run's detail current."""
        from napari.utils.notifications import show_info, show_warning

        selected = self.selected_run()
        selected_id = selected.run_id if selected is not None else None
        self.runs = runs
        self.table.blockSignals(True)
        self.table.setRowCount(len(runs))
        for index, run in enumerate(runs):
            label = run_label(run)
            previous = self._labels.get(run.run_id)
            if previous is not None and previous != label and label in FINAL_LABELS:
                notify = show_info if label == "completed" else show_warning
                notify(f"Run {run.run_id[:SHORT_ID]} ({run.application_id}) {label}.")
            self._labels[run.run_id] = label
            queue = queue_text(run)
            note, tags = note_and_tags(run)
            self._cell(index, 0, run.run_id[:SHORT_ID], run.run_id)
            state = f"{label} ({queue})" if queue else label
            self._cell(index, 1, state, run.error_message or state)
            bar = QProgressBar()
            bar.setRange(0, 100)
            bar.setValue(int(progress_fraction(run) * 100))
            stats = run.statistics
            bar.setFormat(f"{stats.item_succeeded_count}/{stats.item_count}")
            bar.setToolTip(f"{stats.item_succeeded_count} of {stats.item_count} items done")
            self.table.setCellWidget(index, 2, bar)
            self._cell(
                index, 3, f"{run.submitted_at:%m-%d %H:%M}", f"{run.submitted_at:%Y-%m-%d %H:%M %Z}"
            )
            self._cell(index, 4, f"{run.application_id} {run.version_number}")
            text = " ".join([note, *(f"#{tag}" for tag in tags)]).strip()
            self._cell(index, 5, text, text)
            if run.run_id == selected_id:
                self.table.selectRow(index)
        self.table.blockSignals(False)
        self._apply_search()
        current = self.selected_run()
        if current is not None and selected is not None and current.run_id == selected_id:
            changed = run_label(selected) != run_label(current) or (
                selected.statistics != current.statistics
            )
            self._show_detail(current, items=changed or run_label(current) not in FINAL_LABELS)
        else:
            self._update_buttons()

    def _apply_search(self) -> None:
        """Hide the rows that do not contain every word of the search box."""
        words = self.search.text().lower().split()
        for index, run in enumerate(self.runs):
            note, tags = note_and_tags(run)
            haystack = " ".join(
                [run.run_id, run.application_id, run.version_number, self._labels.get(run.run_id, ""),
                 note, *tags]
            ).lower()
            self.table.setRowHidden(index, not all(word in haystack for word in words))

    def _cell(self, row: int, column: int, text: str, tooltip: str = "") -> None:
        item = QTableWidgetItem(text)
        item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
        if tooltip:
            item.setToolTip(tooltip)
        self.table.setItem(row, column, item)

    def _selection_changed(self) -> None:
        run = self.selected_run()
        if run is None:
            self._update_buttons()
            return
        self._show_detail(run, items=True)
        self.share.set_run(run.run_id)

    def _show_detail(self, run: m.RunReadResponse, items: bool) -> None:
        """The selected run's detail line (state, queue, error, note) and, if asked, its items."""
        label = run_label(run)
        queue = queue_text(run)
        note, tags = note_and_tags(run)
        parts = [f"<b>{run.run_id}</b>", label + (f" — {queue}" if queue else "")]
        if run.error_message:
            parts[-1] += f" — {escape(run.error_message)}"
        if note or tags:
            parts.append(escape(" ".join([note, *(f"#{t}" for t in tags)]).strip()))
        self.detail.setText("<br>".join(parts))
        self._update_buttons()
        if items:
            self.pool.start(self.session.items, run.run_id, on_done=self._set_items, key="items")

    def _update_buttons(self) -> None:
        """Cancel only while a run can still change; delete and load once there is a run."""
        run = self.selected_run()
        final = run is not None and run_label(run) in FINAL_LABELS
        self.cancel_button.setEnabled(run is not None and not final)
        self.cancel_button.setToolTip("" if run is None or not final else "the run has ended")
        self.delete_button.setEnabled(final)
        self.load_button.setEnabled(run is not None)

    def _set_items(self, items: list[m.ItemResultReadResponse]) -> None:
        self.items.setRowCount(len(items))
        for index, item in enumerate(items):
            state = str(getattr(item.state, "value", item.state))
            reason = getattr(item.termination_reason, "value", item.termination_reason)
            queue = item.queue_position_org
            where = f" (queue position {queue})" if queue is not None and state == "PENDING" else ""
            texts = (Path(item.external_id).name or item.external_id,
                     f"{state} {reason or ''}".strip() + where, item.error_message or "")
            tips = (item.external_id, texts[1], texts[2])
            for column, (text, tip) in enumerate(zip(texts, tips, strict=True)):
                cell = QTableWidgetItem(text)
                cell.setToolTip(tip)
                self.items.setItem(index, column, cell)

    # --- actions ---------------------------------------------------------------------------------

    def cancel_selected(self) -> None:
        run = self.selected_run()
        if run is not None:
            self.pool.start(self.session.cancel, run.run_id, on_done=lambda _: self.refresh())

    def delete_selected(self) -> None:
        run = self.selected_run()
        if run is not None:
            self.pool.start(
                self.session.delete_results, run.run_id, on_done=lambda _: self.refresh()
            )

    def _load_selected(self) -> None:
        run = self.selected_run()
        if run is not None:
            self.load_requested.emit(run.run_id)
