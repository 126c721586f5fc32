"""The state columns of runs, items and output artifacts; only :mod:`..lifecycle` calls these.

Each method is one transaction. Which transition is allowed when is the lifecycle's knowledge;
these only write it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence

from .database import Database, now_iso
from .rows import ItemRow, ProducedOutput, RunRow

__all__ = ["StateTables"]


class StateTables(Database):
    """State changes of ``runs``, ``items`` and ``output_artifacts``."""

    def claim_item(self, item_id: str) -> bool:
        """PENDING → PROCESSING (item, its outputs, a pending run); False if not pending."""
        with self.transaction() as db:
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

    def terminate_item(
        self,
        item_id: str,
        reason: str,
        error_code: str | None,
        error_message: str | None,
        produced: Sequence[ProducedOutput],
    ) -> str | None:
        """PROCESSING → TERMINATED with its outputs; the run id, or None if it was not processing.

        Produced artifacts become AVAILABLE; the others end with the item's reason (SKIPPED when
        the item succeeded without them).
        """
        by_name = {p.name: p for p in produced}
        stamp = now_iso()
        with self.transaction() as db:
            row = db.execute("SELECT run_id, state FROM items WHERE id=?", (item_id,)).fetchone()
            if row is None or row["state"] != "PROCESSING":
                return None
            db.execute(
                "UPDATE items SET state='TERMINATED', termination_reason=?, error_code=?,"
                " error_message=?, terminated_at=? WHERE id=?",
                (reason, error_code, error_message, stamp, item_id),
            )
            for artifact in db.execute(
                "SELECT id, name FROM output_artifacts WHERE item_id=?", (item_id,)
            ).fetchall():
                made = by_name.get(artifact["name"])
                if made is not None:
                    db.execute(
                        "UPDATE output_artifacts SET state='TERMINATED',"
                        " termination_reason='SUCCEEDED', output='AVAILABLE', metadata=?,"
                        " object_path=?, size=? WHERE id=?",
                        (
                            json.dumps(made.metadata, separators=(",", ":")),
                            made.object_path,
                            made.size,
                            artifact["id"],
                        ),
                    )
                else:
                    db.execute(
                        "UPDATE output_artifacts SET state='TERMINATED', termination_reason=?,"
                        " output='NONE', error_code=?, error_message=? WHERE id=?",
                        (
                            "SKIPPED" if reason == "SUCCEEDED" else reason,
                            error_code,
                            error_message,
                            artifact["id"],
                        ),
                    )
            return str(row["run_id"])

    def terminate_run(
        self,
        run_id: str,
        reason: str,
        error_code: str | None,
        error_message: str | None,
        item_message: str,
    ) -> bool:
        """An unterminated run → TERMINATED, its unfinished items SKIPPED; False if terminated."""
        stamp = now_iso()
        with self.transaction() as db:
            run = db.execute("SELECT state FROM runs WHERE id=?", (run_id,)).fetchone()
            if run is None or run["state"] == "TERMINATED":
                return False
            for row in db.execute(
                "SELECT id FROM items WHERE run_id=? AND state!='TERMINATED'", (run_id,)
            ).fetchall():
                db.execute(
                    "UPDATE items SET state='TERMINATED', termination_reason='SKIPPED',"
                    " terminated_at=?, error_code=?, error_message=? WHERE id=?",
                    (stamp, error_code, item_message, row["id"]),
                )
                db.execute(
                    "UPDATE output_artifacts SET state='TERMINATED',"
                    " termination_reason='SKIPPED', output='NONE' WHERE item_id=?",
                    (row["id"],),
                )
            db.execute(
                "UPDATE runs SET state='TERMINATED', termination_reason=?, error_code=?,"
                " error_message=?, terminated_at=?, terminated_epoch=? WHERE id=?",
                (reason, error_code, error_message, stamp, time.time(), run_id),
            )
        return True

    def complete_run(self, run_id: str) -> None:
        """An unterminated run → TERMINATED (ALL_ITEMS_PROCESSED)."""
        self._execute(
            "UPDATE runs SET state='TERMINATED', termination_reason='ALL_ITEMS_PROCESSED',"
            " terminated_at=?, terminated_epoch=? WHERE id=? AND state!='TERMINATED'",
            (now_iso(), time.time(), run_id),
        )

    def set_run_state(self, run_id: str, state: str, *, only_from: str | None = None) -> None:
        """Set an unterminated run's state (PENDING/PROCESSING), if it is ``only_from`` when given."""
        if only_from is None:
            self._execute(
                "UPDATE runs SET state=? WHERE id=? AND state!='TERMINATED'", (state, run_id)
            )
        else:
            self._execute(
                "UPDATE runs SET state=? WHERE id=? AND state=?", (state, run_id, only_from)
            )

    def requeue_item(self, item_id: str, *, uncount_attempt: bool) -> None:
        """A processing item (and its outputs) back to PENDING, the attempt uncounted if asked."""
        attempts = "MAX(attempts-1,0)" if uncount_attempt else "attempts"
        with self.transaction() as db:
            db.execute(
                f"UPDATE items SET state='PENDING', attempts={attempts} "
                "WHERE id=? AND state='PROCESSING'",
                (item_id,),
            )
            db.execute(
                "UPDATE output_artifacts SET state='PENDING' WHERE item_id=? "
                "AND state='PROCESSING'",
                (item_id,),
            )

    def mark_outputs_deleted(self, run_id: str, output: str) -> list[str]:
        """A run's available artifacts → ``output`` (DELETED_BY_...); their object paths."""
        with self.transaction() as db:
            rows = db.execute(
                "SELECT id, object_path FROM output_artifacts WHERE run_id=? AND output='AVAILABLE'",
                (run_id,),
            ).fetchall()
            db.execute(
                "UPDATE output_artifacts SET output=?, metadata=NULL"
                " WHERE run_id=? AND output='AVAILABLE'",
                (output, run_id),
            )
        return [row["object_path"] or "" for row in rows]

    # --- what the transitions look at ----------------------------------------------------------

    def runs_with_deadline(self) -> list[RunRow]:
        """Unterminated runs that have a deadline."""
        return [
            RunRow(**row)
            for row in self._all(
                "SELECT * FROM runs WHERE state!='TERMINATED' AND deadline IS NOT NULL"
            )
        ]

    def runs_with_outputs_before(self, epoch: float) -> list[str]:
        """Runs terminated before ``epoch`` that still have available outputs."""
        return [
            row["id"]
            for row in self._all(
                "SELECT DISTINCT runs.id FROM runs"
                " JOIN output_artifacts ON output_artifacts.run_id=runs.id"
                " WHERE runs.state='TERMINATED' AND runs.terminated_epoch < ?"
                " AND output_artifacts.output='AVAILABLE'",
                (epoch,),
            )
        ]

    def processing_items(self) -> list[ItemRow]:
        """Every item in PROCESSING."""
        return [ItemRow(**row) for row in self._all("SELECT * FROM items WHERE state='PROCESSING'")]

    def unterminated_runs(self) -> list[str]:
        """Ids of every run not terminated."""
        return [row["id"] for row in self._all("SELECT id FROM runs WHERE state!='TERMINATED'")]

    def has_items_in(self, run_id: str, state: str) -> bool:
        """Whether a run has an item in ``state``."""
        return bool(
            self._one("SELECT 1 FROM items WHERE run_id=? AND state=?", (run_id, state))
        )
