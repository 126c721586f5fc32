"""Runs, items, artifacts and custom metadata."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import RedirectResponse

from ..platform import models as m
from .deps import Caller, Page, PlatformDep, UuidPath, order_by, page_window, problem
from .jsonpath import JsonPathError, compile_filter
from .lifecycle import cancel_run, delete_outputs
from .service import Platform
from .store import metadata_checksum
from .submission import check_run_request

router = APIRouter(prefix="/api/v1", tags=["Public"])

RUN_SORT = {
    "run_id": "id",
    "application_id": "application_id",
    "version_number": "version_number",
    "custom_metadata": "custom_metadata",
    "submitted_at": "submitted_at",
    "submitted_by": "user_id",
    "terminated_at": "terminated_at",
    "termination_reason": "termination_reason",
    "state": "state",
}
ITEM_SORT = {
    "item_id": "id",
    "external_id": "external_id",
    "custom_metadata": "custom_metadata",
    "terminated_at": "terminated_at",
    "termination_reason": "termination_reason",
}
ShareToken = Annotated[str | None, Query()]


def _visible_run(
    platform: Platform, user: dict[str, Any], run_id: str, share_token: str | None = None
) -> dict[str, Any]:
    run = platform.store.run(run_id)
    if run is None or not platform.can_view(user, run, share_token):
        raise HTTPException(404, f"run {run_id} not found")
    return run


def _own_run(platform: Platform, user: dict[str, Any], run_id: str, action: str) -> dict[str, Any]:
    """A run the caller created; 404 if invisible, 403 if only visible (admin, grant)."""
    run = _visible_run(platform, user, run_id)
    if run["user_id"] != user["id"]:
        raise HTTPException(403, f"only the run's creator may {action}")
    return run


def _page(
    platform: Platform, sql: str, params: list[Any], custom_metadata: str | None, paging: Page
) -> list[dict[str, Any]]:
    """One page of rows, filtered by the ``custom_metadata`` JSONPath when given."""
    predicate = _jsonpath(custom_metadata)
    limit, offset = page_window(paging.page, paging.page_size)
    if predicate is None:
        return platform.store.all(sql + " LIMIT ? OFFSET ?", [*params, limit, offset])
    matching = [r for r in platform.store.all(sql, params) if predicate(r["custom_metadata"])]
    return matching[offset : offset + limit]


def _jsonpath(text: str | None) -> Any:
    if not text:
        return None
    try:
        return compile_filter(text)
    except JsonPathError as exc:
        raise problem(422, ["query", "custom_metadata"], str(exc)) from None


@router.post("/runs", status_code=201, response_model=m.RunCreationResponse)
def create_run(
    body: m.RunCreationRequest, request: Request, platform: PlatformDep, user: Caller
) -> dict[str, str]:
    """Validate and queue a run; 201 with its id."""
    version = check_run_request(platform, user, body)
    outputs = [
        a["name"]
        for a in version.output_artifacts
        if a.get("scope", "ITEM") == "ITEM" and a.get("visibility", "EXTERNAL") == "EXTERNAL"
    ]
    scheduling = body.scheduling
    run_id = platform.store.create_run(
        user=user,
        application_id=body.application_id,
        version_number=version.version_number,
        custom_metadata=body.custom_metadata,
        due_date=_stamp(scheduling.due_date) if scheduling and scheduling.due_date else None,
        deadline=_stamp(scheduling.deadline) if scheduling and scheduling.deadline else None,
        callback_context=body.callback_context,
        items=[i.model_dump(mode="json") for i in body.items],
        output_names=outputs,
    )
    worker = getattr(request.app.state, "worker", None)
    if worker is not None:
        worker.wake()
    return {"run_id": run_id}


def _stamp(value: Any) -> str:
    from datetime import UTC

    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return str(value.astimezone(UTC).isoformat().replace("+00:00", "Z"))


@router.get("/runs", response_model=list[m.RunReadResponse])
def list_runs(
    platform: PlatformDep,
    user: Caller,
    paging: Annotated[Page, Depends()],
    application_id: str | None = None,
    application_version: str | None = None,
    external_id: str | None = None,
    custom_metadata: Annotated[str | None, Query(max_length=1000)] = None,
    submitted_by: str | None = None,
    organization_id: str | None = None,
    for_organization: str | None = None,
    sort: Annotated[list[str] | None, Query()] = None,
) -> list[dict[str, Any]]:
    """The caller's runs (or an organization's for its admins), filtered, sorted, paged."""
    where, params = [], []
    if for_organization:
        if user["role"] != "admin" or for_organization != user["org_id"]:
            raise HTTPException(
                404, f"no organization {for_organization!r} whose runs you may list (admins only)"
            )
        where.append("org_id=?")
        params.append(for_organization)
    else:
        where.append("user_id=?")
        params.append(user["id"])
    if submitted_by:
        where.append("user_id=?")
        params.append(user["id"] if submitted_by == "me" else submitted_by)
    if organization_id:
        where.append("org_id=?")
        params.append(user["org_id"] if organization_id == "my_org" else organization_id)
    if application_id:
        where.append("application_id=?")
        params.append(application_id)
    if application_version:
        where.append("version_number=?")
        params.append(application_version)
    if external_id:
        where.append("id IN (SELECT run_id FROM items WHERE external_id=?)")
        params.append(external_id)
    sql = "SELECT * FROM runs WHERE " + " AND ".join(where)
    sql += order_by(sort, RUN_SORT, "seq DESC")
    rows = _page(platform, sql, params, custom_metadata, paging)
    return platform.run_views(rows)


@router.get("/runs/{run_id}", response_model=m.RunReadResponse)
def get_run(
    run_id: UuidPath, platform: PlatformDep, user: Caller, share_token: ShareToken = None
) -> dict[str, Any]:
    """One run."""
    return platform.run_views([_visible_run(platform, user, run_id, share_token)])[0]


@router.post("/runs/{run_id}/cancel", status_code=202, response_model=dict[str, Any])
def cancel(
    run_id: UuidPath, request: Request, platform: PlatformDep, user: Caller
) -> dict[str, Any]:
    """Cancel a run: pending and processing items are skipped, finished items stay."""
    run = _own_run(platform, user, run_id, "cancel it")
    if run["state"] == "TERMINATED":
        what = "cancelled" if run["termination_reason"] != "ALL_ITEMS_PROCESSED" else "finished"
        raise HTTPException(409, f"run {run_id} is already {what}")
    if not cancel_run(platform.store, run_id, "CANCELED_BY_USER"):
        raise HTTPException(409, f"run {run_id} is already terminated")
    worker = getattr(request.app.state, "worker", None)
    if worker is not None:
        worker.wake()
    return {}


@router.get("/runs/{run_id}/items", response_model=list[m.ItemResultReadResponse])
def list_items(
    run_id: UuidPath,
    platform: PlatformDep,
    user: Caller,
    paging: Annotated[Page, Depends()],
    share_token: ShareToken = None,
    item_id__in: Annotated[list[str] | None, Query()] = None,
    external_id__in: Annotated[list[str] | None, Query()] = None,
    state: m.ItemState | None = None,
    termination_reason: m.ItemTerminationReason | None = None,
    custom_metadata: Annotated[str | None, Query(max_length=1000)] = None,
    sort: Annotated[list[str] | None, Query()] = None,
) -> list[dict[str, Any]]:
    """Items of a run with their artifacts."""
    _visible_run(platform, user, run_id, share_token)
    where, params = ["run_id=?"], [run_id]
    for column, values in (("id", item_id__in), ("external_id", external_id__in)):
        if values:
            where.append(f"{column} IN ({','.join('?' * len(values))})")
            params.extend(values)
    if state:
        where.append("state=?")
        params.append(str(state))
    if termination_reason:
        where.append("termination_reason=?")
        params.append(str(termination_reason))
    sql = "SELECT id, custom_metadata FROM items WHERE " + " AND ".join(where)
    sql += order_by(sort, ITEM_SORT, "seq ASC")
    rows = _page(platform, sql, params, custom_metadata, paging)
    return platform.item_views(rows)


def _item_row(platform: Platform, run_id: str, external_id: str) -> dict[str, Any]:
    row = platform.store.one(
        "SELECT id, custom_metadata, custom_metadata_checksum FROM items "
        "WHERE run_id=? AND external_id=?",
        (run_id, external_id),
    )
    if row is None:
        raise HTTPException(404, f"item {external_id!r} not found in run {run_id}")
    return row


@router.put(
    "/runs/{run_id}/items/{external_id:path}/custom-metadata",
    response_model=m.CustomMetadataUpdateResponse,
)
def put_item_custom_metadata(
    run_id: UuidPath,
    external_id: str,
    body: m.CustomMetadataUpdateRequest,
    platform: PlatformDep,
    user: Caller,
) -> dict[str, Any]:
    """Replace an item's custom metadata (412 if its checksum changed meanwhile)."""
    _own_run(platform, user, run_id, "change its custom metadata")
    row = _item_row(platform, run_id, external_id)
    checksum = _replace_metadata(platform, "items", row, body)
    return {"custom_metadata_checksum": checksum}


