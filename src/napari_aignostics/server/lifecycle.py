"""The run state machine: items and artifacts move PENDING → PROCESSING → TERMINATED.

Every transition happens in one transaction and ends by settling the run: its state follows its
items, the system cancels it when too many items failed or its deadline passed, and
``terminated_at`` is set exactly once.
"""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .settings import ServerSettings
from .store import Store, now_iso

__all__ = [
    "ProducedOutput",
    "cancel_run",
    "delete_outputs",
    "expire_outputs",
    "finish_item",
    "recover",
    "run_output",
    "settle_run",
    "start_item",
]

log = logging.getLogger(__name__)

THRESHOLD_CODE = "SCHEDULER.ITEMS_WITH_ERROR_THRESHOLD_REACHED"
DEADLINE_CODE = "SCHEDULER.DEADLINE_EXCEEDED"


@dataclass
class ProducedOutput:
    """An output artifact file stored in the object store."""

    name: str
    object_path: str
    size: int
    metadata: dict[str, Any]


def run_output(stats: dict[str, int]) -> str:
    """NONE, PARTIAL or FULL from the item counters."""
    done = stats["item_succeeded_count"]
    if done == 0:
        return "NONE"
    return "FULL" if done == stats["item_count"] else "PARTIAL"


def start_item(store: Store, item_id: str) -> bool:
    """Claim a pending item for processing; False if it is no longer pending."""
    with store.transaction() as db:
        changed = db.execute(
            "UPDATE items SET state='PROCESSING', attempts=attempts+1 "
            "WHERE id=? AND state='PENDING'",
            (item_id,),
        ).rowcount
        if not changed:
            return False
        db.execute(
            "UPDATE output_artifacts SET state='PROCESSING' WHERE item_id=? AND state='PENDING'",
            (item_id,),
        )
        db.execute(
            "UPDATE runs SET state='PROCESSING' WHERE state='PENDING' AND "
            "id=(SELECT run_id FROM items WHERE id=?)",
            (item_id,),
        )
    return True


def finish_item(
    store: Store,
    settings: ServerSettings,
    item_id: str,
    reason: str,
    *,
    error_code: str | None = None,
    error_message: str | None = None,
    produced: list[ProducedOutput] | None = None,
) -> bool:
    """Terminate a processing item with its outputs; False (outputs dropped) if it was cancelled."""
    produced_by_name = {p.name: p for p in produced or []}
    stamp = now_iso()
    with store.transaction() as db:
        row = db.execute("SELECT run_id, state FROM items WHERE id=?", (item_id,)).fetchone()
        if row is None or row["state"] != "PROCESSING":
            return False
        db.execute(
            "UPDATE items SET state='TERMINATED', termination_reason=?, error_code=?,"
            " error_message=?, terminated_at=? WHERE id=?",
            (reason, error_code, error_message, stamp, item_id),
        )
        for artifact in db.execute(
            "SELECT id, name FROM output_artifacts WHERE item_id=?", (item_id,)
        ).fetchall():
            made = produced_by_name.get(artifact["name"])
            if made is not None:
                db.execute(
                    "UPDATE output_artifacts SET state='TERMINATED', termination_reason='SUCCEEDED',"
                    " output='AVAILABLE', metadata=?, object_path=?, size=? WHERE id=?",
                    (_json(made.metadata), made.object_path, made.size, artifact["id"]),
                )
            else:
                art_reason = "SKIPPED" if reason == "SUCCEEDED" else reason
                db.execute(
                    "UPDATE output_artifacts SET state='TERMINATED', termination_reason=?,"
                    " output='NONE', error_code=?, error_message=? WHERE id=?",
                    (art_reason, error_code, error_message, artifact["id"]),
                )
        run_id = row["run_id"]
    settle_run(store, settings, run_id)
    return True


def _json(value: Any) -> str:
    import json

    return json.dumps(value, separators=(",", ":"))


def cancel_run(
    store: Store,
    run_id: str,
    reason: str,
    *,
    error_code: str | None = None,
    error_message: str | None = None,
) -> bool:
    """Terminate a run: unfinished items become SKIPPED, finished ones keep their outputs.

    Each skipped item's ``error_message`` says why (the user's cancel, the error threshold, the
    deadline), as its ``error_code`` repeats the run's.
    """
    stamp = now_iso()
    why = (
        f"skipped: {error_message}"
        if error_message
        else "skipped: the run was cancelled by its creator before this item finished"
    )
    with store.transaction() as db:
        run = db.execute("SELECT state FROM runs WHERE id=?", (run_id,)).fetchone()
        if run is None or run["state"] == "TERMINATED":
            return False
        open_items = [
            r["id"]
            for r in db.execute(
                "SELECT id FROM items WHERE run_id=? AND state!='TERMINATED'", (run_id,)
            ).fetchall()
        ]
        for item_id in open_items:
            db.execute(
                "UPDATE items SET state='TERMINATED', termination_reason='SKIPPED',"
                " terminated_at=?, error_code=?, error_message=? WHERE id=?",
                (stamp, error_code, why, item_id),
            )
            db.execute(
                "UPDATE output_artifacts SET state='TERMINATED', termination_reason='SKIPPED',"
                " output='NONE' WHERE item_id=?",
                (item_id,),
            )
        db.execute(
            "UPDATE runs SET state='TERMINATED', termination_reason=?, error_code=?,"
            " error_message=?, terminated_at=?, terminated_epoch=? WHERE id=?",
            (reason, error_code, error_message, stamp, time.time(), run_id),
        )
    return True


