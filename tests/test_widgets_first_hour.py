"""The Runs, sharing and login views against the real local platform (no napari viewer needed)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from napari_aignostics.platform.client import PlatformClient
from napari_aignostics.platform.errors import PlatformError
from napari_aignostics.server.embedded import LocalPlatform
from napari_aignostics.widgets import connection_panel
from napari_aignostics.widgets.connection_panel import ConnectionPanel
from napari_aignostics.widgets.runs_panel import RunsPanel
from napari_aignostics.widgets.workers import WorkerPool
from napari_aignostics.workflow.session import Session
from server_helpers import LIFECYCLE_APP, Api, slide_bytes


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LocalPlatform]:
    with LocalPlatform(tmp_path / "platform", "tok", applications=[LIFECYCLE_APP],
                       builtin=False) as platform:
        yield platform


@pytest.fixture
def session(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Session]:
    monkeypatch.setenv("NAPARI_AIGNOSTICS_CONFIG", str(tmp_path / "config"))
    monkeypatch.setenv("NAPARI_AIGNOSTICS_CACHE_DIR", str(tmp_path / "cache"))
    session = Session()
    session.settings.poll_interval_s = 0.2
    yield session
    session.close()


@pytest.fixture
def pool(qtbot: Any) -> Iterator[WorkerPool]:
    workers = WorkerPool()
    yield workers
    workers.cancel_all()


def _row_texts(panel: RunsPanel, column: int) -> list[str]:
    return [panel.table.item(i, column).text() for i in range(panel.table.rowCount())
            if not panel.table.isRowHidden(i)]


@pytest.mark.slow
def test_runs_tab_tells_the_truth(server: LocalPlatform, session: Session, pool: WorkerPool,
                                  qtbot: Any) -> None:
    api = Api(server.api_root, "tok")
    quick = api.submit([{"external_id": "quick", "data": slide_bytes()}],
                       custom_metadata={"sdk": {"note": "pilot cohort", "tags": ["tumour"]}})
    api.wait(quick)
    slow = api.submit([{"external_id": "slow", "data": slide_bytes(),
                        "metadata": {"behaviour": "sleep:2"}}])
    session.connect_remote(server.api_root, "tok")
    panel = RunsPanel(session, pool)
    qtbot.addWidget(panel)
    panel.resize(380, 700)  # the dock's default width
    panel.show()
    panel.refresh()
    qtbot.waitUntil(lambda: len(panel.runs) == 2, timeout=10_000)

    # State, Items and Submitted are visible without scrolling; the id is short, in full as tooltip
    viewport = panel.table.viewport().width()
    assert panel.table.columnViewportPosition(3) + panel.table.columnWidth(3) <= viewport
    assert {panel.table.item(i, 0).toolTip() for i in range(2)} == {quick, slow}
    assert all(len(text) == 8 for text in _row_texts(panel, 0))
    assert "pilot cohort #tumour" in _row_texts(panel, 5)

    panel.search.setText("TUMOUR")  # note and tags are searchable
    assert [panel.table.item(i, 0).toolTip() for i in range(2)
            if not panel.table.isRowHidden(i)] == [quick]
    panel.search.clear()

    slow_row = next(i for i, run in enumerate(panel.runs) if run.run_id == slow)
    panel.table.selectRow(slow_row)
    assert panel.cancel_button.isEnabled() and not panel.delete_button.isEnabled()
    assert "completed" not in panel.detail.text()
    panel.start_polling()
    # the run ends while selected: the detail line and the item table follow without a click
    qtbot.waitUntil(lambda: "completed" in panel.detail.text(), timeout=30_000)
    qtbot.waitUntil(lambda: panel.items.item(0, 1) is not None
                    and panel.items.item(0, 1).text() == "TERMINATED SUCCEEDED", timeout=10_000)
    assert not panel.cancel_button.isEnabled() and panel.delete_button.isEnabled()
    panel.stop_polling()


def test_sharing_from_the_runs_tab(server: LocalPlatform, session: Session, pool: WorkerPool,
                                   qtbot: Any) -> None:
    server.add_user("auth0|other", email="other@example.org")
    api = Api(server.api_root, "tok")
    run_id = api.submit([{"external_id": "a", "data": slide_bytes()}])
    api.wait(run_id)
    session.connect_remote(server.api_root, "tok")
    panel = RunsPanel(session, pool)
    qtbot.addWidget(panel)
    panel.refresh()
    qtbot.waitUntil(lambda: len(panel.runs) == 1, timeout=10_000)
    panel.table.selectRow(0)
    share = panel.share
    assert share.run_id == run_id and not share.grant_button.isEnabled()

    share.who.setText("other@example.org")
    share.grant_button.click()
    qtbot.waitUntil(lambda: len(share.shares) == 1, timeout=10_000)
    assert share.table.item(0, 0).text() == "user auth0|other"

    share.token_button.click()
    qtbot.waitUntil(lambda: bool(share.token.text()) and len(share.shares) == 2, timeout=10_000)
    secret = share.token.text()
    stranger = server.add_user("auth0|stranger", "org_elsewhere")
    with PlatformClient(server.api_root, stranger) as client:
        assert client.run(run_id, share_token=secret).run_id == run_id
        token_row = next(i for i, s in enumerate(share.shares) if s.kind == "share token")
        share.table.selectRow(token_row)
        share.revoke_button.click()
        qtbot.waitUntil(lambda: len(share.shares) == 1, timeout=10_000)
        with pytest.raises(PlatformError):
            client.run(run_id, share_token=secret)
    assert share.shares[0].kind == "user"


def test_device_login_code_is_shown_in_the_panel(server: LocalPlatform, session: Session,
                                                 pool: WorkerPool, qtbot: Any,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[str] = []
    monkeypatch.setattr(connection_panel.webbrowser, "open",
                        lambda url, new=0: opened.append(url) or True)
    panel = ConnectionPanel(session, pool)
    qtbot.addWidget(panel)
    panel.remote_radio.setChecked(True)
    panel.api_root.setText(server.api_root)
    panel.login_button.click()
    qtbot.waitUntil(lambda: bool(panel.user_code), timeout=10_000)

    assert re.fullmatch(r"[A-Z]{4}-[A-Z]{4}", panel.user_code)
    assert panel.user_code in panel.code_label.text()
    assert panel.login_link in panel.code_label.text() and opened == [panel.login_link]
    panel.copy_code()
    from qtpy.QtWidgets import QApplication

    assert QApplication.clipboard().text() == panel.user_code
    approved = httpx.post(f"{server.api_root}/device",
                          data={"user_code": panel.user_code, "action": "approve"},
                          headers={"Authorization": f"Bearer {server.token}"})
    assert approved.status_code < 400
    qtbot.waitUntil(lambda: session.info is not None, timeout=30_000)
    # the panel hears of the connection through the worker's signal, a moment later
    qtbot.waitUntil(lambda: "Connected" in panel.status.text(), timeout=30_000)
    assert not panel.user_code
