"""Sharing the selected run: viewer access for a user, share tokens, and revoking either."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from qtpy.QtCore import Qt
from qtpy.QtWidgets import (
    QApplication,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..workflow.session import Session
from .table_widget import make_table, selected_rows
from .workers import WorkerPool

if TYPE_CHECKING:
    from ..platform.sharing import Share

SHARE_COLUMNS = ("Shared with", "Since")


class SharePanel(QGroupBox):
    """Who can view the selected run; grant a user, create a share token, revoke."""

    def __init__(self, session: Session, pool: WorkerPool, parent: QWidget | None = None) -> None:
        super().__init__("Sharing", parent)
        self.session = session
        self.pool = pool
        self.run_id: str | None = None
        self.shares: list[Share] = []
        self.who = QLineEdit()
        self.who.setPlaceholderText("e-mail address or user id")
        self.grant_button = QPushButton("Grant viewer")
        self.token_button = QPushButton("Create share token")
        self.token_button.setToolTip("Anyone holding the token can view this run (read only)")
        self.revoke_button = QPushButton("Revoke")
        self.table = make_table(SHARE_COLUMNS, stretch=0)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setMaximumHeight(110)
        self.token = QLineEdit()
        self.token.setReadOnly(True)
        self.token.setPlaceholderText("a new share token appears here, once")
        self.copy_button = QPushButton("Copy")
        self.status = QLabel()
        self.status.setWordWrap(True)

        layout = QVBoxLayout(self)
        row = QHBoxLayout()
        row.addWidget(self.who, 1)
        row.addWidget(self.grant_button)
        layout.addLayout(row)
        layout.addWidget(self.table)
        row = QHBoxLayout()
        row.addWidget(self.token_button)
        row.addWidget(self.revoke_button)
        layout.addLayout(row)
        row = QHBoxLayout()
        row.addWidget(self.token, 1)
        row.addWidget(self.copy_button)
        layout.addLayout(row)
        layout.addWidget(self.status)

        self.grant_button.clicked.connect(self.grant)
        self.token_button.clicked.connect(self.create_token)
        self.revoke_button.clicked.connect(self.revoke_selected)
        self.copy_button.clicked.connect(self._copy_token)
        self.table.itemSelectionChanged.connect(self._update_enabled)
        self.who.textChanged.connect(self._update_enabled)
        self._update_enabled()

    def set_run(self, run_id: str | None) -> None:
        """Show the shares of ``run_id`` (None: nothing selected)."""
        if run_id != self.run_id:
            self.token.clear()
            self.status.clear()
        self.run_id = run_id
        self.refresh()

    def refresh(self) -> None:
        self._set_shares([])
        if self.run_id is not None and self.session.client is not None:
            self.pool.start(
                self.session.shares, self.run_id, on_done=self._set_shares,
                on_error=self._failed, key="shares",
            )

    def _set_shares(self, shares: list[Share]) -> None:
        self.shares = shares
        self.table.setRowCount(len(shares))
        for index, share in enumerate(shares):
            for column, text in enumerate((share.label, f"{share.created_at:%Y-%m-%d %H:%M}")):
                cell = QTableWidgetItem(text)
                cell.setToolTip(text)
                cell.setFlags(cell.flags() & ~Qt.ItemFlag.ItemIsEditable)
                self.table.setItem(index, column, cell)
        self._update_enabled()

    def _update_enabled(self) -> None:
        has_run = self.run_id is not None
        self.grant_button.setEnabled(has_run and bool(self.who.text().strip()))
        self.token_button.setEnabled(has_run)
        self.revoke_button.setEnabled(has_run and bool(selected_rows(self.table)))
        self.copy_button.setEnabled(bool(self.token.text()))

    def grant(self) -> None:
        """Grant the user in the field viewer access to the run."""
        who = self.who.text().strip()
        if self.run_id is None or not who:
            return
        self.status.setText(f"Sharing with {who}…")
        self.pool.start(
            self.session.share_with, self.run_id, who,
            on_done=lambda _: self._changed(f"{who} can now view the run."),
            on_error=self._failed,
        )

    def create_token(self) -> None:
        """Create a share token for the run and show it (it is not shown again)."""
        if self.run_id is None:
            return

        def created(secret: str) -> None:
            self.token.setText(secret)
            self._changed(
                "Share token created: copy it now, it is not shown again. Its holder reads the "
                "run with --share-token."
            )

        self.pool.start(
            self.session.create_share_token, self.run_id, on_done=created, on_error=self._failed
        )

    def revoke_selected(self) -> None:
        """Revoke the selected shares."""
        chosen = [self.shares[i] for i in selected_rows(self.table)]
        for share in chosen:
            self.pool.start(
                self.session.revoke_share, share,
                on_done=self._revoked(share.label), on_error=self._failed,
            )

    def _revoked(self, label: str) -> Callable[[object], None]:
        return lambda _none: self._changed(f"Revoked: {label}.")

    def _copy_token(self) -> None:
        clipboard = QApplication.clipboard()
        if clipboard is not None and self.token.text():
            clipboard.setText(self.token.text())

    def _changed(self, message: str) -> None:
        self.status.setText(message)
        self.refresh()

    def _failed(self, error: BaseException) -> None:
        from .workers import error_message

        self.status.setText(f"<span style='color:#e55'>Sharing failed</span>: {error_message(error)}")
