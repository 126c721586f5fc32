"""Connection: the embedded local platform (default) or a remote API root with a token or device login."""

from __future__ import annotations

import webbrowser
from html import escape
from typing import TYPE_CHECKING

from qtpy.QtCore import Qt, Signal
from qtpy.QtWidgets import (
    QApplication,
    QButtonGroup,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from ..workflow.session import ConnectionInfo, Session
from .workers import WorkerPool, error_message

if TYPE_CHECKING:
    from ..platform.auth import TokenProvider


class ConnectionPanel(QWidget):
    """Choose where runs go and connect; shows user, organization and health."""

    connected = Signal(object)
    login_code = Signal(str, str)
    """link, user code of a device login (emitted from the login worker)"""

    def __init__(self, session: Session, pool: WorkerPool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.pool = pool
        settings = session.settings
        self.local_radio = QRadioButton("Local platform on this computer (offline, free)")
        self.remote_radio = QRadioButton("Aignostics Platform (API root)")
        group = QButtonGroup(self)
        group.addButton(self.local_radio)
        group.addButton(self.remote_radio)
        self.api_root = QLineEdit(settings.api_root)
        self.api_root.setPlaceholderText("https://platform.aignostics.com")
        self.token = QLineEdit()
        self.token.setEchoMode(QLineEdit.EchoMode.Password)
        self.token.setPlaceholderText("token (leave empty to use the cached login)")
        self.login_button = QPushButton("Log in…")
        self.login_button.setToolTip("OAuth device login: shows a code to confirm in your browser")
        self.connect_button = QPushButton("Connect")
        self.status = QLabel("Not connected")
        self.status.setWordWrap(True)
        self.code_label = QLabel()
        self.code_label.setWordWrap(True)
        self.code_label.setTextFormat(Qt.TextFormat.RichText)
        self.code_label.setOpenExternalLinks(True)
        self.code_label.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextBrowserInteraction
            | Qt.TextInteractionFlag.TextSelectableByKeyboard
        )
        self.copy_button = QPushButton("Copy code")
        self.copy_button.setToolTip("Copy the login code to the clipboard")
        self.login_link = ""
        self.user_code = ""

        layout = QVBoxLayout(self)
        layout.addWidget(self.local_radio)
        layout.addWidget(self.remote_radio)
        layout.addWidget(self.api_root)
        row = QHBoxLayout()
        row.addWidget(self.token)
        row.addWidget(self.login_button)
        layout.addLayout(row)
        layout.addWidget(self.connect_button)
        layout.addWidget(self.status)
        code_row = QHBoxLayout()
        code_row.addWidget(self.code_label, 1)
        code_row.addWidget(self.copy_button)
        layout.addLayout(code_row)
        layout.addStretch(1)

        (self.remote_radio if settings.mode == "remote" else self.local_radio).setChecked(True)
        self.local_radio.toggled.connect(self._update_enabled)
        self.connect_button.clicked.connect(self.connect_now)
        self.login_button.clicked.connect(self._device_login)
        self.copy_button.clicked.connect(self.copy_code)
        self.login_code.connect(self._show_code)
        self._show_code("", "")
        self._update_enabled()

    def _update_enabled(self) -> None:
        remote = self.remote_radio.isChecked()
        for widget in (self.api_root, self.token, self.login_button):
            widget.setEnabled(remote)

    def connect_now(self) -> None:
        """Connect in a worker; the local platform is started on demand."""
        self.connect_button.setEnabled(False)
        if self.local_radio.isChecked():
            self.status.setText("Starting the local platform…")
            self.pool.start(self.session.connect_local, on_done=self._done, on_error=self._failed)
        else:
            token: str | TokenProvider = self.token.text().strip() or self._cached_token_provider()
            self.status.setText(f"Connecting to {self.api_root.text().strip()}…")
            self.pool.start(
                self.session.connect_remote,
                self.api_root.text().strip(),
                token,
                on_done=self._done,
                on_error=self._failed,
            )

    def _cached_token_provider(self) -> TokenProvider:
        from ..platform.auth import resolve_token_provider

        return resolve_token_provider(self.api_root.text().strip())

    def _device_login(self) -> None:
        self.status.setText("Asking the login service for a code…")
        self.pool.start(
            self.session.login,
            self.api_root.text().strip(),
            self.login_code.emit,
            on_done=self._logged_in,
            on_error=self._failed,
        )

    def _show_code(self, link: str, code: str) -> None:
        """Show the device login's code and link in the panel (selectable) and open the browser."""
        self.login_link, self.user_code = link, code
        self.code_label.setVisible(bool(code))
        self.copy_button.setVisible(bool(code))
        if not code:
            self.code_label.clear()
            return
        self.code_label.setText(
            f"Confirm the code <b style='font-size:14pt'>{escape(code)}</b> at "
            f"<a href='{escape(link, quote=True)}'>{escape(link)}</a>"
        )
        self.status.setText("Waiting for you to confirm the login in your browser…")
        open_browser(link)

    def copy_code(self) -> None:
        clipboard = QApplication.clipboard()
        if clipboard is not None and self.user_code:
            clipboard.setText(self.user_code)

    def _logged_in(self, _none: None) -> None:
        self._show_code("", "")
        self.connect_now()

    def _done(self, info: ConnectionInfo) -> None:
        self.connect_button.setEnabled(True)
        where = "local platform" if info.local else info.api_root
        self.status.setText(
            f"<b>Connected</b> to {where}<br>user: {info.user}<br>organization: {info.organization}"
            f"<br>health: {'UP' if info.healthy else 'DOWN'}"
        )
        self.connected.emit(info)

    def _failed(self, error: BaseException) -> None:
        from napari.utils.notifications import show_error

        self._show_code("", "")
        self.connect_button.setEnabled(True)
        self.status.setText(
            f"<span style='color:#e55'>Not connected</span>: {error_message(error)}"
        )
        show_error(f"Aignostics connection failed: {error_message(error)}")


def open_browser(link: str) -> bool:
    """Open ``link`` in the user's browser where there is one; False when none could be opened."""
    if not link.startswith(("http://", "https://")):
        return False
    try:
        return webbrowser.open(link, new=2)
    except webbrowser.Error:
        return False
