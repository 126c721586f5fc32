"""The run state machine: items and artifacts move PENDING → PROCESSING → TERMINATED.

Every transition of a run, item or artifact is decided here (the worker and the routes call these
functions); the store's state writes (``store/states.py``) carry each out in one transaction. A
transition ends by settling the run: its state follows its items, the system cancels it when too
many items failed or its deadline passed, and ``terminated_at`` is set exactly once.
"""

from __future__ import annotations

import logging
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path

from .settings import ServerSettings
from .store import Store
from .store.rows import ProducedOutput

__all__ = [
    "ProducedOutput",
    "cancel_overdue",
    "cancel_run",
    "delete_outputs",
    "expire_outputs",
    "finish_item",
    "recover",
    "requeue_item",
    "run_output",
    "settle_run",
    "start_item",
]

log = logging.getLogger(__name__)

THRESHOLD_CODE = "SCHEDULER.ITEMS_WITH_ERROR_THRESHOLD_REACHED"
DEADLINE_CODE = "SCHEDULER.DEADLINE_EXCEEDED"


def run_output(stats: dict[str, int]) -> str:
    """NONE, PARTIAL or FULL from the item counters."""
    done = stats["item_succeeded_count"]
    if done == 0:
        return "NONE"
    return "FULL" if done == stats["item_count"] else "PARTIAL"


def start_item(store: Store, item_id: str) -> bool:
    """Claim a pending item for processing; False if it is no longer pending."""
    return store.claim_item(item_id)


def requeue_item(store: Store, item_id: str) -> None:
    """The platform stops while the item runs: back to the queue, this attempt not counted."""
    store.requeue_item(item_id, uncount_attempt=True)


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
    run_id = store.terminate_item(item_id, reason, error_code, error_message, produced or [])
    if run_id is None:
        return False
    settle_run(store, settings, run_id)
    return True


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
    why = (
        f"skipped: {error_message}"
        if error_message
        else "skipped: the run was cancelled by its creator before this item finished"
    )
    return store.terminate_run(run_id, reason, error_code, error_message, why)


def settle_run(store: Store, settings: ServerSettings, run_id: str) -> None:
    """Bring a run's state in line with its items; cancel it on too many failures."""
    run = store.run(run_id)
    if run is None or run.state == "TERMINATED":
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
        store.complete_run(run_id)
    elif stats["item_pending_count"] < stats["item_count"]:
        store.set_run_state(run_id, "PROCESSING", only_from="PENDING")


def cancel_overdue(store: Store) -> list[str]:
    """Cancel unfinished runs whose deadline passed; their ids."""
    stamp = datetime.now(UTC)
    cancelled = []
    for run in store.runs_with_deadline():
        assert run.deadline is not None
        deadline = datetime.fromisoformat(run.deadline.replace("Z", "+00:00"))
        if deadline.tzinfo is None:
            deadline = deadline.replace(tzinfo=UTC)
        if deadline <= stamp and cancel_run(
            store,
            run.id,
            "CANCELED_BY_SYSTEM",
            error_code=DEADLINE_CODE,
            error_message=f"the run's deadline {run.deadline} passed before it finished",
        ):
            cancelled.append(run.id)
    return cancelled


def delete_outputs(store: Store, objects_root: Path, run_id: str, output: str) -> int:
    """Mark a run's available artifacts deleted (``DELETED_BY_USER``/``_SYSTEM``), remove files."""
    paths = store.mark_outputs_deleted(run_id, output)
    for path in paths:
        if path:
            (objects_root / path).unlink(missing_ok=True)
    return len(paths)


def expire_outputs(store: Store, settings: ServerSettings, objects_root: Path) -> int:
    """Delete outputs of runs terminated longer ago than the retention (DELETED_BY_SYSTEM)."""
    cutoff = time.time() - settings.retention_days * 86400
    return sum(
        delete_outputs(store, objects_root, run_id, "DELETED_BY_SYSTEM")
        for run_id in store.runs_with_outputs_before(cutoff)
    )


def recover(
    store: Store, settings: ServerSettings, work_root: Path | None = None
) -> dict[str, int]:
    """After a crash: retry interrupted items (bounded) or fail them; settle every open run.

    Nothing is processed during recovery, so every item work folder under ``work_root`` is stale
    (a retried item gets a fresh one): all are removed, those of items failed here included.
    """
    retried = failed = 0
    for item in store.processing_items():
        if item.attempts < settings.max_attempts:
            store.requeue_item(item.id, uncount_attempt=False)
            retried += 1
        else:
            finish_item(
                store,
                settings,
                item.id,
                "SYSTEM_ERROR",
                error_code="WORKER.INTERRUPTED",
                error_message=f"processing was interrupted {item.attempts} times "
                "(the platform stopped); not retried again",
            )
            failed += 1
    for run_id in store.unterminated_runs():
        if not store.has_items_in(run_id, "PROCESSING"):
            started = store.has_items_in(run_id, "TERMINATED")
            store.set_run_state(run_id, "PROCESSING" if started else "PENDING")
        settle_run(store, settings, run_id)
    if work_root is not None and work_root.is_dir():
        for folder in work_root.iterdir():
            shutil.rmtree(folder, ignore_errors=True)
    if retried or failed:
        log.warning("recovered after restart: %d items retried, %d failed", retried, failed)
    return {"retried": retried, "failed": failed}
