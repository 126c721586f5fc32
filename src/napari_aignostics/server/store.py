"""SQLite persistence of the local platform (WAL): tenants, tokens, runs, items, artifacts, access.

One connection guarded by a lock; every multi-row change is one transaction, so a crash leaves
either the old or the new state. Rows come back as plain dicts; JSON columns are decoded.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["Store", "metadata_checksum", "now_iso", "token_hash"]

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

JSON_COLUMNS = {"custom_metadata", "metadata", "callback_context"}


def now_iso() -> str:
    """The current UTC time as ISO-8601 with ``Z``."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def token_hash(token: str) -> str:
    """Tokens are stored only as their SHA-256."""
    return hashlib.sha256(token.encode()).hexdigest()


def metadata_checksum(value: Any) -> str | None:
    """8 hex chars: CRC32 of the canonical JSON (None for null metadata)."""
    if value is None:
        return None
    import zlib

    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return f"{zlib.crc32(canonical.encode()):08x}"


def _row(cursor: sqlite3.Cursor, values: tuple[Any, ...]) -> dict[str, Any]:
    row = {}
    for (name, *_), value in zip(cursor.description, values, strict=True):
        row[name] = json.loads(value) if name in JSON_COLUMNS and value is not None else value
    return row


def _dumps(value: Any) -> str | None:
    return None if value is None else json.dumps(value, separators=(",", ":"))


