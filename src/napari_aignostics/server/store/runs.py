"""Runs, items and artifacts: creating, reading, listing, custom metadata, queue figures."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from .database import (
    ITEM_COUNTERS,
    Database,
    dumps,
    marks,
    metadata_checksum,
    now_iso,
    order_clause,
)
from .rows import (
    InputArtifactRow,
    ItemRow,
    ItemWithArtifacts,
    JsonPredicate,
    JsonValue,
    OutputArtifactRow,
    QueuedItem,
    RunRow,
    SortKey,
    UserRow,
    Window,
    row_of,
)

__all__ = ["ChecksumConflict", "NewInput", "NewItem", "RunTables", "RunWithFigures"]


class ChecksumConflict(Exception):
    """The custom metadata changed since the caller read it."""


@dataclass(frozen=True)
class NewInput:
    """An input artifact of a run being created."""

    name: str
    download_url: str
    metadata: JsonValue


@dataclass(frozen=True)
class NewItem:
    """An item of a run being created."""

    external_id: str
    custom_metadata: JsonValue
    inputs: list[NewInput]


COUNTER_COLUMNS = tuple(ITEM_COUNTERS)


def empty_statistics() -> dict[str, int]:
    """The item counters of a run without items."""
    return dict.fromkeys(COUNTER_COLUMNS, 0)


RUN_WITH_FIGURES = (
    "SELECT runs.*, " + ", ".join(f"counters.{name}" for name in COUNTER_COLUMNS) + ", ahead.*"
    " FROM runs LEFT JOIN run_counters AS counters ON counters.run_id = runs.id,"
    # the unfinished items of older unterminated runs (as items_ahead), when the run is unfinished
    " (SELECT COUNT(*) AS ahead_all, COALESCE(SUM(older.org_id = run.org_id), 0) AS ahead_org"
    " FROM runs AS run, runs AS older CROSS JOIN items ON items.run_id = older.id"
    " WHERE run.id=:id AND run.state != 'TERMINATED' AND older.state != 'TERMINATED'"
    " AND older.seq < run.seq AND items.state IN ('PENDING','PROCESSING')) AS ahead"
    " WHERE runs.id=:id"
)


@dataclass(frozen=True)
class RunWithFigures:
    """A run with its item counters and queue figures (None once terminated)."""

    run: RunRow
    statistics: dict[str, int]
    ahead: tuple[int, int] | None


class RunTables(Database):
    """``runs``, ``items``, ``input_artifacts`` and ``output_artifacts`` (reading, creating)."""

    def create_run(
        self,
        *,
        user: UserRow,
        application_id: str,
        version_number: str,
        custom_metadata: JsonValue,
        due_date: str | None,
        deadline: str | None,
        callback_context: JsonValue,
        items: Sequence[NewItem],
        output_names: Sequence[str],
    ) -> str:
        """Insert a run with its items, inputs and pending output artifacts atomically; its id."""
        run_id = str(uuid.uuid4())
        with self.transaction() as db:
            db.execute(
                "INSERT INTO runs (id, application_id, version_number, user_id, org_id, state,"
                " custom_metadata, custom_metadata_checksum, submitted_at, due_date, deadline,"
                " callback_context) VALUES (?,?,?,?,?,'PENDING',?,?,?,?,?,?)",
                (
                    run_id,
                    application_id,
                    version_number,
                    user.id,
                    user.org_id,
                    dumps(custom_metadata),
                    metadata_checksum(custom_metadata),
                    now_iso(),
                    due_date,
                    deadline,
                    dumps(callback_context),
                ),
            )
            for item in items:
                item_id = str(uuid.uuid4())
                db.execute(
                    "INSERT INTO items (id, run_id, external_id, custom_metadata,"
                    " custom_metadata_checksum, state) VALUES (?,?,?,?,?,'PENDING')",
                    (
                        item_id,
                        run_id,
                        item.external_id,
                        dumps(item.custom_metadata),
                        metadata_checksum(item.custom_metadata),
                    ),
                )
                db.executemany(
                    "INSERT INTO input_artifacts VALUES (?,?,?,?,?)",
                    [
                        (str(uuid.uuid4()), item_id, a.name, a.download_url, dumps(a.metadata))
                        for a in item.inputs
                    ],
                )
                db.executemany(
                    "INSERT INTO output_artifacts (id, item_id, run_id, name, state, output)"
                    " VALUES (?,?,?,?,'PENDING','NONE')",
                    [(str(uuid.uuid4()), item_id, run_id, name) for name in output_names],
                )
        return run_id

    # --- runs --------------------------------------------------------------------------------

    def run(self, run_id: str) -> RunRow | None:
        """One run."""
        return row_of(RunRow, self._one("SELECT * FROM runs WHERE id=?", (run_id,)))

    def runs(
        self,
        *,
        equals: Sequence[tuple[str, str]],
        external_id: str | None,
        order: Sequence[SortKey],
        window: Window,
        where_json: JsonPredicate | None,
    ) -> list[RunRow]:
        """A page of runs: ``equals`` pairs whitelisted columns and values (all must hold)."""
        where = [f"{column}=?" for column, _ in equals]
        params: list[object] = [value for _, value in equals]
        if external_id:
            where.append("id IN (SELECT run_id FROM items WHERE external_id=?)")
            params.append(external_id)
        sql = "SELECT * FROM runs WHERE " + " AND ".join(where or ["1"])
        rows = self._page(sql + order_clause(order, "seq DESC"), params, window, where_json)
        return [RunRow(**row) for row in rows]

    def statistics(self, run_ids: Sequence[str]) -> dict[str, dict[str, int]]:
        """Item counters per run."""
        stats = {run_id: empty_statistics() for run_id in run_ids}
        if run_ids:
            for row in self._all(
                f"SELECT * FROM run_counters WHERE run_id IN ({marks(run_ids)})", list(run_ids)
            ):
                stats[row.pop("run_id")] = row
        return stats

    def run_with_figures(self, run_id: str) -> RunWithFigures | None:
        """One run, its item counters and, unless terminated, its queue figures: one statement."""
        raw = self._one(RUN_WITH_FIGURES, {"id": run_id})
        if raw is None:
            return None
        counters = {name: int(raw.pop(name) or 0) for name in COUNTER_COLUMNS}
        ahead = int(raw.pop("ahead_all")), int(raw.pop("ahead_org"))
        run = RunRow(**raw)
        return RunWithFigures(run, counters, None if run.state == "TERMINATED" else ahead)

    def items_ahead(self, run: RunRow) -> tuple[int, int]:
        """Unfinished items of older runs: platform-wide and in the run's organization.

        Only unterminated runs are looked at (a terminated run has no unfinished item: a cancel
        skips them in the same transaction), so a poll does not walk the run's own items.
        """
        row = self._one(
            "SELECT COUNT(*) AS n, COALESCE(SUM(runs.org_id = ?), 0) AS org"
            " FROM runs CROSS JOIN items ON items.run_id = runs.id"  # CROSS: runs first
            " WHERE runs.state != 'TERMINATED' AND runs.seq < ?"
            " AND items.state IN ('PENDING','PROCESSING')",
            (run.org_id, run.seq),
        )
        return (int(row["n"]), int(row["org"])) if row else (0, 0)

    def month_slides(self, *, user_id: str | None = None, org_id: str | None = None) -> int:
        """Slides submitted this calendar month by a user or an organization."""
        column, value = ("user_id", user_id) if user_id is not None else ("org_id", org_id)
        row = self._one(
            f"SELECT COUNT(*) AS n FROM items JOIN runs ON runs.id=items.run_id "
            f"WHERE runs.{column}=? AND substr(runs.submitted_at,1,7)=?",
            (value, now_iso()[:7]),
        )
        return int(row["n"] if row else 0)

    def unfinished_runs(self, org_id: str) -> int:
        """Runs of an organization that have not terminated."""
        row = self._one(
            "SELECT COUNT(*) AS n FROM runs WHERE org_id=? AND state!='TERMINATED'", (org_id,)
        )
        return int(row["n"] if row else 0)

    # --- items -------------------------------------------------------------------------------

    def items(self, item_ids: Sequence[str]) -> dict[str, ItemWithArtifacts]:
        """Items by id with their input and output artifacts."""
        if not item_ids:
            return {}
        ids = list(item_ids)
        items = {
            row["id"]: ItemWithArtifacts(ItemRow(**row), [], [])
            for row in self._all(f"SELECT * FROM items WHERE id IN ({marks(ids)})", ids)
        }
        for row in self._all(f"SELECT * FROM input_artifacts WHERE item_id IN ({marks(ids)})", ids):
            items[row["item_id"]].inputs.append(InputArtifactRow(**row))
        for row in self._all(
            f"SELECT * FROM output_artifacts WHERE item_id IN ({marks(ids)}) ORDER BY seq", ids
        ):
            items[row["item_id"]].outputs.append(OutputArtifactRow(**row))
        return items

    def run_items(
        self,
        run_id: str,
        *,
        in_columns: Sequence[tuple[str, Sequence[str]]],
        equals: Sequence[tuple[str, str]],
        order: Sequence[SortKey],
        window: Window,
        where_json: JsonPredicate | None,
    ) -> list[ItemRow]:
        """A page of a run's items; ``in_columns``/``equals`` use whitelisted columns."""
        where, params = ["run_id=?"], [run_id]
        for column, values in in_columns:
            if values:
                where.append(f"{column} IN ({marks(values)})")
                params.extend(values)
        for column, value in equals:
            where.append(f"{column}=?")
            params.append(value)
        sql = "SELECT * FROM items WHERE " + " AND ".join(where) + order_clause(order, "seq ASC")
        return [ItemRow(**row) for row in self._page(sql, list(params), window, where_json)]

    def artifacts_of(self, rows: Sequence[ItemRow]) -> list[ItemWithArtifacts]:
        """``rows`` (in order) with their input and output artifacts."""
        items = {row.id: ItemWithArtifacts(row, [], []) for row in rows}
        if not items:
            return []
        ids = list(items)
        for row in self._all(f"SELECT * FROM input_artifacts WHERE item_id IN ({marks(ids)})", ids):
            items[row["item_id"]].inputs.append(InputArtifactRow(**row))
        for row in self._all(
            f"SELECT * FROM output_artifacts WHERE item_id IN ({marks(ids)}) ORDER BY seq", ids
        ):
            items[row["item_id"]].outputs.append(OutputArtifactRow(**row))
        return list(items.values())

    def queue_positions(self, item_seqs: Sequence[int]) -> dict[int, tuple[int, int]]:
        """1-based positions (platform, organization) of pending items among all pending items.

        Only the pending items up to the last one asked for are read (no later one counts).
        """
        wanted = set(item_seqs)
        if not wanted:
            return {}
        positions: dict[int, tuple[int, int]] = {}
        per_org: dict[str, int] = {}
        rows = self._tuples(
            "SELECT items.seq, runs.org_id FROM items JOIN runs ON runs.id = items.run_id"
            " WHERE items.state='PENDING' AND items.seq <= ? ORDER BY items.seq",
            (max(wanted),),
        )
        for index, (seq, org_id) in enumerate(rows, 1):
            per_org[org_id] = in_org = per_org.get(org_id, 0) + 1
            if seq in wanted:
                positions[seq] = (index, in_org)
        return positions

    def item_by_external_id(self, run_id: str, external_id: str) -> ItemRow | None:
        """A run's item by its external id."""
        return row_of(
            ItemRow,
            self._one(
                "SELECT * FROM items WHERE run_id=? AND external_id=?", (run_id, external_id)
            ),
        )

    def queued_items(self, limit: int = 2000) -> list[QueuedItem]:
        """Pending items of unfinished runs, oldest run first."""
        return [
            QueuedItem(row["id"], row["run_id"], row["user_id"])
            for row in self._all(
                "SELECT items.id, items.run_id, runs.user_id FROM items"
                " JOIN runs ON runs.id=items.run_id"
                " WHERE items.state='PENDING' AND runs.state!='TERMINATED'"
                " ORDER BY runs.seq, items.seq LIMIT ?",
                (limit,),
            )
        ]

    def pending_queue(self) -> list[tuple[int, str, str]]:
        """Every pending item in queue order: (item seq, organization id, run id)."""
        return [
            (int(seq), str(org_id), str(run_id))
            for seq, org_id, run_id in self._tuples(
                "SELECT items.seq, runs.org_id, runs.id AS run_id FROM items "
                "JOIN runs ON runs.id = items.run_id WHERE items.state='PENDING' ORDER BY items.seq"
            )
        ]

    def not_processing(self, item_ids: Sequence[str]) -> list[str]:
        """Those of ``item_ids`` that are no longer processing (cancelled meanwhile)."""
        ids = list(item_ids)
        if not ids:
            return []
        return [
            row["id"]
            for row in self._all(
                f"SELECT id FROM items WHERE id IN ({marks(ids)}) AND state!='PROCESSING'", ids
            )
        ]

    # --- artifacts and custom metadata -----------------------------------------------------------

    def output_artifact(self, run_id: str, artifact_id: str) -> OutputArtifactRow | None:
        """One output artifact of a run."""
        return row_of(
            OutputArtifactRow,
            self._one(
                "SELECT * FROM output_artifacts WHERE id=? AND run_id=?", (artifact_id, run_id)
            ),
        )

    def outputs_deleted(self, run_id: str) -> bool:
        """Whether the run's results were deleted (some deleted, none available)."""
        deleted = self._one(
            "SELECT 1 FROM output_artifacts WHERE run_id=? AND output IN "
            "('DELETED_BY_USER','DELETED_BY_SYSTEM')",
            (run_id,),
        )
        available = self._one(
            "SELECT 1 FROM output_artifacts WHERE run_id=? AND output='AVAILABLE'", (run_id,)
        )
        return bool(deleted) and not available

    def replace_custom_metadata(
        self,
        table: Literal["runs", "items"],
        row_id: str,
        value: JsonValue,
        expected_checksum: str | None,
    ) -> str | None:
        """Set a run's or item's custom metadata; its checksum. :class:`ChecksumConflict` when
        ``expected_checksum`` is given and no longer current."""
        checksum = metadata_checksum(value)
        with self.transaction() as db:
            current = db.execute(
                f"SELECT custom_metadata_checksum FROM {table} WHERE id=?", (row_id,)
            ).fetchone()
            if expected_checksum is not None and current["custom_metadata_checksum"] != (
                expected_checksum
            ):
                raise ChecksumConflict(row_id)
            db.execute(
                f"UPDATE {table} SET custom_metadata=?, custom_metadata_checksum=? WHERE id=?",
                (dumps(value), checksum, row_id),
            )
        return checksum
