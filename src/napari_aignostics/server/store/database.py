"""The SQLite database (WAL) under the store: schema, connection, transactions, query helpers.

Writes go through one connection guarded by a lock; every multi-row change is one transaction, so
a crash leaves either the old or the new state. Reads use a read-only connection per thread: in WAL
mode a reader never waits for the writer (it sees the last commit), and a thread inside its own
transaction reads through the writer, seeing its uncommitted changes. Raw rows are column-to-value mappings with JSON columns decoded;
the table modules turn them into the typed rows of :mod:`.rows`.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from .rows import JsonPredicate, JsonValue, SortKey, Window

__all__ = ["Database", "metadata_checksum", "now_iso", "token_hash"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS orgs (
  id TEXT PRIMARY KEY, name TEXT NOT NULL, bucket_name TEXT NOT NULL UNIQUE,
  hmac_key_id TEXT NOT NULL UNIQUE, hmac_secret TEXT NOT NULL,
  quota_slides_per_run INTEGER, quota_slides_per_month INTEGER, quota_parallel_runs INTEGER,
  quota_object_bytes INTEGER);
CREATE TABLE IF NOT EXISTS users (
  id TEXT PRIMARY KEY, org_id TEXT NOT NULL REFERENCES orgs(id), email TEXT, name TEXT,
  role TEXT NOT NULL DEFAULT 'member', quota_slides_per_month INTEGER);
CREATE TABLE IF NOT EXISTS tokens (
  hash TEXT PRIMARY KEY, user_id TEXT NOT NULL REFERENCES users(id), kind TEXT NOT NULL,
  created_at REAL NOT NULL, expires_at REAL);
CREATE TABLE IF NOT EXISTS runs (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, application_id TEXT NOT NULL,
  version_number TEXT NOT NULL, user_id TEXT NOT NULL, org_id TEXT NOT NULL, state TEXT NOT NULL,
  termination_reason TEXT, error_code TEXT, error_message TEXT, custom_metadata TEXT,
  custom_metadata_checksum TEXT, submitted_at TEXT NOT NULL, terminated_at TEXT,
  terminated_epoch REAL, due_date TEXT, deadline TEXT, callback_context TEXT);
CREATE TABLE IF NOT EXISTS items (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,
  run_id TEXT NOT NULL REFERENCES runs(id), external_id TEXT NOT NULL, custom_metadata TEXT,
  custom_metadata_checksum TEXT, state TEXT NOT NULL, termination_reason TEXT, error_code TEXT,
  error_message TEXT, terminated_at TEXT, attempts INTEGER NOT NULL DEFAULT 0,
  UNIQUE (run_id, external_id));
CREATE INDEX IF NOT EXISTS items_state ON items(state);
CREATE INDEX IF NOT EXISTS items_run_state ON items(run_id, state, termination_reason);
CREATE INDEX IF NOT EXISTS runs_unfinished ON runs(seq) WHERE state != 'TERMINATED';
CREATE TABLE IF NOT EXISTS input_artifacts (
  id TEXT PRIMARY KEY, item_id TEXT NOT NULL REFERENCES items(id), name TEXT NOT NULL,
  download_url TEXT NOT NULL, metadata TEXT);
CREATE INDEX IF NOT EXISTS input_item ON input_artifacts(item_id);
CREATE TABLE IF NOT EXISTS output_artifacts (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,
  item_id TEXT NOT NULL REFERENCES items(id), run_id TEXT NOT NULL, name TEXT NOT NULL,
  state TEXT NOT NULL, termination_reason TEXT, output TEXT NOT NULL, metadata TEXT,
  error_code TEXT, error_message TEXT, object_path TEXT, size INTEGER);
CREATE INDEX IF NOT EXISTS output_item ON output_artifacts(item_id);
CREATE INDEX IF NOT EXISTS output_run ON output_artifacts(run_id);
CREATE TABLE IF NOT EXISTS grants (
  id TEXT PRIMARY KEY, resource_type TEXT NOT NULL, resource_id TEXT NOT NULL,
  subject_type TEXT NOT NULL, subject_id TEXT NOT NULL, relation TEXT NOT NULL,
  created_by TEXT NOT NULL, created_at TEXT NOT NULL, revoked INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS share_tokens (
  id TEXT PRIMARY KEY, token_hash TEXT NOT NULL UNIQUE, created_by TEXT NOT NULL,
  created_at TEXT NOT NULL, expires_at TEXT, revoked INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS device_codes (
  device_code_hash TEXT PRIMARY KEY, user_code TEXT NOT NULL UNIQUE, client_id TEXT,
  expires_at REAL NOT NULL, interval REAL NOT NULL, approved_user TEXT, denied INTEGER DEFAULT 0,
  last_poll REAL DEFAULT 0);
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

ITEM_COUNTERS = {
    "item_count": "1",
    "item_pending_count": "{row}.state IS 'PENDING'",
    "item_processing_count": "{row}.state IS 'PROCESSING'",
    "item_user_error_count": "{row}.termination_reason IS 'USER_ERROR'",
    "item_system_error_count": "{row}.termination_reason IS 'SYSTEM_ERROR'",
    "item_skipped_count": "{row}.termination_reason IS 'SKIPPED'",
    "item_succeeded_count": "{row}.termination_reason IS 'SUCCEEDED'",
}
"""A run's item counters (its ``statistics``): each counts the items for which its condition on an
``items`` row holds."""


def _counter_updates(*terms: str) -> str:
    """``UPDATE run_counters`` adding the conditions of the ``+NEW`` / ``-OLD`` ``terms``."""
    sets = ", ".join(
        f"{name} = {name}" + "".join(f" {t[0]} ({condition.format(row=t[1:])})" for t in terms)
        for name, condition in ITEM_COUNTERS.items()
    )
    row = terms[0][1:]
    return f"UPDATE run_counters SET {sets} WHERE run_id = {row}.run_id;"


COUNTERS_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS run_counters (
  run_id TEXT PRIMARY KEY REFERENCES runs(id),
  {", ".join(f"{name} INTEGER NOT NULL DEFAULT 0" for name in ITEM_COUNTERS)}) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS items_counted AFTER INSERT ON items BEGIN
  INSERT OR IGNORE INTO run_counters (run_id) VALUES (NEW.run_id);
  {_counter_updates("+NEW")}
END;
CREATE TRIGGER IF NOT EXISTS items_recounted AFTER UPDATE OF state, termination_reason ON items
BEGIN
  {_counter_updates("+NEW", "-OLD")}
END;
CREATE TRIGGER IF NOT EXISTS items_uncounted AFTER DELETE ON items BEGIN
  {_counter_updates("-OLD")}
END;
"""
"""Item counters per run kept by triggers in the transaction that changes the items, so a poll
reads one row instead of counting the run's items. A database made before them is counted once."""