def settle_run(store: Store, settings: ServerSettings, run_id: str) -> None:
    """Bring a run's state in line with its items; cancel it on too many failures."""
    run = store.run(run_id)
    if run is None or run["state"] == "TERMINATED":
        return
    stats = store.statistics([run_id])[run_id]
    failed = stats["item_user_error_count"] + stats["item_system_error_count"]
    unfinished = stats["item_pending_count"] + stats["item_processing_count"]
    if unfinished and failed >= settings.failed_items_threshold:
        cancel_run(
            store,
            run_id,
            "CANCELED_BY_SYSTEM",
            error_code=THRESHOLD_CODE,
            error_message=f"{failed} items failed; the run was stopped after "
            f"{settings.failed_items_threshold} failed items",
        )
        return
    if unfinished == 0:
        store.execute(
            "UPDATE runs SET state='TERMINATED', termination_reason='ALL_ITEMS_PROCESSED',"
            " terminated_at=?, terminated_epoch=? WHERE id=? AND state!='TERMINATED'",
            (now_iso(), time.time(), run_id),
        )
    elif stats["item_pending_count"] < stats["item_count"]:
        store.execute(
            "UPDATE runs SET state='PROCESSING' WHERE id=? AND state='PENDING'", (run_id,)
        )


def cancel_overdue(store: Store) -> list[str]:
    """Cancel unfinished runs whose deadline passed; their ids."""
    stamp = datetime.now(UTC)
    cancelled = []
    for run in store.all(
        "SELECT id, deadline FROM runs WHERE state!='TERMINATED' AND deadline IS NOT NULL"
    ):
        deadline = datetime.fromisoformat(run["deadline"].replace("Z", "+00:00"))
        if deadline.tzinfo is None:
            deadline = deadline.replace(tzinfo=UTC)
        if deadline <= stamp and cancel_run(
            store,
            run["id"],
            "CANCELED_BY_SYSTEM",
            error_code=DEADLINE_CODE,
            error_message=f"the run's deadline {run['deadline']} passed before it finished",
        ):
            cancelled.append(run["id"])
    return cancelled


def delete_outputs(store: Store, objects_root: Path, run_id: str, output: str) -> int:
    """Mark a run's available artifacts deleted (``DELETED_BY_USER``/``_SYSTEM``), remove files."""
    with store.transaction() as db:
        rows = db.execute(
            "SELECT id, object_path FROM output_artifacts WHERE run_id=? AND output='AVAILABLE'",
            (run_id,),
        ).fetchall()
        db.execute(
            "UPDATE output_artifacts SET output=?, metadata=NULL WHERE run_id=? AND output='AVAILABLE'",
            (output, run_id),
        )
    for row in rows:
        if row["object_path"]:
            (objects_root / row["object_path"]).unlink(missing_ok=True)
    return len(rows)


def expire_outputs(store: Store, settings: ServerSettings, objects_root: Path) -> int:
    """Delete outputs of runs terminated longer ago than the retention (DELETED_BY_SYSTEM)."""
    cutoff = time.time() - settings.retention_days * 86400
    count = 0
    for run in store.all(
        "SELECT DISTINCT runs.id FROM runs JOIN output_artifacts ON output_artifacts.run_id=runs.id"
        " WHERE runs.state='TERMINATED' AND runs.terminated_epoch < ?"
        " AND output_artifacts.output='AVAILABLE'",
        (cutoff,),
    ):
        count += delete_outputs(store, objects_root, run["id"], "DELETED_BY_SYSTEM")
    return count


def recover(
    store: Store, settings: ServerSettings, work_root: Path | None = None
) -> dict[str, int]:
    """After a crash: retry interrupted items (bounded) or fail them; settle every open run.

    Nothing is processed during recovery, so every item work folder under ``work_root`` is stale
    (a retried item gets a fresh one): all are removed, those of items failed here included.
    """
    retried = failed = 0
    for item in store.all("SELECT id, attempts FROM items WHERE state='PROCESSING'"):
        if item["attempts"] < settings.max_attempts:
            with store.transaction() as db:
                db.execute("UPDATE items SET state='PENDING' WHERE id=?", (item["id"],))
                db.execute(
                    "UPDATE output_artifacts SET state='PENDING' WHERE item_id=?", (item["id"],)
                )
            retried += 1
        else:
            finish_item(
                store,
                settings,
                item["id"],
                "SYSTEM_ERROR",
                error_code="WORKER.INTERRUPTED",
                error_message=f"processing was interrupted {item['attempts']} times "
                "(the platform stopped); not retried again",
            )
            failed += 1
    for run in store.all("SELECT id FROM runs WHERE state!='TERMINATED'"):
        if not store.one("SELECT 1 FROM items WHERE run_id=? AND state='PROCESSING'", (run["id"],)):
            if store.one("SELECT 1 FROM items WHERE run_id=? AND state='TERMINATED'", (run["id"],)):
                store.update_run(run["id"], state="PROCESSING")
            else:
                store.update_run(run["id"], state="PENDING")
        settle_run(store, settings, run["id"])
    if work_root is not None and work_root.is_dir():
        for folder in work_root.iterdir():
            shutil.rmtree(folder, ignore_errors=True)
    if retried or failed:
        log.warning("recovered after restart: %d items retried, %d failed", retried, failed)
    return {"retried": retried, "failed": failed}
