"""Organizations, users, tokens, device codes and the data directory's secrets."""

from __future__ import annotations

import secrets
import time

from ..random_secrets import new_secret
from .database import Database, token_hash
from .rows import DeviceCodeRow, OrgRow, UserRow, row_of

__all__ = ["TenantTables"]

QUOTA_COLUMNS = frozenset(
    {"quota_slides_per_run", "quota_slides_per_month", "quota_parallel_runs", "quota_object_bytes"}
)
VALID_TOKEN = (
    "SELECT users.* FROM tokens JOIN users ON users.id = tokens.user_id "
    "WHERE tokens.hash=? AND tokens.kind=? AND (expires_at IS NULL OR expires_at > ?)"
)


class TenantTables(Database):
    """``orgs``, ``users``, ``tokens``, ``device_codes`` and ``kv``."""

    def secret(self, key: str) -> str:
        """A random secret generated once per data directory (signing keys)."""
        with self.transaction() as db:
            row = db.execute("SELECT value FROM kv WHERE key=?", (key,)).fetchone()
            if row:
                return str(row["value"])
            value = secrets.token_hex(32)
            db.execute("INSERT INTO kv VALUES (?, ?)", (key, value))
            return value

    # --- organizations and users -------------------------------------------------------------

    def ensure_org(self, org_id: str, name: str, **quotas: int | None) -> OrgRow:
        """Create an organization (with bucket credentials) unless it exists; set given quotas."""
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
                        new_secret(30),
                    ),
                )
            for key, value in quotas.items():
                if key not in QUOTA_COLUMNS:
                    raise ValueError(f"unknown quota {key!r}; known: {sorted(QUOTA_COLUMNS)}")
                if value is not None:
                    db.execute(f"UPDATE orgs SET {key}=? WHERE id=?", (value, org_id))
        org = self.org(org_id)
        assert org is not None
        return org

    def org(self, org_id: str) -> OrgRow | None:
        """One organization."""
        return row_of(OrgRow, self._one("SELECT * FROM orgs WHERE id=?", (org_id,)))

    def org_for_key(self, key_id: str) -> OrgRow | None:
        """The organization owning a bucket HMAC key id."""
        return row_of(OrgRow, self._one("SELECT * FROM orgs WHERE hmac_key_id=?", (key_id,)))

    def org_for_bucket(self, bucket: str) -> OrgRow | None:
        """The organization owning a bucket."""
        return row_of(OrgRow, self._one("SELECT * FROM orgs WHERE bucket_name=?", (bucket,)))

    def ensure_user(
        self,
        user_id: str,
        org_id: str,
        *,
        email: str | None = None,
        name: str | None = None,
        role: str = "member",
    ) -> UserRow:
        """Create a user unless it exists (role ``member`` or ``admin``)."""
        self._execute(
            "INSERT INTO users (id, org_id, email, name, role) VALUES (?,?,?,?,?) "
            "ON CONFLICT(id) DO UPDATE SET role=excluded.role",
            (user_id, org_id, email, name, role),
        )
        user = self.user(user_id)
        assert user is not None
        return user

    def user(self, user_id: str) -> UserRow | None:
        """One user."""
        return row_of(UserRow, self._one("SELECT * FROM users WHERE id=?", (user_id,)))

    def user_by_email(self, email: str) -> UserRow | None:
        """The user with this email."""
        return row_of(UserRow, self._one("SELECT * FROM users WHERE email=?", (email,)))

    # --- tokens ------------------------------------------------------------------------------

    def issue_token(
        self,
        user_id: str,
        token: str | None = None,
        *,
        kind: str = "access",
        ttl_s: float | None = None,
    ) -> str:
        """Store (the hash of) a bearer or refresh token for a user; returns the token."""
        token = token or new_secret(32)
        expires = time.time() + ttl_s if ttl_s else None
        self._execute(
            "INSERT OR REPLACE INTO tokens VALUES (?,?,?,?,?)",
            (token_hash(token), user_id, kind, time.time(), expires),
        )
        return token

    def user_for_token(self, token: str, kind: str = "access") -> UserRow | None:
        """The user a valid token belongs to."""
        return row_of(UserRow, self._one(VALID_TOKEN, (token_hash(token), kind, time.time())))

    def take_token(self, token: str, kind: str) -> UserRow | None:
        """The user of a valid one-time token, which is deleted in the same transaction."""
        with self.transaction() as db:
            row = db.execute(VALID_TOKEN, (token_hash(token), kind, time.time())).fetchone()
            db.execute("DELETE FROM tokens WHERE hash=? AND kind=?", (token_hash(token), kind))
        return row_of(UserRow, row)

    def revoke_token(self, token: str) -> None:
        """Forget a refresh or stored access token (unknown ones too)."""
        self._execute(
            "DELETE FROM tokens WHERE hash=? AND kind IN ('refresh', 'access')",
            (token_hash(token),),
        )

    def drop_expired_tokens(self) -> None:
        """Delete every expired token."""
        self._execute("DELETE FROM tokens WHERE expires_at < ?", (time.time(),))

    # --- device codes ------------------------------------------------------------------------

    def add_device_code(
        self,
        device_code: str,
        user_code: str,
        client_id: str | None,
        *,
        ttl_s: float,
        interval: float,
        approved_user: str | None,
    ) -> None:
        """Start a device login (the device code stored only as its hash)."""
        self._execute(
            "INSERT INTO device_codes (device_code_hash, user_code, client_id, expires_at,"
            " interval, approved_user) VALUES (?,?,?,?,?,?)",
            (
                token_hash(device_code),
                user_code,
                client_id,
                time.time() + ttl_s,
                interval,
                approved_user,
            ),
        )

    def device_code(self, device_code: str) -> DeviceCodeRow | None:
        """A device login by its device code."""
        return row_of(
            DeviceCodeRow,
            self._one(
                "SELECT * FROM device_codes WHERE device_code_hash=?", (token_hash(device_code),)
            ),
        )

    def note_device_poll(self, device_code: str, when: float) -> None:
        """Remember when the client last polled (to ask it to slow down)."""
        self._execute(
            "UPDATE device_codes SET last_poll=? WHERE device_code_hash=?",
            (when, token_hash(device_code)),
        )

    def drop_device_code(self, device_code: str) -> None:
        """Forget a device login (it was redeemed)."""
        self._execute(
            "DELETE FROM device_codes WHERE device_code_hash=?", (token_hash(device_code),)
        )

    def decide_device_code(self, user_code: str, user_id: str | None, *, deny: bool) -> bool:
        """Approve (for ``user_id``) or deny an unexpired user code; False if none matched."""
        return bool(
            self._execute(
                "UPDATE device_codes SET approved_user=?, denied=? WHERE user_code=? AND expires_at>?",
                (None if deny else user_id, int(deny), user_code, time.time()),
            )
        )