JSON_COLUMNS = frozenset({"custom_metadata", "metadata", "callback_context"})


def now_iso() -> str:
    """The current UTC time as ISO-8601 with ``Z``."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def token_hash(token: str) -> str:
    """Tokens are stored only as their SHA-256."""
    return hashlib.sha256(token.encode()).hexdigest()


def metadata_checksum(value: JsonValue) -> str | None:
    """8 hex chars: CRC32 of the canonical JSON (None for null metadata)."""
    if value is None:
        return None
    import zlib

    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return f"{zlib.crc32(canonical.encode()):08x}"


def _row(cursor: sqlite3.Cursor, values: tuple[object, ...]) -> dict[str, object]:
    row = {column[0]: value for column, value in zip(cursor.description, values, strict=True)}
    for name in JSON_COLUMNS.intersection(row):
        value = row[name]
        if isinstance(value, str):
            row[name] = json.loads(value)
    return row


def dumps(value: JsonValue) -> str | None:
    """A JSON column's text (None for null)."""
    return None if value is None else json.dumps(value, separators=(",", ":"))


Raw = dict[str, Any]
"""One raw row: column name to value (JSON columns decoded)."""
Params = Sequence[object] | Mapping[str, object]


def marks(values: Sequence[object]) -> str:
    """``?,?,?`` for an ``IN (...)`` of ``values``."""
    return ",".join("?" * len(values))


