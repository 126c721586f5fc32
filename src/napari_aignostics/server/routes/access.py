"""``/v1/me``, viewer grants and share tokens."""

from __future__ import annotations

import uuid
from datetime import UTC
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query

from ...platform import models as m
from ..deps import Caller, PageDep, PlatformDep, UuidPath, order_by, problem
from ..random_secrets import new_secret
from ..service import Platform
from ..store import token_hash
from ..store.rows import GrantRow, ShareTokenRow, UserRow

router = APIRouter(prefix="/api/v1", tags=["Public"])


@router.get("/me", response_model=m.MeReadResponse)
def get_me(platform: PlatformDep, user: Caller) -> m.MeReadResponse:
    """The caller and their organization, with the bucket credentials for uploads."""
    org = platform.store.org(user.org_id)
    assert org is not None
    return m.MeReadResponse.model_validate({
        "user": {"id": user.id, "email": user.email, "name": user.name},
        "organization": {
            "id": org.id,
            "name": org.name,
            "display_name": org.name,
            "aignostics_bucket_hmac_access_key_id": org.hmac_key_id,
            "aignostics_bucket_hmac_secret_access_key": org.hmac_secret,
            "aignostics_bucket_name": org.bucket_name,
            "aignostics_bucket_protocol": "http",
            "aignostics_logfire_token": "",
            "aignostics_sentry_dsn": "",
        },
    })


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


def _grant_view(row: GrantRow, *, revoked: bool | None = None) -> m.GrantReadResponse:
    return m.GrantReadResponse.model_validate(
        {
            "grant_id": row.id,
            "resource_type": row.resource_type,
            "resource_id": row.resource_id,
            "subject_type": row.subject_type,
            "subject_id": row.subject_id,
            "relation": row.relation,
            "created_by": row.created_by,
            "created_at": row.created_at,
            "revoked": bool(row.revoked) if revoked is None else revoked,
        }
    )


def _token_view(row: ShareTokenRow, *, revoked: bool | None = None) -> m.ShareTokenReadResponse:
    return m.ShareTokenReadResponse.model_validate(
        {
            "share_token_id": row.id,
            "created_at": row.created_at,
            "expires_at": row.expires_at,
            "revoked": bool(row.revoked) if revoked is None else revoked,
        }
    )


def _resource_run(platform: Platform, user: UserRow, body: m.GrantCreateRequest) -> None:
    resource_id = str(body.resource_id)
    if body.resource_type == m.ResourceType.RUN:
        run = platform.store.run(resource_id)
    elif body.resource_type == m.ResourceType.ITEM:
        run = platform.store.run_of_item(resource_id)
    elif body.resource_type == m.ResourceType.OUTPUT_ARTIFACT:
        run = platform.store.run_of_artifact(resource_id)
    else:
        token = platform.store.share_token(resource_id)
        if token is None:
            raise HTTPException(404, f"share token {resource_id} not found")
        if token.created_by != user.id:
            raise HTTPException(403, "you may only grant access to your own share tokens")
        return
    if run is None or not platform.can_view(user, run, None):
        raise HTTPException(404, f"{body.resource_type} {resource_id} not found")
    if not platform.can_change(user, run):
        raise HTTPException(403, "only the run's creator or an organization admin may share it")


@router.post("/access/grants", status_code=201, response_model=m.GrantReadResponse)
def create_grant(
    body: m.GrantCreateRequest, platform: PlatformDep, user: Caller
) -> m.GrantReadResponse:
    """Grant a subject the viewer relation on a run (only viewer grants can be created)."""
    if body.relation != m.GrantRelation.VIEWER:
        raise problem(422, ["body", "relation"], "only viewer grants can be created")
    _resource_run(platform, user, body)
    subject_id = body.subject_id
    if subject_id is None and body.subject_email:
        found = platform.store.user_by_email(body.subject_email)
        if found is None:
            raise HTTPException(404, f"no user with email {body.subject_email!r}")
        subject_id = found.id
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
    if body.subject_type == m.SubjectType.SHARE_TOKEN and not platform.store.share_token(
        subject_id
    ):
        raise HTTPException(404, f"share token {subject_id} not found")
    row = platform.store.add_grant(
        str(uuid.uuid4()),
        resource_type=str(body.resource_type),
        resource_id=str(body.resource_id),
        subject_type=str(body.subject_type),
        subject_id=subject_id,
        relation=str(body.relation),
        created_by=user.id,
    )
    return _grant_view(row)