@router.get("/runs/{run_id}/items/{external_id:path}", response_model=m.ItemResultReadResponse)
def get_item(
    run_id: UuidPath,
    external_id: str,
    platform: PlatformDep,
    user: Caller,
    share_token: ShareToken = None,
) -> dict[str, Any]:
    """One item of a run by its external id."""
    _visible_run(platform, user, run_id, share_token)
    if external_id.endswith("/custom-metadata") and not platform.store.one(
        "SELECT 1 FROM items WHERE run_id=? AND external_id=?", (run_id, external_id)
    ):
        raise HTTPException(405, "Method Not Allowed")  # only PUT exists at that path
    return platform.item_views([_item_row(platform, run_id, external_id)])[0]


def _replace_metadata(
    platform: Platform, table: str, row: dict[str, Any], body: m.CustomMetadataUpdateRequest
) -> str | None:
    import json

    if body.custom_metadata is not None:
        size = len(json.dumps(body.custom_metadata, separators=(",", ":")).encode())
        if size > platform.settings.max_metadata_bytes:
            raise problem(422, ["body", "custom_metadata"], "custom_metadata is too large")
    checksum = metadata_checksum(body.custom_metadata)
    with platform.store.transaction() as db:
        current = db.execute(
            f"SELECT custom_metadata_checksum FROM {table} WHERE id=?", (row["id"],)
        ).fetchone()
        if (
            body.custom_metadata_checksum is not None
            and current["custom_metadata_checksum"] != body.custom_metadata_checksum
        ):
            raise HTTPException(
                412, "custom metadata changed since you read it (checksum mismatch)"
            )
        db.execute(
            f"UPDATE {table} SET custom_metadata=?, custom_metadata_checksum=? WHERE id=?",
            (
                None if body.custom_metadata is None else json.dumps(body.custom_metadata),
                checksum,
                row["id"],
            ),
        )
    return checksum