def order_clause(order: Sequence[SortKey], default: str) -> str:
    """`` ORDER BY`` of whitelisted columns, then ``default``."""
    clauses = [f"{column} {'DESC' if descending else 'ASC'}" for column, descending in order]
    return " ORDER BY " + ", ".join([*clauses, default])


class Database:
    """The connection of one local platform's database; the table modules build on it."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))  # private before SQLite opens it
        self._lock = threading.RLock()
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = _row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(SCHEMA)
        self._count_items()
        columns = {row["name"] for row in self._db.execute("PRAGMA table_info(orgs)")}
        if "quota_object_bytes" not in columns:  # a database made by an older version
            self._db.execute("ALTER TABLE orgs ADD COLUMN quota_object_bytes INTEGER")
        for private in (path, *(path.with_name(path.name + end) for end in ("-wal", "-shm"))):
            if private.exists():
                private.chmod(0o600)  # SQLite copies the database's mode; older folders need this

    def _count_items(self) -> None:
        """Create the item counters and their triggers; count the items of an older database."""
        exists = self._db.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name='run_counters'"
        ).fetchone()
        sums = ", ".join(f"SUM({c.format(row='items')})" for c in ITEM_COUNTERS.values())
        backfill = (
            "" if exists else
            f"INSERT OR IGNORE INTO run_counters SELECT run_id, {sums} FROM items GROUP BY run_id;"
        )
        with self._lock:
            self._db.executescript(f"BEGIN IMMEDIATE; {COUNTERS_SCHEMA} {backfill} COMMIT;")

    def close(self) -> None:
        """Close the connections."""
        with self._lock:
            for reader in self._readers:
                reader.close()
            self._readers.clear()
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic unit of work (for the table modules)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._local.writing = True
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            else:
                self._db.execute("COMMIT")
            finally:
                self._local.writing = False

    def _reader(self) -> sqlite3.Connection:
        """This thread's read-only connection (the writer inside this thread's transaction)."""
        local = self._local
        if getattr(local, "writing", False):
            return self._db
        reader: sqlite3.Connection | None = getattr(local, "reader", None)
        if reader is None:
            uri = f"file:{quote(str(self.path))}?mode=ro"
            reader = sqlite3.connect(uri, uri=True, check_same_thread=False, isolation_level=None)
            reader.row_factory = _row
            with self._lock:  # close() closes every reader
                self._readers.append(reader)
            local.reader = reader
        return reader

    def _one(self, sql: str, params: Params = ()) -> Raw | None:
        result: Raw | None = self._reader().execute(sql, params).fetchone()
        return result

    def _all(self, sql: str, params: Params = ()) -> list[Raw]:
        return list(self._reader().execute(sql, params).fetchall())

    def _tuples(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        """Rows as plain tuples (no column names: for many-row internal queries)."""
        cursor = self._reader().cursor()
        cursor.row_factory = None
        return list(cursor.execute(sql, params).fetchall())

    def _execute(self, sql: str, params: Params = ()) -> int:
        with self.transaction() as db:
            return int(db.execute(sql, params).rowcount)

    def _page(
        self,
        sql: str,
        params: list[object],
        window: Window,
        where_json: JsonPredicate | None = None,
        column: str = "custom_metadata",
    ) -> list[Raw]:
        """One page of a query; with ``where_json``, of the rows whose JSON ``column`` matches."""
        limit, offset = window
        if where_json is None:
            return self._all(sql + " LIMIT ? OFFSET ?", [*params, limit, offset])
        matching = [row for row in self._all(sql, params) if where_json(row[column])]
        return matching[offset : offset + limit]
