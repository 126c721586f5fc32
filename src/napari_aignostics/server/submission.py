"""Checks of ``POST /v1/runs`` before a run exists: application, items, metadata, quotas."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
from fastapi import HTTPException

from ..apps.base import VersionSpec
from ..platform import models as m
from .deps import problem
from .service import Platform
from .store.rows import UserRow

__all__ = ["check_run_request"]


def _latest_version(platform: Platform, application_id: str) -> VersionSpec:
    from ..platform.versions import semver_key

    app = platform.applications.get(application_id)
    if app is None or not app.versions:
        raise HTTPException(404, f"application {application_id!r} not found")
    return max(app.versions, key=lambda v: semver_key(v.version_number))


def _size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":")).encode())


def check_run_request(platform: Platform, user: UserRow, body: m.RunCreationRequest) -> VersionSpec:
    """The version to run; an HTTP error (400/402/404/422) with a precise detail otherwise.

    Input metadata that its version's ``metadata_schema`` rejects is a 400, as the contract says.
    """
    settings = platform.settings
    if body.version_number:
        if body.application_id not in platform.applications:
            raise HTTPException(404, f"application {body.application_id!r} not found")
        version = platform.version(body.application_id, body.version_number)
        if version is None:
            raise HTTPException(
                404,
                f"version {body.version_number!r} of application {body.application_id!r} not found",
            )
    else:
        version = _latest_version(platform, body.application_id)
    count = len(body.items)
    if count > settings.max_items_per_run:
        raise HTTPException(
            402,
            f"quota: a run holds at most {settings.max_items_per_run} slides; this one has {count}",
        )
    if (
        body.custom_metadata is not None
        and _size(body.custom_metadata) > settings.max_metadata_bytes
    ):
        raise problem(
            422,
            ["body", "custom_metadata"],
            f"custom_metadata is larger than {settings.max_metadata_bytes} bytes",
        )
    seen: set[str] = set()
    expected = {a["name"]: a for a in version.input_artifacts}
    for index, item in enumerate(body.items):
        loc: list[str | int] = ["body", "items", index]
        if not item.external_id.strip():
            raise problem(400, [*loc, "external_id"], "external_id must not be empty")
        bad = next((c for c in item.external_id if ord(c) < 0x20 or ord(c) == 0x7F), None)
        if bad is not None:
            raise problem(
                400,
                [*loc, "external_id"],
                f"external_id {item.external_id!r} contains the control character"
                f" U+{ord(bad):04X}; use printable characters only",
            )
        if item.external_id in seen:
            raise problem(
                400,
                [*loc, "external_id"],
                f"external_id {item.external_id!r} appears more than once in this run",
            )
        seen.add(item.external_id)
        if (
            item.custom_metadata is not None
            and _size(item.custom_metadata) > settings.max_metadata_bytes
        ):
            raise problem(
                422,
                [*loc, "custom_metadata"],
                f"custom_metadata is larger than {settings.max_metadata_bytes} bytes",
            )
        names = [a.name for a in item.input_artifacts]
        if sorted(names) != sorted(expected):
            raise problem(
                400,
                [*loc, "input_artifacts"],
                f"{version.version_number} expects input artifacts {sorted(expected)}, got {names}",
            )
        for a_index, artifact in enumerate(item.input_artifacts):
            a_loc = [*loc, "input_artifacts", a_index]
            if not artifact.download_url.lower().startswith(("http://", "https://")):
                raise problem(422, [*a_loc, "download_url"], "download_url must be http(s)")
            if _size(artifact.metadata) > settings.max_metadata_bytes:
                raise problem(422, [*a_loc, "metadata"], "metadata is too large")
            schema = expected[artifact.name].get("metadata_schema") or {}
            errors = sorted(
                jsonschema.Draft7Validator(schema).iter_errors(artifact.metadata),
                key=lambda e: list(e.absolute_path),
            )
            if errors:
                raise HTTPException(
                    400,
                    [
                        {
                            "loc": [*a_loc, "metadata", *e.absolute_path],
                            "msg": f"{item.external_id}: {e.message}",
                            "type": f"schema.{e.validator}",
                        }
                        for e in errors[:20]
                    ],
                )
    _check_quotas(platform, user, count)
    return version


def _check_quotas(platform: Platform, user: UserRow, count: int) -> None:
    store = platform.store
    org = store.org(user.org_id)
    per_run = org.quota_slides_per_run if org else None
    if per_run is not None and count > per_run:
        raise HTTPException(
            402, f"quota: your organization allows {per_run} slides per run; this run has {count}"
        )
    per_month = org.quota_slides_per_month if org else None
    used = store.month_slides(org_id=user.org_id)
    if per_month is not None and used + count > per_month:
        raise HTTPException(
            402,
            f"quota: your organization used {used} of {per_month} slides this month; "
            f"{count} more do not fit",
        )
    user_month = user.quota_slides_per_month
    if user_month is not None:
        mine = store.month_slides(user_id=user.id)
        if mine + count > user_month:
            raise HTTPException(
                402, f"quota: you used {mine} of your {user_month} slides this month"
            )
    parallel = org.quota_parallel_runs if org else None
    if parallel is not None:
        active = store.unfinished_runs(user.org_id)
        if active >= parallel:
            raise HTTPException(
                402,
                f"quota: your organization already has {active} unfinished runs "
                f"(at most {parallel} at a time); wait for one to finish or cancel one",
            )