class Store:
    """The database of one local platform."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))  # private before SQLite opens it
        self._lock = threading.RLock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = _row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(SCHEMA)
        columns = {row["name"] for row in self._db.execute("PRAGMA table_info(orgs)")}
        if "quota_object_bytes" not in columns:  # a database made by an older version
            self._db.execute("ALTER TABLE orgs ADD COLUMN quota_object_bytes INTEGER")
        for private in (path, *(path.with_name(path.name + end) for end in ("-wal", "-shm"))):
            if private.exists():
                private.chmod(0o600)  # SQLite copies the database's mode; older folders need this

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic unit of work."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def one(self, sql: str, params: Sequence[Any] = ()) -> dict[str, Any] | None:
        """The first row of a query, or None."""
        with self._lock:
            result: dict[str, Any] | None = self._db.execute(sql, params).fetchone()
            return result

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """All rows of a query."""
        with self._lock:
            return list(self._db.execute(sql, params).fetchall())

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement in its own transaction; the number of changed rows."""
        with self.transaction() as db:
            return db.execute(sql, params).rowcount

    # --- key/value -------------------------------------------------------------------------------

    def secret(self, key: str) -> str:
        """A random secret generated once per data directory (signing keys)."""
        with self.transaction() as db:
            row = db.execute("SELECT value FROM kv WHERE key=?", (key,)).fetchone()
            if row:
                return str(row["value"])
            value = secrets.token_hex(32)
            db.execute("INSERT INTO kv VALUES (?, ?)", (key, value))
            return value

    # --- tenants and tokens ----------------------------------------------------------------------

    def ensure_org(self, org_id: str, name: str, **quotas: int | None) -> dict[str, Any]:
        """Create an organization (with bucket credentials) unless it exists."""
        with self.transaction() as db:
            if not db.execute("SELECT 1 FROM orgs WHERE id=?", (org_id,)).fetchone():
                slug = "".join(c if c.isalnum() else "-" for c in org_id.lower()).strip("-")
                db.execute(
                    "INSERT INTO orgs (id, name, bucket_name, hmac_key_id, hmac_secret)"
                    " VALUES (?,?,?,?,?)",
                    (
                        org_id,
                        name,
                        f"{slug}-{secrets.token_hex(4)}",
                        "LOCAL" + secrets.token_hex(8).upper(),
                        secrets.token_urlsafe(30),
                    ),
                )
            for key, value in quotas.items():
                if value is not None:
                    db.execute(f"UPDATE orgs SET {key}=? WHERE id=?", (value, org_id))
        org = self.one("SELECT * FROM orgs WHERE id=?", (org_id,))
        assert org is not None
        return org

    def ensure_user(
        self,
        user_id: str,
        org_id: str,
        *,
        email: str | None = None,
        name: str | None = None,
        role: str = "member",
    ) -> dict[str, Any]:
        """Create a user unless it exists (role ``member`` or ``admin``)."""
        with self.transaction() as db:
            db.execute(
                "INSERT INTO users (id, org_id, email, name, role) VALUES (?,?,?,?,?) "
                "ON CONFLICT(id) DO UPDATE SET role=excluded.role",
                (user_id, org_id, email, name, role),
            )
        user = self.one("SELECT * FROM users WHERE id=?", (user_id,))
        assert user is not None
        return user

    def issue_token(
        self,
        user_id: str,
        token: str | None = None,
        *,
        kind: str = "access",
        ttl_s: float | None = None,
    ) -> str:
        """Store (the hash of) a bearer or refresh token for a user; returns the token."""
        token = token or secrets.token_urlsafe(32)
        expires = time.time() + ttl_s if ttl_s else None
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO tokens VALUES (?,?,?,?,?)",
                (token_hash(token), user_id, kind, time.time(), expires),
            )
        return token

    def user_for_token(self, token: str, kind: str = "access") -> dict[str, Any] | None:
        """The user a valid token belongs to."""
        return self.one(
            "SELECT users.* FROM tokens JOIN users ON users.id = tokens.user_id "
            "WHERE tokens.hash=? AND tokens.kind=? AND (expires_at IS NULL OR expires_at > ?)",
            (token_hash(token), kind, time.time()),
        )

    def take_token(self, token: str, kind: str) -> dict[str, Any] | None:
        """The user of a valid one-time token, which is deleted in the same transaction."""
        with self.transaction() as db:
            row = db.execute(
                "SELECT users.* FROM tokens JOIN users ON users.id = tokens.user_id WHERE"
                " tokens.hash=? AND tokens.kind=? AND (expires_at IS NULL OR expires_at > ?)",
                (token_hash(token), kind, time.time()),
            ).fetchone()
            db.execute("DELETE FROM tokens WHERE hash=? AND kind=?", (token_hash(token), kind))
        return row  # type: ignore[no-any-return]

    def org(self, org_id: str) -> dict[str, Any] | None:
        """One organization."""
        return self.one("SELECT * FROM orgs WHERE id=?", (org_id,))

    def org_for_key(self, key_id: str) -> dict[str, Any] | None:
        """The organization owning a bucket HMAC key id."""
        return self.one("SELECT * FROM orgs WHERE hmac_key_id=?", (key_id,))

    def user(self, user_id: str) -> dict[str, Any] | None:
        """One user."""
        return self.one("SELECT * FROM users WHERE id=?", (user_id,))

    # --- runs ------------------------------------------------------------------------------------

    def create_run(
        self,
        *,
        user: dict[str, Any],
        application_id: str,
        version_number: str,
        custom_metadata: Any,
        due_date: str | None,
        deadline: str | None,
        callback_context: Any,
        items: list[dict[str, Any]],
        output_names: list[str],
    ) -> str:
        """Insert a run with its items, inputs and pending output artifacts atomically."""
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
                    user["id"],
                    user["org_id"],
                    _dumps(custom_metadata),
                    metadata_checksum(custom_metadata),
                    now_iso(),
                    due_date,
                    deadline,
                    _dumps(callback_context),
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
                        item["external_id"],
                        _dumps(item.get("custom_metadata")),
                        metadata_checksum(item.get("custom_metadata")),
                    ),
                )
                db.executemany(
                    "INSERT INTO input_artifacts VALUES (?,?,?,?,?)",
                    [
                        (
                            str(uuid.uuid4()),
                            item_id,
                            a["name"],
                            a["download_url"],
                            _dumps(a["metadata"]),
                        )
                        for a in item["input_artifacts"]
                    ],
                )
                db.executemany(
                    "INSERT INTO output_artifacts (id, item_id, run_id, name, state, output)"
                    " VALUES (?,?,?,?,'PENDING','NONE')",
                    [(str(uuid.uuid4()), item_id, run_id, name) for name in output_names],
                )
        return run_id

    def run(self, run_id: str) -> dict[str, Any] | None:
        """One run row."""
        return self.one("SELECT * FROM runs WHERE id=?", (run_id,))

    def statistics(self, run_ids: Sequence[str]) -> dict[str, dict[str, int]]:
        """Item counters per run."""
        stats: dict[str, dict[str, int]] = {
            rid: {
                "item_count": 0,
                "item_pending_count": 0,
                "item_processing_count": 0,
                "item_user_error_count": 0,
                "item_system_error_count": 0,
                "item_skipped_count": 0,
                "item_succeeded_count": 0,
            }
            for rid in run_ids
        }
        if not run_ids:
            return stats
        marks = ",".join("?" * len(run_ids))
        rows = self.all(
            f"SELECT run_id, state, termination_reason, COUNT(*) AS n FROM items "
            f"WHERE run_id IN ({marks}) GROUP BY run_id, state, termination_reason",
            list(run_ids),
        )
        for row in rows:
            counters = stats[row["run_id"]]
            counters["item_count"] += row["n"]
            if row["state"] == "PENDING":
                counters["item_pending_count"] += row["n"]
            elif row["state"] == "PROCESSING":
                counters["item_processing_count"] += row["n"]
            else:
                key = {
                    "USER_ERROR": "item_user_error_count",
                    "SYSTEM_ERROR": "item_system_error_count",
                    "SKIPPED": "item_skipped_count",
                    "SUCCEEDED": "item_succeeded_count",
                }[row["termination_reason"]]
                counters[key] += row["n"]
        return stats

    def items(self, item_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Items by id with their ``input_artifacts`` and ``output_artifacts`` lists."""
        if not item_ids:
            return {}
        marks = ",".join("?" * len(item_ids))
        items = {
            row["id"]: {**row, "input_artifacts": [], "output_artifacts": []}
            for row in self.all(f"SELECT * FROM items WHERE id IN ({marks})", list(item_ids))
        }
        for row in self.all(
            f"SELECT * FROM input_artifacts WHERE item_id IN ({marks})", list(item_ids)
        ):
            items[row["item_id"]]["input_artifacts"].append(row)
        for row in self.all(
            f"SELECT * FROM output_artifacts WHERE item_id IN ({marks}) ORDER BY seq",
            list(item_ids),
        ):
            items[row["item_id"]]["output_artifacts"].append(row)
        return items

    def update_run(self, run_id: str, **fields: Any) -> None:
        """Set columns of a run."""
        self._update("runs", "id", run_id, fields)

    def _update(self, table: str, key: str, value: str, fields: dict[str, Any]) -> None:
        columns = ", ".join(f"{name}=?" for name in fields)
        params = [_dumps(v) if k in JSON_COLUMNS else v for k, v in fields.items()]
        self.execute(f"UPDATE {table} SET {columns} WHERE {key}=?", [*params, value])
