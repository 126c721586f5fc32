"""The local platform's core: store, objects, applications, access rules and response views."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from ..apps.base import ApplicationSpec, VersionSpec
from .access_tokens import TokenSigner, looks_like_jwt
from .authorization_codes import AuthorizationCodes
from .lifecycle import run_output
from .objects import ObjectStore
from .random_secrets import new_secret
from .responses import JsonBody
from .settings import LOCAL_ORG_ID, LOCAL_USER_ID, ServerSettings
from .signing import path_signer, sign_path
from .store import Store, token_hash
from .store.rows import ItemRow, RunRow, UserRow
from .store.runs import RunWithFigures

__all__ = ["Platform"]

DEPRECATED_URL_TTL_S = 3600
"""Life of ``output_artifacts[].download_url`` (deprecated, still read by older clients)."""


class Platform:
    """One local platform: everything the routes and the worker share."""

    def __init__(self, settings: ServerSettings, applications: list[ApplicationSpec]) -> None:
        self.settings = settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        settings.data_dir.chmod(0o700)
        self.store = Store(settings.data_dir / "platform.sqlite3")
        self.objects = ObjectStore(settings.data_dir)
        self.url_secret = self.store.secret("url-signing")
        self.signer = TokenSigner(settings)
        self.auth_codes = AuthorizationCodes()
        self.applications = {app.application_id: app for app in applications}
        self.generated_token: str | None = None
        self._bootstrap()

    def _bootstrap(self) -> None:
        s = self.settings
        self.store.ensure_org(
            LOCAL_ORG_ID,
            "Local organization",
            quota_slides_per_run=s.quota_slides_per_run,
            quota_slides_per_month=s.quota_slides_per_month,
            quota_parallel_runs=s.quota_parallel_runs,
            quota_object_bytes=s.quota_object_bytes,
        )
        self.store.ensure_user(
            LOCAL_USER_ID, LOCAL_ORG_ID, email="local@localhost", name="Local user", role="admin"
        )
        token_file = s.data_dir / "local-token"
        if s.token:
            self.store.issue_token(LOCAL_USER_ID, s.token)
        elif token_file.is_file():
            s.token = token_file.read_text().strip()
            self.store.issue_token(LOCAL_USER_ID, s.token)
        else:
            token = new_secret(24)
            self.store.issue_token(LOCAL_USER_ID, token)
            fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(token)
            self.generated_token = s.token = token

    def sign_in_secret(self) -> str:
        """A new one-time secret that signs a browser in at ``/device`` as the local user."""
        self.store.drop_expired_tokens()
        ttl = self.settings.sign_in_secret_ttl_s
        return self.store.issue_token(LOCAL_USER_ID, kind="sign-in", ttl_s=ttl)

    def close(self) -> None:
        """Close the database."""
        self.store.close()

    # --- tenants -------------------------------------------------------------------------------

    def add_user(
        self,
        user_id: str,
        org_id: str = LOCAL_ORG_ID,
        *,
        role: str = "member",
        email: str | None = None,
        token: str | None = None,
        **org_quotas: int | None,
    ) -> str:
        """Create (or update) a user in an organization; returns a bearer token for it."""
        self.store.ensure_org(org_id, org_id.removeprefix("org_").title(), **org_quotas)
        self.store.ensure_user(user_id, org_id, email=email, name=user_id, role=role)
        return self.store.issue_token(user_id, token)

    def user_for_bearer(self, token: str) -> UserRow | None:
        """The user of a valid bearer token: a JWT this platform signed, or an opaque token."""
        if looks_like_jwt(token):
            subject = self.signer.subject(token)
            return self.store.user(subject) if subject else None
        return self.store.user_for_token(token)

    # --- applications --------------------------------------------------------------------------

    def version(self, application_id: str, version: str) -> VersionSpec | None:
        """One version of an application, or None."""
        app = self.applications.get(application_id)
        if app is None:
            return None
        return next((v for v in app.versions if v.version_number == version), None)

    # --- access --------------------------------------------------------------------------------

    def share_token_id(self, share_token: str | None) -> str | None:
        """The id of a valid (unrevoked, unexpired) share token."""
        if not share_token:
            return None
        row = self.store.unrevoked_share_token(token_hash(share_token))
        if row is None:
            return None
        if row.expires_at and _parse(row.expires_at) < datetime.now(UTC):
            return None
        return row.id

    def can_view(self, user: UserRow, run: RunRow, share_token: str | None) -> bool:
        """Creator, org admin, a viewer grant for the user/org, or a granted share token."""
        if self.can_change(user, run):
            return True
        subjects = [("user", user.id), ("organization_user", user.org_id)]
        if user.is_admin:
            subjects.append(("organization_admin", user.org_id))
        token_id = self.share_token_id(share_token)
        if token_id:
            subjects.append(("share_token", token_id))
        return any(self.store.has_grant(run.id, kind, subject) for kind, subject in subjects)

    def can_change(self, user: UserRow, run: RunRow) -> bool:
        """Only the creator or an admin of the run's organization may change a run."""
        return run.user_id == user.id or (user.is_admin and run.org_id == user.org_id)

    # --- signed URLs ----------------------------------------------------------------------------

    def signed_url(self, path: str, ttl_s: int | None = None) -> str:
        """An absolute, short-lived signed URL for a file path served by this process."""
        return self.settings.public_url.rstrip("/") + sign_path(
            self.url_secret, path, ttl_s or self.settings.signed_url_ttl_s
        )

    # --- views ---------------------------------------------------------------------------------
    # JSON-ready bodies built straight from the rows (the fields and order of ``RunReadResponse``
    # and ``ItemResultReadResponse``; times as stored, ISO 8601 UTC): no model is validated per row.

    def run_views(self, runs: list[RunRow]) -> list[JsonBody]:
        """``RunReadResponse`` bodies of runs."""
        stats = self.store.statistics([r.id for r in runs])
        return [
            self.run_view(RunWithFigures(
                run, stats[run.id], None if run.state == "TERMINATED" else self.store.items_ahead(run)
            ))
            for run in runs
        ]

    @staticmethod
    def run_view(found: RunWithFigures) -> JsonBody:
        """The ``RunReadResponse`` body of a run with its figures."""
        run, counters = found.run, found.statistics
        ahead_all, ahead_org = found.ahead or (None, None)
        return {
            "run_id": run.id,
            "application_id": run.application_id,
            "version_number": run.version_number,
            "state": run.state,
            "output": run_output(counters),
            "termination_reason": run.termination_reason,
            "error_code": run.error_code,
            "error_message": run.error_message,
            "statistics": counters,
            "custom_metadata": run.custom_metadata,
            "custom_metadata_checksum": run.custom_metadata_checksum,
            "submitted_at": run.submitted_at,
            "submitted_by": run.user_id,
            "organization_id": run.org_id,
            "terminated_at": run.terminated_at,
            "num_preceding_items_org": ahead_org,
            "num_preceding_items_platform": ahead_all,
            "scheduling": (
                {"due_date": run.due_date, "deadline": run.deadline}
                if run.due_date or run.deadline
                else None
            ),
        }

    def item_views(self, rows: list[ItemRow]) -> list[JsonBody]:
        """``ItemResultReadResponse`` bodies of items (order kept)."""
        queue = self.store.queue_positions([r.seq for r in rows if r.state == "PENDING"])
        sign = path_signer(self.url_secret, DEPRECATED_URL_TTL_S)
        root = self.settings.public_url.rstrip("/")
        views: list[JsonBody] = []
        for entry in self.store.artifacts_of(rows):
            item = entry.item
            pos_all, pos_org = queue.get(item.seq, (None, None))
            views.append({
                "item_id": item.id,
                "external_id": item.external_id,
                "custom_metadata": item.custom_metadata,
                "custom_metadata_checksum": item.custom_metadata_checksum,
                "queue_position_org": pos_org,
                "queue_position_platform": pos_all,
                "state": item.state,
                "output": "FULL" if item.termination_reason == "SUCCEEDED" else "NONE",
                "termination_reason": item.termination_reason,
                "error_code": item.error_code,
                "error_message": item.error_message,
                "terminated_at": item.terminated_at,
                "input_artifacts": [
                    {
                        "input_artifact_id": a.id,
                        "name": a.name,
                        "metadata": a.metadata,
                        "download_url": a.download_url,
                    }
                    for a in entry.inputs
                ],
                "output_artifacts": [
                    {
                        "output_artifact_id": a.id,
                        "name": a.name,
                        "metadata": a.metadata,
                        "state": a.state,
                        "termination_reason": a.termination_reason,
                        "output": a.output,
                        "error_code": a.error_code,
                        "error_message": a.error_message,
                        "download_url": (
                            root + sign(f"/files/artifacts/{item.run_id}/{a.id}")
                            if a.output == "AVAILABLE"
                            else None
                        ),
                    }
                    for a in entry.outputs
                ],
            })
        return views

    @property
    def data_dir(self) -> Path:
        """Where this platform keeps its data."""
        return self.settings.data_dir


def _parse(stamp: str) -> datetime:
    value = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)
