"""``/v1/me``, viewer grants and share tokens."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query

from ..platform import models as m
from .deps import Caller, Page, PlatformDep, UuidPath, order_by, page_window, problem
from .service import Platform
from .store import now_iso, token_hash

router = APIRouter(prefix="/api/v1", tags=["Public"])


@router.get("/me", response_model=m.MeReadResponse)
def get_me(platform: PlatformDep, user: Caller) -> dict[str, Any]:
    """The caller and their organization, with the bucket credentials for uploads."""
    org = platform.store.org(user["org_id"])
    assert org is not None
    return {
        "user": {"id": user["id"], "email": user["email"], "name": user["name"]},
        "organization": {
            "id": org["id"],
            "name": org["name"],
            "display_name": org["name"],
            "aignostics_bucket_hmac_access_key_id": org["hmac_key_id"],
            "aignostics_bucket_hmac_secret_access_key": org["hmac_secret"],
            "aignostics_bucket_name": org["bucket_name"],
            "aignostics_bucket_protocol": "http",
            "aignostics_logfire_token": "",
            "aignostics_sentry_dsn": "",
        },
    }


GRANT_SORT = {
    k: k
    for k in (
        "grant_id",
        "resource_type",
        "resource_id",
        "subject_type",
        "subject_id",
        "relation",
        "created_by",
        "created_at",
        "revoked",
    )
}
GRANT_SORT["grant_id"] = "id"
TOKEN_SORT = {
    "share_token_id": "id",
    "created_at": "created_at",
    "expires_at": "expires_at",
    "revoked": "revoked",
    "created_by": "created_by",
}


def _grant_view(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "grant_id": row["id"],
        "resource_type": row["resource_type"],
        "resource_id": row["resource_id"],
        "subject_type": row["subject_type"],
        "subject_id": row["subject_id"],
        "relation": row["relation"],
        "created_by": row["created_by"],
        "created_at": row["created_at"],
        "revoked": bool(row["revoked"]),
    }


def _token_view(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "share_token_id": row["id"],
        "created_at": row["created_at"],
        "expires_at": row["expires_at"],
        "revoked": bool(row["revoked"]),
    }


def _resource_run(platform: Platform, user: dict[str, Any], body: m.GrantCreateRequest) -> None:
    resource_id = str(body.resource_id)
    if body.resource_type == m.ResourceType.RUN:
        run = platform.store.run(resource_id)
    elif body.resource_type == m.ResourceType.ITEM:
        run = platform.store.one(
            "SELECT runs.* FROM runs JOIN items ON items.run_id=runs.id WHERE items.id=?",
            (resource_id,),
        )
    elif body.resource_type == m.ResourceType.OUTPUT_ARTIFACT:
        run = platform.store.one(
            "SELECT runs.* FROM runs JOIN output_artifacts o ON o.run_id=runs.id WHERE o.id=?",
            (resource_id,),
        )
    else:
        token = platform.store.one("SELECT * FROM share_tokens WHERE id=?", (resource_id,))
        if token is None:
            raise HTTPException(404, f"share token {resource_id} not found")
        if token["created_by"] != user["id"]:
            raise HTTPException(403, "you may only grant access to your own share tokens")
        return
    if run is None or not platform.can_view(user, run, None):
        raise HTTPException(404, f"{body.resource_type} {resource_id} not found")
    if not platform.can_change(user, run):
        raise HTTPException(403, "only the run's creator or an organization admin may share it")


@router.post("/access/grants", status_code=201, response_model=m.GrantReadResponse)
def create_grant(body: m.GrantCreateRequest, platform: PlatformDep, user: Caller) -> dict[str, Any]:
    """Grant a subject the viewer relation on a run (only viewer grants can be created)."""
    if body.relation != m.GrantRelation.VIEWER:
        raise problem(422, ["body", "relation"], "only viewer grants can be created")
    _resource_run(platform, user, body)
    subject_id = body.subject_id
    if subject_id is None and body.subject_email:
        found = platform.store.one("SELECT id FROM users WHERE email=?", (body.subject_email,))
        if found is None:
            raise HTTPException(404, f"no user with email {body.subject_email!r}")
        subject_id = found["id"]
    if not subject_id:
        raise HTTPException(
            422,
            [
                {
                    "loc": ["body", "subject_id"],
                    "msg": "subject_id or subject_email is required",
                    "type": "missing",
                }
            ],
        )
    if body.subject_type == m.SubjectType.SHARE_TOKEN:
        token = platform.store.one("SELECT created_by FROM share_tokens WHERE id=?", (subject_id,))
        if token is None:
            raise HTTPException(404, f"share token {subject_id} not found")
    grant_id = str(uuid.uuid4())
    platform.store.execute(
        "INSERT INTO grants VALUES (?,?,?,?,?,?,?,?,0)",
        (
            grant_id,
            str(body.resource_type),
            str(body.resource_id),
            str(body.subject_type),
            subject_id,
            str(body.relation),
            user["id"],
            now_iso(),
        ),
    )
    row = platform.store.one("SELECT * FROM grants WHERE id=?", (grant_id,))
    assert row is not None
    return _grant_view(row)


def _grant_scope(user: dict[str, Any]) -> tuple[str, list[Any]]:
    if user["role"] == "admin":
        return (
            "(created_by=? OR resource_id IN (SELECT id FROM runs WHERE org_id=?))",
            [user["id"], user["org_id"]],
        )
    return (
        "(created_by=? OR resource_id IN (SELECT id FROM runs WHERE user_id=?))",
        [user["id"], user["id"]],
    )


@router.get("/access/grants", response_model=list[m.GrantReadResponse])
def list_grants(
    platform: PlatformDep,
    user: Caller,
    paging: Annotated[Page, Depends()],
    resource_type: m.ResourceType | None = None,
    resource_id: uuid.UUID | None = None,
    subject_type: m.SubjectType | None = None,
    subject_id: str | None = None,
    relation: Annotated[list[m.GrantRelation] | None, Query()] = None,
    revoked: bool | None = None,
    sort: Annotated[list[str] | None, Query()] = None,
) -> list[dict[str, Any]]:
    """Grants on the caller's resources (an admin: on the organization's)."""
    scope, params = _grant_scope(user)
    where = [scope]
    for column, value in (
        ("resource_type", resource_type),
        ("subject_type", subject_type),
        ("subject_id", subject_id),
    ):
        if value is not None:
            where.append(f"{column}=?")
            params.append(str(value))
    if resource_id is not None:
        where.append("resource_id=?")
        params.append(str(resource_id))
    if relation:
        where.append(f"relation IN ({','.join('?' * len(relation))})")
        params.extend(str(r) for r in relation)
    if revoked is not None:
        where.append("revoked=?")
        params.append(int(revoked))
    limit, offset = page_window(paging.page, paging.page_size)
    sql = (
        "SELECT * FROM grants WHERE "
        + " AND ".join(where)
        + order_by(sort, GRANT_SORT, "created_at")
    )
    return [
        _grant_view(r)
        for r in platform.store.all(sql + " LIMIT ? OFFSET ?", [*params, limit, offset])
    ]


def _grant_or_404(platform: Platform, user: dict[str, Any], grant_id: str) -> dict[str, Any]:
    scope, params = _grant_scope(user)
    row = platform.store.one(f"SELECT * FROM grants WHERE id=? AND {scope}", [grant_id, *params])
    if row is None:
        raise HTTPException(404, f"grant {grant_id} not found")
    return row


@router.get("/access/grants/{grant_id}", response_model=m.GrantReadResponse)
def get_grant(grant_id: UuidPath, platform: PlatformDep, user: Caller) -> dict[str, Any]:
    """One grant."""
    return _grant_view(_grant_or_404(platform, user, grant_id))


@router.delete("/access/grants/{grant_id}", response_model=m.GrantReadResponse)
def revoke_grant(grant_id: UuidPath, platform: PlatformDep, user: Caller) -> dict[str, Any]:
    """Revoke a grant (409 if already revoked)."""
    row = _grant_or_404(platform, user, grant_id)
    if row["revoked"]:
        raise HTTPException(409, f"grant {grant_id} is already revoked")
    platform.store.execute("UPDATE grants SET revoked=1 WHERE id=?", (grant_id,))
    return _grant_view({**row, "revoked": 1})


@router.post("/access/share-tokens", status_code=201, response_model=m.ShareTokenCreateResponse)
def create_share_token(
    body: m.ShareTokenCreateRequest, platform: PlatformDep, user: Caller
) -> dict[str, Any]:
    """A new share token; its secret is returned only now."""
    token = secrets.token_urlsafe(24)
    token_id = str(uuid.uuid4())
    expires = (
        body.expires_at.astimezone(UTC).isoformat().replace("+00:00", "Z")
        if body.expires_at
        else None
    )
    platform.store.execute(
        "INSERT INTO share_tokens VALUES (?,?,?,?,?,0)",
        (token_id, token_hash(token), user["id"], now_iso(), expires),
    )
    row = platform.store.one("SELECT * FROM share_tokens WHERE id=?", (token_id,))
    assert row is not None
    return {**_token_view(row), "share_token": token}


@router.get("/access/share-tokens", response_model=list[m.ShareTokenReadResponse])
def list_share_tokens(
    platform: PlatformDep,
    user: Caller,
    paging: Annotated[Page, Depends()],
    run_id: uuid.UUID | None = None,
    created_by: str | None = None,
    revoked: bool | None = None,
    sort: Annotated[list[str] | None, Query()] = None,
) -> list[dict[str, Any]]:
    """The caller's share tokens (without secrets)."""
    where, params = ["created_by=?"], [user["id"]]
    if created_by is not None:
        where.append("created_by=?")
        params.append(user["id"] if created_by == "me" else created_by)
    if revoked is not None:
        where.append("revoked=?")
        params.append(int(revoked))
    if run_id is not None:
        where.append(
            "id IN (SELECT subject_id FROM grants WHERE subject_type='share_token' AND resource_id=?)"
        )
        params.append(str(run_id))
    limit, offset = page_window(paging.page, paging.page_size)
    sql = "SELECT * FROM share_tokens WHERE " + " AND ".join(where)
    sql += order_by(sort, TOKEN_SORT, "created_at")
    return [
        _token_view(r)
        for r in platform.store.all(sql + " LIMIT ? OFFSET ?", [*params, limit, offset])
    ]


def _token_or_404(platform: Platform, user: dict[str, Any], token_id: str) -> dict[str, Any]:
    row = platform.store.one(
        "SELECT * FROM share_tokens WHERE id=? AND created_by=?", (token_id, user["id"])
    )
    if row is None:
        raise HTTPException(404, f"share token {token_id} not found")
    return row


@router.get("/access/share-tokens/{share_token_id}", response_model=m.ShareTokenReadResponse)
def get_share_token(
    share_token_id: UuidPath, platform: PlatformDep, user: Caller
) -> dict[str, Any]:
    """One share token (without its secret)."""
    return _token_view(_token_or_404(platform, user, share_token_id))


@router.delete("/access/share-tokens/{share_token_id}", response_model=m.ShareTokenReadResponse)
def revoke_share_token(
    share_token_id: UuidPath, platform: PlatformDep, user: Caller
) -> dict[str, Any]:
    """Revoke a share token (409 if already revoked)."""
    row = _token_or_404(platform, user, share_token_id)
    if row["revoked"]:
        raise HTTPException(409, f"share token {share_token_id} is already revoked")
    platform.store.execute("UPDATE share_tokens SET revoked=1 WHERE id=?", (share_token_id,))
    return _token_view({**row, "revoked": 1})
