"""The queue position of a run (``num_preceding_items_*``) straight from the store."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from napari_aignostics.server.lifecycle import cancel_run
from napari_aignostics.server.store import NewInput, NewItem, Store
from napari_aignostics.server.store.rows import UserRow


def _submit(store: Store, user: UserRow, items: int) -> str:
    return store.create_run(
        user=user, application_id="app", version_number="1.0.0", custom_metadata=None,
        due_date=None, deadline=None, callback_context=None, output_names=["out"],
        items=[NewItem(f"slide-{i}", None, [NewInput("whole_slide_image", "http://x/s", {})])
               for i in range(items)],
    )


def test_items_ahead_counts_unfinished_items_of_older_runs_only(tmp_path: Path) -> None:
    store = Store(tmp_path / "platform.db")
    store.ensure_org("org-a", "A")
    store.ensure_org("org-b", "B")
    alice = store.ensure_user("alice", "org-a")
    bob = store.ensure_user("bob", "org-b")
    cancelled = _submit(store, alice, 7)
    first = _submit(store, alice, 3)
    other = _submit(store, bob, 4)
    last = _submit(store, alice, 5)
    assert cancel_run(store, cancelled, "CANCELED_BY_USER")

    def ahead(run_id: str) -> tuple[int, int]:
        run = store.run(run_id)
        assert run is not None
        return store.items_ahead(run)

    assert ahead(first) == (0, 0)  # the cancelled run's skipped items are not queued
    assert ahead(other) == (3, 0)
    assert ahead(last) == (7, 3)
    assert store.statistics([last])[last]["item_pending_count"] == 5
    store.close()


def test_a_poll_reads_the_run_its_counters_and_queue_figures_at_once(tmp_path: Path) -> None:
    store = Store(tmp_path / "platform.db")
    store.ensure_org("org-a", "A")
    store.ensure_org("org-b", "B")
    alice = store.ensure_user("alice", "org-a")
    bob = store.ensure_user("bob", "org-b")
    first = _submit(store, alice, 3)
    other = _submit(store, bob, 4)
    last = _submit(store, alice, 5)
    for run_id in (first, other, last):
        run = store.run(run_id)
        found = store.run_with_figures(run_id)
        assert run is not None and found is not None
        assert found.run == run
        assert found.statistics == store.statistics([run_id])[run_id]
        assert found.ahead == store.items_ahead(run)
    assert cancel_run(store, first, "CANCELED_BY_USER")
    found = store.run_with_figures(first)
    assert found is not None and found.ahead is None  # terminated: no queue figures
    assert found.statistics["item_skipped_count"] == 3
    assert store.run_with_figures("no-such-run") is None


def test_queue_positions_count_pending_items_platform_wide_and_per_organization(
    tmp_path: Path,
) -> None:
    store = Store(tmp_path / "platform.db")
    store.ensure_org("org-a", "A")
    store.ensure_org("org-b", "B")
    alice = store.ensure_user("alice", "org-a")
    bob = store.ensure_user("bob", "org-b")
    cancelled = _submit(store, alice, 2)
    mine = _submit(store, alice, 2)
    theirs = _submit(store, bob, 2)
    last = _submit(store, alice, 2)
    assert cancel_run(store, cancelled, "CANCELED_BY_USER")

    def seqs(run_id: str) -> list[int]:
        rows = store.run_items(run_id, in_columns=[], equals=[], order=[], window=(100, 0),
                               where_json=None)
        return [row.seq for row in rows]

    positions = store.queue_positions(seqs(last) + seqs(theirs)[:1])
    assert sorted(positions.values()) == [(3, 1), (5, 3), (6, 4)]
    assert store.queue_positions(seqs(mine)) == dict(zip(seqs(mine), [(1, 1), (2, 2)], strict=True))
    assert store.queue_positions(seqs(cancelled)) == {}  # skipped items are not queued
    assert store.queue_positions([]) == {}


def _counted(store: Store, run_id: str) -> dict[str, int]:
    """The run's counters counted from its items, as the API defines them."""
    rows = store._all("SELECT state, termination_reason FROM items WHERE run_id=?", [run_id])
    reasons = {"USER_ERROR": "user_error", "SYSTEM_ERROR": "system_error",
               "SKIPPED": "skipped", "SUCCEEDED": "succeeded"}
    counted = dict.fromkeys(store.statistics([run_id])[run_id], 0)
    for row in rows:
        counted["item_count"] += 1
        if row["state"] in ("PENDING", "PROCESSING"):
            counted[f"item_{row['state'].lower()}_count"] += 1
        else:
            counted[f"item_{reasons[row['termination_reason']]}_count"] += 1
    return counted


def test_item_counters_follow_every_state_change_and_an_older_database(tmp_path: Path) -> None:
    store = Store(tmp_path / "platform.db")
    store.ensure_org("org-a", "A")
    alice = store.ensure_user("alice", "org-a")
    run_id = _submit(store, alice, 6)
    other = _submit(store, alice, 2)
    items = [row["id"] for row in store._all("SELECT id FROM items WHERE run_id=?", [run_id])]
    assert store.statistics([run_id])[run_id] == {**_counted(store, run_id), "item_count": 6,
                                                  "item_pending_count": 6}
    for item_id in items[:5]:
        assert store.claim_item(item_id)
    store.terminate_item(items[0], "SUCCEEDED", None, None, [])
    store.terminate_item(items[1], "USER_ERROR", "E", "bad input", [])
    store.terminate_item(items[2], "SYSTEM_ERROR", "E", "crashed", [])
    store.requeue_item(items[3], uncount_attempt=True)
    expected = {"item_count": 6, "item_pending_count": 2, "item_processing_count": 1,
                "item_user_error_count": 1, "item_system_error_count": 1,
                "item_skipped_count": 0, "item_succeeded_count": 1}
    assert store.statistics([run_id])[run_id] == _counted(store, run_id) == expected
    assert cancel_run(store, run_id, "CANCELED_BY_USER")
    stats = store.statistics([run_id, other])
    assert stats[run_id] == _counted(store, run_id)
    assert stats[run_id]["item_skipped_count"] == 3 and stats[other]["item_pending_count"] == 2
    found = store.run_with_figures(run_id)
    assert found is not None and found.statistics == stats[run_id]
    store.close()

    # a database made before the counters: they are counted when it is opened
    with sqlite3.connect(tmp_path / "platform.db") as db:
        db.executescript("DROP TABLE run_counters; DROP TRIGGER items_counted;"
                         " DROP TRIGGER items_recounted; DROP TRIGGER items_uncounted;")
    store = Store(tmp_path / "platform.db")
    assert store.statistics([run_id, other]) == stats
    store.close()
