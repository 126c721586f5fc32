"""Reads never wait for the writer: each thread reads through its own read-only connection (WAL)."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from napari_aignostics.server.store import NewInput, NewItem, Store


def test_a_read_completes_during_a_long_write_transaction(tmp_path: Path) -> None:
    store = Store(tmp_path / "platform.db")
    store.ensure_org("org-a", "A", quota_slides_per_run=1)
    user = store.ensure_user("alice", "org-a")
    inside, release = threading.Event(), threading.Event()
    seen_inside: list[int | None] = []

    def long_submit() -> None:
        with store.transaction() as db:
            db.execute("UPDATE orgs SET quota_slides_per_run=2 WHERE id='org-a'")
            org = store.org("org-a")  # the writing thread sees its own uncommitted change
            seen_inside.append(org.quota_slides_per_run if org else None)
            inside.set()
            release.wait(30)

    writer = threading.Thread(target=long_submit)
    writer.start()
    try:
        assert inside.wait(10)
        start = time.perf_counter()
        org = store.org("org-a")
        token_user = store.user("alice")
        elapsed = time.perf_counter() - start
        assert org is not None and org.quota_slides_per_run == 1  # the last commit
        assert token_user == user
        assert elapsed < 1.0  # did not wait for the writer (which holds on for up to 30 s)
        assert writer.is_alive()
    finally:
        release.set()
        writer.join(30)
    assert seen_inside == [2]
    org = store.org("org-a")
    assert org is not None and org.quota_slides_per_run == 2  # committed: every reader sees it


def test_a_run_submitted_in_one_thread_is_read_in_another(tmp_path: Path) -> None:
    store = Store(tmp_path / "platform.db")
    store.ensure_org("org-a", "A")
    user = store.ensure_user("alice", "org-a")
    run_id = store.create_run(
        user=user, application_id="app", version_number="1.0.0", custom_metadata={"a": 1},
        due_date=None, deadline=None, callback_context=None, output_names=["out"],
        items=[NewItem("slide", None, [NewInput("whole_slide_image", "http://x/s", {})])],
    )
    found: list[object] = []
    reader = threading.Thread(target=lambda: found.append(store.run(run_id)))
    reader.start()
    reader.join(10)
    assert len(found) == 1 and getattr(found[0], "custom_metadata", None) == {"a": 1}


def test_readers_cannot_write_and_are_closed_with_the_store(tmp_path: Path) -> None:
    store = Store(tmp_path / "platform.db")
    store.ensure_org("org-a", "A")
    reader = store._reader()
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        reader.execute("UPDATE orgs SET name='B'")
    store.close()
    with pytest.raises(sqlite3.ProgrammingError):
        reader.execute("SELECT 1")

