"""Run states in the words users know: received, scheduled, running, completed, ..."""

from __future__ import annotations

from typing import Any

RECEIVED = "received"
SCHEDULED = "scheduled"
RUNNING = "running"
COMPLETED = "completed"
COMPLETED_WITH_ERRORS = "completed with errors"
CANCELLED_BY_SYSTEM = "cancelled by the system"
CANCELLED_BY_USER = "cancelled by the user"
FINAL_LABELS = (COMPLETED, COMPLETED_WITH_ERRORS, CANCELLED_BY_SYSTEM, CANCELLED_BY_USER)


def _value(obj: Any, name: str) -> Any:
    value = obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)
    return getattr(value, "value", value)


def run_label(run: Any) -> str:
    """Map a run's ``state``, ``termination_reason`` and ``statistics`` to one label.

    Accepts a ``RunReadResponse`` model or its JSON dict.
    """
    state = _value(run, "state")
    reason = _value(run, "termination_reason")
    stats = _value(run, "statistics") or {}
    if state == "TERMINATED":
        if reason == "CANCELED_BY_SYSTEM":
            return CANCELLED_BY_SYSTEM
        if reason == "CANCELED_BY_USER":
            return CANCELLED_BY_USER
        total = _value(stats, "item_count") or 0
        succeeded = _value(stats, "item_succeeded_count") or 0
        return COMPLETED if succeeded == total else COMPLETED_WITH_ERRORS
    if state == "PROCESSING":
        return RUNNING
    started = sum(
        _value(stats, key) or 0
        for key in (
            "item_processing_count",
            "item_succeeded_count",
            "item_user_error_count",
            "item_system_error_count",
        )
    )
    queued = _value(run, "num_preceding_items_platform") is not None
    return SCHEDULED if started or queued else RECEIVED


def progress_fraction(run: Any) -> float:
    """Fraction of items that reached a final state."""
    stats = _value(run, "statistics") or {}
    total = _value(stats, "item_count") or 0
    if not total:
        return 0.0
    done = sum(
        _value(stats, key) or 0
        for key in (
            "item_succeeded_count",
            "item_user_error_count",
            "item_system_error_count",
            "item_skipped_count",
        )
    )
    return done / total


def queue_text(run: Any) -> str:
    """Where a scheduled run waits (``"12 items ahead"``), empty once it runs or ended."""
    if run_label(run) not in (RECEIVED, SCHEDULED):
        return ""
    ahead = _value(run, "num_preceding_items_org")
    if ahead is None:
        ahead = _value(run, "num_preceding_items_platform")
    if ahead is None:
        return ""
    return "next in the queue" if ahead == 0 else f"{ahead} item{'s' if ahead != 1 else ''} ahead"


def note_and_tags(run: Any) -> tuple[str, list[str]]:
    """The note and tags given at submission (``custom_metadata.sdk``, as the official SDK writes them)."""
    custom = _value(run, "custom_metadata") or {}
    sdk = custom.get("sdk") if isinstance(custom, dict) else None
    if not isinstance(sdk, dict):
        return "", []
    note = sdk.get("note")
    tags = sdk.get("tags")
    return (
        str(note) if isinstance(note, str) else "",
        [str(t) for t in tags] if isinstance(tags, list) else [],
    )


def why_no_results(run: Any, items: list[Any]) -> str:
    """Why a run has no result file to download, in one sentence (for an empty download)."""
    outputs = [
        str(_value(artifact, "output"))
        for item in items
        for artifact in (_value(item, "output_artifacts") or [])
    ]
    run_id = _value(run, "run_id")
    if any(output.startswith("DELETED") for output in outputs):
        who = "by the system (retention period)" if "DELETED_BY_SYSTEM" in outputs else ""
        return (
            f"the results of run {run_id} were deleted {who}".strip()
            + "; nothing is left to download (submit the slides again for new results)"
        )
    label = run_label(run)
    if label not in FINAL_LABELS:
        return (
            f"run {run_id} is {label} and has no result yet; "
            "wait with 'run follow --download DIR'"
        )
    return f"run {run_id} ended ({label}) without any result file"