@router.get("/access/grants", response_model=list[m.GrantReadResponse])
def list_grants(
    platform: PlatformDep,
    user: Caller,
    paging: PageDep,
    resource_type: m.ResourceType | None = None,
    resource_id: uuid.UUID | None = None,
    subject_type: m.SubjectType | None = None,
    subject_id: str | None = None,
    relation: Annotated[list[m.GrantRelation] | None, Query()] = None,
    revoked: bool | None = None,
    sort: Annotated[list[str] | None, Query()] = None,
) -> list[m.GrantReadResponse]:
    """Grants on the caller's resources (an admin: on the organization's)."""
    equals: list[tuple[str, object]] = [
        (column, str(value))
        for column, value in (
            ("resource_type", resource_type),
            ("subject_type", subject_type),
            ("subject_id", subject_id),
            ("resource_id", resource_id),
        )
        if value is not None
    ]
    if revoked is not None:
        equals.append(("revoked", int(revoked)))
    rows = platform.store.grants_for(
        user,
        equals=equals,
        relations=[str(r) for r in relation or []],
        order=order_by(sort, GRANT_SORT),
        window=paging.window,
    )
    return [_grant_view(r) for r in rows]


def _grant_or_404(platform: Platform, user: UserRow, grant_id: str) -> GrantRow:
    row = platform.store.grant_for(user, grant_id)
    if row is None:
        raise HTTPException(404, f"grant {grant_id} not found")
    return row


@router.get("/access/grants/{grant_id}", response_model=m.GrantReadResponse)
def get_grant(grant_id: UuidPath, platform: PlatformDep, user: Caller) -> m.GrantReadResponse:
    """One grant."""
    return _grant_view(_grant_or_404(platform, user, grant_id))


@router.delete("/access/grants/{grant_id}", response_model=m.GrantReadResponse)
def revoke_grant(grant_id: UuidPath, platform: PlatformDep, user: Caller) -> m.GrantReadResponse:
    """Revoke a grant (409 if already revoked)."""
    row = _grant_or_404(platform, user, grant_id)
    if row.revoked:
        raise HTTPException(409, f"grant {grant_id} is already revoked")
    platform.store.revoke_grant(grant_id)
    return _grant_view(row, revoked=True)


@router.post("/access/share-tokens", status_code=201, response_model=m.ShareTokenCreateResponse)
def create_share_token(
    body: m.ShareTokenCreateRequest, platform: PlatformDep, user: Caller
) -> m.ShareTokenCreateResponse:
    """A new share token; its secret is returned only now."""
    token = new_secret(24)
    token_id = str(uuid.uuid4())
    expires = (
        body.expires_at.astimezone(UTC).isoformat().replace("+00:00", "Z")
        if body.expires_at
        else None
    )
    row = platform.store.add_share_token(token_id, token_hash(token), user.id, expires)
    return m.ShareTokenCreateResponse.model_validate(
        {**_token_view(row).model_dump(), "share_token": token}
    )


@router.get("/access/share-tokens", response_model=list[m.ShareTokenReadResponse])
def list_share_tokens(
    platform: PlatformDep,
    user: Caller,
    paging: PageDep,
    run_id: uuid.UUID | None = None,
    created_by: str | None = None,
    revoked: bool | None = None,
    sort: Annotated[list[str] | None, Query()] = None,
) -> list[m.ShareTokenReadResponse]:
    """The caller's share tokens (without secrets)."""
    rows = platform.store.share_tokens_of(
        user.id,
        also_created_by=None if created_by is None else user.id if created_by == "me" else created_by,
        revoked=revoked,
        run_id=None if run_id is None else str(run_id),
        order=order_by(sort, TOKEN_SORT),
        window=paging.window,
    )
    return [_token_view(r) for r in rows]


def _token_or_404(platform: Platform, user: UserRow, token_id: str) -> ShareTokenRow:
    row = platform.store.share_token(token_id)
    if row is None or row.created_by != user.id:
        raise HTTPException(404, f"share token {token_id} not found")
    return row


@router.get("/access/share-tokens/{share_token_id}", response_model=m.ShareTokenReadResponse)
def get_share_token(
    share_token_id: UuidPath, platform: PlatformDep, user: Caller
) -> m.ShareTokenReadResponse:
    """One share token (without its secret)."""
    return _token_view(_token_or_404(platform, user, share_token_id))


@router.delete("/access/share-tokens/{share_token_id}", response_model=m.ShareTokenReadResponse)
def revoke_share_token(
    share_token_id: UuidPath, platform: PlatformDep, user: Caller
) -> m.ShareTokenReadResponse:
    """Revoke a share token (409 if already revoked)."""
    row = _token_or_404(platform, user, share_token_id)
    if row.revoked:
        raise HTTPException(409, f"share token {share_token_id} is already revoked")
    platform.store.revoke_share_token(share_token_id)
    return _token_view(row, revoked=True)
