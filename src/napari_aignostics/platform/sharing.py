"""Sharing a run: viewer grants for users or organizations, share tokens, and revoking them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from . import models as m

if TYPE_CHECKING:
    from .client import PlatformClient

__all__ = ["Share", "grant_viewer", "revoke_share", "run_shares", "share_token_for_run"]


@dataclass(frozen=True)
class Share:
    """One way a run is shared: a viewer grant to a user/organization, or a share token."""

    grant_id: str
    kind: str
    """``user``, ``organization`` or ``share token``"""
    subject_id: str
    created_at: datetime

    @property
    def label(self) -> str:
        return f"{self.kind} {self.subject_id}"


def grant_viewer(
    client: PlatformClient,
    run_id: str,
    *,
    email: str | None = None,
    user_id: str | None = None,
    organization_id: str | None = None,
) -> m.GrantReadResponse:
    """Grant one user (by e-mail or id) or an organization's users viewer access to a run."""
    subject_id: str | None
    if organization_id:
        subject, subject_id, subject_email = m.SubjectType.ORGANIZATION_USER, organization_id, None
    else:
        if not (email or user_id):
            raise ValueError("name the user to share with: an e-mail address or a user id")
        subject, subject_id, subject_email = m.SubjectType.USER, user_id, email
    request = m.GrantCreateRequest(
        resource_type=m.ResourceType.RUN,
        resource_id=run_id,  # type: ignore[arg-type]  # pydantic parses the UUID string
        subject_type=subject,
        subject_id=subject_id,
        subject_email=subject_email,
        relation=m.GrantRelation.VIEWER,
    )
    return client.create_grant(request)


def share_token_for_run(
    client: PlatformClient, run_id: str, expires_at: datetime | None = None
) -> m.ShareTokenCreateResponse:
    """A new share token with viewer access to a run; its secret is only in this answer."""
    created = client.create_share_token(expires_at)
    client.create_grant(
        m.GrantCreateRequest(
            resource_type=m.ResourceType.RUN,
            resource_id=run_id,  # type: ignore[arg-type]
            subject_type=m.SubjectType.SHARE_TOKEN,
            subject_id=created.share_token_id,
            relation=m.GrantRelation.VIEWER,
        )
    )
    return created


_KINDS = {
    m.SubjectType.USER: "user",
    m.SubjectType.ORGANIZATION_USER: "organization",
    m.SubjectType.ORGANIZATION_ADMIN: "organization",
    m.SubjectType.SHARE_TOKEN: "share token",
}


def run_shares(client: PlatformClient, run_id: str) -> list[Share]:
    """The run's active viewer grants (users, organizations and share tokens), oldest first."""
    grants = client.list_grants(
        resource_type=m.ResourceType.RUN, resource_id=run_id, revoked=False
    )
    shares = [
        Share(g.grant_id, _KINDS.get(g.subject_type, str(g.subject_type)), g.subject_id, g.created_at)
        for g in grants
        if g.relation == m.GrantRelation.VIEWER and not g.revoked
    ]
    return sorted(shares, key=lambda share: share.created_at)


def revoke_share(client: PlatformClient, share: Share) -> None:
    """Stop a share: a share token is revoked (reads with it fail), a grant is revoked."""
    if share.kind == "share token":
        client.revoke_share_token(share.subject_id)
    client.revoke_grant(share.grant_id)
