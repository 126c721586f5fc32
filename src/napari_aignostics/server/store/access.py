"""Viewer grants and share tokens."""

from __future__ import annotations

from collections.abc import Sequence

from .database import Database, marks, now_iso, order_clause
from .rows import GrantRow, RunRow, ShareTokenRow, SortKey, UserRow, Window, row_of

__all__ = ["AccessTables"]


def _grant_scope(user: UserRow) -> tuple[str, list[object]]:
    """Grants a user may see: made by them, or on runs of theirs (an admin: of their org)."""
    column, value = ("org_id", user.org_id) if user.is_admin else ("user_id", user.id)
    return f"(created_by=? OR resource_id IN (SELECT id FROM runs WHERE {column}=?))", [
        user.id,
        value,
    ]


class AccessTables(Database):
    """``grants`` and ``share_tokens``."""

    # --- grants ------------------------------------------------------------------------------

    def add_grant(
        self,
        grant_id: str,
        *,
        resource_type: str,
        resource_id: str,
        subject_type: str,
        subject_id: str,
        relation: str,
        created_by: str,
    ) -> GrantRow:
        """Store a grant; the stored row."""
        self._execute(
            "INSERT INTO grants VALUES (?,?,?,?,?,?,?,?,0)",
            (
                grant_id,
                resource_type,
                resource_id,
                subject_type,
                subject_id,
                relation,
                created_by,
                now_iso(),
            ),
        )
        row = row_of(GrantRow, self._one("SELECT * FROM grants WHERE id=?", (grant_id,)))
        assert row is not None
        return row

    def has_grant(self, run_id: str, subject_type: str, subject_id: str) -> bool:
        """Whether an unrevoked grant on the run exists for the subject."""
        return bool(
            self._one(
                "SELECT 1 FROM grants WHERE resource_type='run' AND resource_id=? AND "
                "subject_type=? AND subject_id=? AND revoked=0",
                (run_id, subject_type, subject_id),
            )
        )

    def grant_for(self, user: UserRow, grant_id: str) -> GrantRow | None:
        """A grant the user may see."""
        scope, params = _grant_scope(user)
        return row_of(
            GrantRow, self._one(f"SELECT * FROM grants WHERE id=? AND {scope}", [grant_id, *params])
        )

    def grants_for(
        self,
        user: UserRow,
        *,
        equals: Sequence[tuple[str, object]],
        relations: Sequence[str],
        order: Sequence[SortKey],
        window: Window,
    ) -> list[GrantRow]:
        """A page of the grants the user may see; ``equals`` pairs whitelisted columns and values."""
        scope, params = _grant_scope(user)
        where = [scope]
        for column, value in equals:
            where.append(f"{column}=?")
            params.append(value)
        if relations:
            where.append(f"relation IN ({marks(relations)})")
            params.extend(relations)
        sql = "SELECT * FROM grants WHERE " + " AND ".join(where)
        rows = self._page(sql + order_clause(order, "created_at"), params, window)
        return [GrantRow(**row) for row in rows]

    def revoke_grant(self, grant_id: str) -> None:
        """Mark a grant revoked."""
        self._execute("UPDATE grants SET revoked=1 WHERE id=?", (grant_id,))

    # --- share tokens ------------------------------------------------------------------------

    def add_share_token(
        self, token_id: str, secret_hash: str, created_by: str, expires_at: str | None
    ) -> ShareTokenRow:
        """Store a share token (its secret only as a hash); the stored row."""
        self._execute(
            "INSERT INTO share_tokens VALUES (?,?,?,?,?,0)",
            (token_id, secret_hash, created_by, now_iso(), expires_at),
        )
        row = self.share_token(token_id)
        assert row is not None
        return row

    def share_token(self, token_id: str) -> ShareTokenRow | None:
        """One share token by id."""
        return row_of(
            ShareTokenRow, self._one("SELECT * FROM share_tokens WHERE id=?", (token_id,))
        )

    def unrevoked_share_token(self, secret_hash: str) -> ShareTokenRow | None:
        """The unrevoked share token with this secret hash (its expiry not checked)."""
        return row_of(
            ShareTokenRow,
            self._one(
                "SELECT * FROM share_tokens WHERE token_hash=? AND revoked=0", (secret_hash,)
            ),
        )

    def share_tokens_of(
        self,
        created_by: str,
        *,
        also_created_by: str | None,
        revoked: bool | None,
        run_id: str | None,
        order: Sequence[SortKey],
        window: Window,
    ) -> list[ShareTokenRow]:
        """A page of a user's share tokens (optionally those granted on ``run_id``)."""
        where: list[str] = ["created_by=?"]
        params: list[object] = [created_by]
        if also_created_by is not None:
            where.append("created_by=?")
            params.append(also_created_by)
        if revoked is not None:
            where.append("revoked=?")
            params.append(int(revoked))
        if run_id is not None:
            where.append(
                "id IN (SELECT subject_id FROM grants"
                " WHERE subject_type='share_token' AND resource_id=?)"
            )
            params.append(run_id)
        sql = "SELECT * FROM share_tokens WHERE " + " AND ".join(where)
        rows = self._page(sql + order_clause(order, "created_at"), params, window)
        return [ShareTokenRow(**row) for row in rows]

    def revoke_share_token(self, token_id: str) -> None:
        """Mark a share token revoked."""
        self._execute("UPDATE share_tokens SET revoked=1 WHERE id=?", (token_id,))

    # --- what a grant is on --------------------------------------------------------------------

    def run_of_item(self, item_id: str) -> RunRow | None:
        """The run an item belongs to."""
        return row_of(
            RunRow,
            self._one(
                "SELECT runs.* FROM runs JOIN items ON items.run_id=runs.id WHERE items.id=?",
                (item_id,),
            ),
        )

    def run_of_artifact(self, artifact_id: str) -> RunRow | None:
        """The run an output artifact belongs to."""
        return row_of(
            RunRow,
            self._one(
                "SELECT runs.* FROM runs JOIN output_artifacts o ON o.run_id=runs.id WHERE o.id=?",
                (artifact_id,),
            ),
        )