@router.put("/runs/{run_id}/custom-metadata", response_model=m.CustomMetadataUpdateResponse)
def put_run_custom_metadata(
    run_id: UuidPath, body: m.CustomMetadataUpdateRequest, platform: PlatformDep, user: Caller
) -> dict[str, Any]:
    """Replace a run's custom metadata (412 if its checksum changed meanwhile)."""
    run = _own_run(platform, user, run_id, "change its custom metadata")
    return {"custom_metadata_checksum": _replace_metadata(platform, "runs", run, body)}


@router.get(
    "/runs/{run_id}/artifacts/{artifact_id}/file",
    status_code=307,
    response_class=RedirectResponse,
    responses={307: {"description": "Redirect to a short-lived signed URL"}},
)
def get_artifact_url(
    run_id: UuidPath,
    artifact_id: UuidPath,
    platform: PlatformDep,
    user: Caller,
    share_token: ShareToken = None,
) -> RedirectResponse:
    """307 to a short-lived signed URL of the artifact's bytes (410 if deleted)."""
    _visible_run(platform, user, run_id, share_token)
    artifact = platform.store.one(
        "SELECT id, output, name FROM output_artifacts WHERE id=? AND run_id=?",
        (artifact_id, run_id),
    )
    if artifact is None:
        raise HTTPException(404, f"artifact {artifact_id} not found in run {run_id}")
    if artifact["output"] in ("DELETED_BY_USER", "DELETED_BY_SYSTEM"):
        raise HTTPException(410, f"artifact {artifact['name']} was deleted ({artifact['output']})")
    if artifact["output"] != "AVAILABLE":
        raise HTTPException(404, f"artifact {artifact['name']} is not available yet")
    url = platform.signed_url(f"/files/artifacts/{run_id}/{artifact_id}")
    return RedirectResponse(url, status_code=307, headers={"Cache-Control": "no-store"})


@router.delete("/runs/{run_id}/artifacts", response_model=dict[str, Any])
def delete_run_items(run_id: UuidPath, platform: PlatformDep, user: Caller) -> dict[str, Any]:
    """Delete all output artifacts of a terminated run (409 before, 410 the second time)."""
    run = _own_run(platform, user, run_id, "delete its results")
    if run["state"] != "TERMINATED":
        raise HTTPException(409, f"run {run_id} is {run['state']}; delete results after it ended")
    if platform.store.one(
        "SELECT 1 FROM output_artifacts WHERE run_id=? AND output IN "
        "('DELETED_BY_USER','DELETED_BY_SYSTEM')",
        (run_id,),
    ) and not platform.store.one(
        "SELECT 1 FROM output_artifacts WHERE run_id=? AND output='AVAILABLE'", (run_id,)
    ):
        raise HTTPException(410, f"the results of run {run_id} were already deleted")
    delete_outputs(platform.store, platform.objects.root, run_id, "DELETED_BY_USER")
    return {}
