"""Submitting slides: validate locally against the version, upload, then one ``POST /v1/runs``.

Every request carries ``custom_metadata.napari_aignostics.submission_id`` (a fresh UUID) so that a
submission whose answer is lost is found again instead of being sent twice.
"""

from __future__ import annotations

import platform as _platform
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema

from . import models as m
from .client import SUBMISSION_KEY, USER_AGENT, PlatformClient
from .errors import LocalValidationError
from .upload import bucket_for, object_key, upload_file

__all__ = ["build_run_request", "item_problems", "submit_slides", "validate_items"]

Progress = Callable[[float, str], None]


def validate_items(version: m.VersionReadResponse, items: Sequence[m.ItemCreationRequest]) -> None:
    """Check external ids, artifact names and metadata as the platform will; raise on the first."""
    expected = {a.name: a for a in version.input_artifacts}
    seen: set[str] = set()
    problems: list[str] = []
    for item in items:
        if item.external_id in seen:
            problems.append(f"{item.external_id}: the same slide is in the run twice")
        seen.add(item.external_id)
        names = sorted(a.name for a in item.input_artifacts)
        if names != sorted(expected):
            problems.append(f"{item.external_id}: needs input artifacts {sorted(expected)}")
            continue
        for artifact in item.input_artifacts:
            schema = expected[artifact.name].metadata_schema
            for error in jsonschema.Draft7Validator(schema).iter_errors(artifact.metadata):
                where = ".".join(str(p) for p in error.absolute_path) or "metadata"
                problems.append(f"{item.external_id}: {where}: {error.message}")
    if problems:
        raise LocalValidationError("; ".join(problems[:10]), detail=problems)


def sdk_metadata(note: str | None, tags: Sequence[str]) -> dict[str, Any]:
    """``custom_metadata.sdk`` as the official SDK writes it (note, tags, submission)."""
    now = datetime.now(UTC).isoformat()
    sdk: dict[str, Any] = {
        "schema_version": "0.0.7",
        "created_at": now,
        "updated_at": now,
        "submission": {"date": now, "interface": "napari", "initiator": "user"},
        "user_agent": f"{USER_AGENT} ({_platform.system()})",
    }
    if note:
        sdk["note"] = note
    if tags:
        sdk["tags"] = sorted(set(tags))
    return {"sdk": sdk}


def item_problems(
    version: m.VersionReadResponse, path: Path, metadata: dict[str, Any]
) -> list[str]:
    """Why one slide with this metadata would be refused by ``version`` (empty when it is fine)."""
    draft = m.ItemCreationRequest(
        external_id=str(Path(path).resolve()),
        input_artifacts=[
            m.InputArtifactCreationRequest(
                name=artifact.name, download_url="https://placeholder.invalid/slide",
                metadata=metadata,
            )
            for artifact in version.input_artifacts[:1]
        ],
    )
    try:
        validate_items(version, [draft])
    except LocalValidationError as exc:
        return [str(p).removeprefix(f"{draft.external_id}: ") for p in exc.detail or [exc]]
    return []


def build_run_request(
    application_id: str,
    version: str,
    items: Sequence[m.ItemCreationRequest],
    *,
    note: str | None = None,
    tags: Sequence[str] = (),
    custom_metadata: dict[str, Any] | None = None,
    scheduling: m.SchedulingRequest | None = None,
) -> m.RunCreationRequest:
    """The body of ``POST /v1/runs`` with the SDK-style custom metadata and a submission id."""
    metadata = {
        **(custom_metadata or {}),
        **sdk_metadata(note, tags),
        SUBMISSION_KEY: {"submission_id": str(uuid.uuid4())},
    }
    return m.RunCreationRequest(
        application_id=application_id,
        version_number=version,
        custom_metadata=metadata,
        scheduling=scheduling,
        items=list(items),
    )


def submit_slides(
    client: PlatformClient,
    application_id: str,
    version: str | None,
    slides: Sequence[tuple[Path, dict[str, Any]]],
    *,
    note: str | None = None,
    tags: Sequence[str] = (),
    progress: Progress | None = None,
    custom_metadata: dict[str, Any] | None = None,
    scheduling: m.SchedulingRequest | None = None,
    spec: m.VersionReadResponse | None = None,
    organization: m.OrganizationReadResponse | None = None,
) -> str:
    """Validate every slide's metadata (once), upload the slides, submit one run; its id.

    ``slides`` pairs each file with its complete input metadata. The external id of an item is the
    slide's absolute path, like the official SDK. ``spec`` (the version) and ``organization`` (of
    ``/v1/me``) are what the caller already fetched; only when absent are they fetched here.
    """
    report = progress or (lambda fraction, message: None)
    if not slides:
        raise LocalValidationError("no slides to submit")
    spec = spec or client.application_version(application_id, version)
    name = spec.input_artifacts[0].name
    placeholder = "https://placeholder.invalid/slide"
    drafts = [
        m.ItemCreationRequest(
            external_id=str(Path(path).resolve()),
            input_artifacts=[
                m.InputArtifactCreationRequest(name=name, download_url=placeholder, metadata=meta)
            ],
        )
        for path, meta in slides
    ]
    validate_items(spec, drafts)
    report(0.0, "preparing upload")
    bucket = bucket_for(organization or client.me().organization, client.api_root)
    total = sum(Path(p).stat().st_size for p, _ in slides) or 1
    done = 0
    prefix = str(int(datetime.now(UTC).timestamp() * 1000))
    items = []
    for (path, _meta), draft in zip(slides, drafts, strict=True):
        path = Path(path)
        base = done

        def on_bytes(sent: int, _size: int, base: int = base, path: Path = path) -> None:
            report(0.95 * (base + sent) / total, f"uploading {path.name}")

        def on_retry(
            attempt: int, attempts: int, reason: str, base: int = base, path: Path = path
        ) -> None:
            report(
                0.95 * base / total,
                f"upload of {path.name} interrupted ({reason}); "
                f"restarting from 0 (attempt {attempt} of {attempts})",
            )

        url = upload_file(
            client.http,
            bucket,
            path,
            object_key(path, application_id, spec.version_number, prefix),
            progress=on_bytes,
            on_retry=on_retry,
        )
        done += path.stat().st_size
        artifact = draft.input_artifacts[0].model_copy(update={"download_url": url})
        items.append(draft.model_copy(update={"input_artifacts": [artifact]}))
    report(0.97, "submitting")
    request = build_run_request(
        application_id,
        spec.version_number,
        items,
        note=note,
        tags=tags,
        custom_metadata=custom_metadata,
        scheduling=scheduling,
    )
    run_id = client.create_run(request)
    report(1.0, f"submitted run {run_id}")
    return run_id
