"""Runs, items, artifacts and custom metadata."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, FastAPI, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response

from ...platform import models as m
from ..deps import (
    SHARE_TOKEN_PARAMETER,
    VALIDATION_ERROR_RESPONSE,
    Caller,
    PageDep,
    PlatformDep,
    UuidPath,
    WorkerDep,
    current_caller,
    order_by,
    problem,
    uuid_path_parameter,
    uuid_path_value,
)
from ..jsonpath import JsonPathError, compile_filter
from ..lifecycle import cancel_run, delete_outputs
from ..responses import json_response
from ..service import Platform
from ..store import ChecksumConflict, NewInput, NewItem
from ..store.rows import ItemRow, JsonPredicate, RunRow, UserRow
from ..submission import check_run_request

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
    platform: Platform, user: UserRow, run_id: str, share_token: str | None = None
) -> RunRow:
    run = platform.store.run(run_id)
    if run is None or not platform.can_view(user, run, share_token):
        raise HTTPException(404, f"run {run_id} not found")
    return run


def _own_run(platform: Platform, user: UserRow, run_id: str, action: str) -> RunRow:
    """A run the caller created; 404 if invisible, 403 if only visible (admin, grant)."""
    run = _visible_run(platform, user, run_id)
    if run.user_id != user.id:
        raise HTTPException(403, f"only the run's creator may {action}")
    return run


def _jsonpath(text: str | None) -> JsonPredicate | None:
    if not text:
        return None
    try:
        return compile_filter(text)
    except JsonPathError as exc:
        raise problem(422, ["query", "custom_metadata"], str(exc)) from None


async def get_run(request: Request) -> Response:
    """One run: a poll is one read of the run with its figures, in the event loop (reads never
    wait for the writer, see ``store/database.py``), with no thread hop.

    The route most polled reads its id, caller and share token from the request itself, as the
    dependencies of other routes would, and declares them in ``openapi_extra``: FastAPI's solving
    of declared parameters was a quarter of a poll's own work.
    """
    user = await current_caller(request)  # a 401 before a 422, as with dependencies
    run_id = uuid_path_value(request, "run_id")
    share_token = request.query_params.get("share_token")
    platform: Platform = request.app.state.platform
    found = platform.store.run_with_figures(run_id)
    if found is None or not platform.can_view(user, found.run, share_token):
        raise HTTPException(404, f"run {run_id} not found")
    return json_response(platform.run_view(found))


def add_poll_route(app: FastAPI) -> None:
    """Add the run poll (:func:`get_run`) to the app itself, ahead of every router: FastAPI
    matches a request against an included router as a branch of its own (the matching router's
    routes twice), and the dock and the CLI poll this route more than all others together."""
    app.add_api_route(
        f"{router.prefix}/runs/{{run_id}}",
        get_run,
        methods=["GET"],
        tags=list(router.tags),
        response_model=m.RunReadResponse,
        openapi_extra={
            "parameters": [uuid_path_parameter("run_id"), SHARE_TOKEN_PARAMETER],
            "responses": {"422": VALIDATION_ERROR_RESPONSE},
        },
    )


@router.post("/runs", status_code=201, response_model=m.RunCreationResponse)
def create_run(
    body: m.RunCreationRequest, platform: PlatformDep, worker: WorkerDep, user: Caller
) -> m.RunCreationResponse:
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
        items=[
            NewItem(
                item["external_id"],
                item.get("custom_metadata"),
                [
                    NewInput(a["name"], a["download_url"], a["metadata"])
                    for a in item["input_artifacts"]
                ],
            )
            for item in (i.model_dump(mode="json") for i in body.items)
        ],
        output_names=outputs,
    )
    worker.wake()
    return m.RunCreationResponse.model_validate({"run_id": run_id})


def _stamp(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return str(value.astimezone(UTC).isoformat().replace("+00:00", "Z"))


@router.get("/runs", response_model=list[m.RunReadResponse])
def list_runs(
    platform: PlatformDep,
    user: Caller,
    paging: PageDep,
    application_id: str | None = None,
    application_version: str | None = None,
    external_id: str | None = None,
    custom_metadata: Annotated[str | None, Query(max_length=1000)] = None,
    submitted_by: str | None = None,
    organization_id: str | None = None,
    for_organization: str | None = None,
    sort: Annotated[list[str] | None, Query()] = None,
) -> Response:
    """The caller's runs (or an organization's for its admins), filtered, sorted, paged."""
    equals: list[tuple[str, str]] = []
    if for_organization:
        if not user.is_admin or for_organization != user.org_id:
            raise HTTPException(
                404, f"no organization {for_organization!r} whose runs you may list (admins only)"
            )
        equals.append(("org_id", for_organization))
    else:
        equals.append(("user_id", user.id))
    if submitted_by:
        equals.append(("user_id", user.id if submitted_by == "me" else submitted_by))
    if organization_id:
        equals.append(("org_id", user.org_id if organization_id == "my_org" else organization_id))
    if application_id:
        equals.append(("application_id", application_id))
    if application_version:
        equals.append(("version_number", application_version))
    rows = platform.store.runs(
        equals=equals,
        external_id=external_id,
        order=order_by(sort, RUN_SORT),
        window=paging.window,
        where_json=_jsonpath(custom_metadata),
    )
    return json_response(platform.run_views(rows))


@router.post("/runs/{run_id}/cancel", status_code=202, response_model=dict[str, Any])
def cancel(
    run_id: UuidPath, platform: PlatformDep, worker: WorkerDep, user: Caller
) -> dict[str, str]:
    """Cancel a run: pending and processing items are skipped, finished items stay."""
    run = _own_run(platform, user, run_id, "cancel it")
    if run.state == "TERMINATED":
        what = "cancelled" if run.termination_reason != "ALL_ITEMS_PROCESSED" else "finished"
        raise HTTPException(409, f"run {run_id} is already {what}")
    if not cancel_run(platform.store, run_id, "CANCELED_BY_USER"):
        raise HTTPException(409, f"run {run_id} is already terminated")
    worker.wake()
    return {}


@router.get("/runs/{run_id}/items", response_model=list[m.ItemResultReadResponse])
def list_items(
    run_id: UuidPath,
    platform: PlatformDep,
    user: Caller,
    paging: PageDep,
    share_token: ShareToken = None,
    item_id__in: Annotated[list[str] | None, Query()] = None,
    external_id__in: Annotated[list[str] | None, Query()] = None,
    state: m.ItemState | None = None,
    termination_reason: m.ItemTerminationReason | None = None,
    custom_metadata: Annotated[str | None, Query(max_length=1000)] = None,
    sort: Annotated[list[str] | None, Query()] = None,
) -> Response:
    """Items of a run with their artifacts."""
    _visible_run(platform, user, run_id, share_token)
    equals = [
        (column, str(value))
        for column, value in (("state", state), ("termination_reason", termination_reason))
        if value
    ]
    rows = platform.store.run_items(
        run_id,
        in_columns=[("id", item_id__in or []), ("external_id", external_id__in or [])],
        equals=equals,
        order=order_by(sort, ITEM_SORT),
        window=paging.window,
        where_json=_jsonpath(custom_metadata),
    )
    return json_response(platform.item_views(rows))


def _item_row(platform: Platform, run_id: str, external_id: str) -> ItemRow:
    row = platform.store.item_by_external_id(run_id, external_id)
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
) -> m.CustomMetadataUpdateResponse:
    """Replace an item's custom metadata (412 if its checksum changed meanwhile)."""
    _own_run(platform, user, run_id, "change its custom metadata")
    row = _item_row(platform, run_id, external_id)
    return _replace_metadata(platform, "items", row.id, body)


@router.get("/runs/{run_id}/items/{external_id:path}", response_model=m.ItemResultReadResponse)
def get_item(
    run_id: UuidPath,
    external_id: str,
    platform: PlatformDep,
    user: Caller,
    share_token: ShareToken = None,
) -> Response:
    """One item of a run by its external id."""
    _visible_run(platform, user, run_id, share_token)
    if external_id.endswith("/custom-metadata") and not platform.store.item_by_external_id(
        run_id, external_id
    ):
        raise HTTPException(405, "Method Not Allowed")  # only PUT exists at that path
    return json_response(platform.item_views([_item_row(platform, run_id, external_id)])[0])


def _replace_metadata(
    platform: Platform,
    table: Literal["runs", "items"],
    row_id: str,
    body: m.CustomMetadataUpdateRequest,
) -> m.CustomMetadataUpdateResponse:
    if body.custom_metadata is not None:
        size = len(json.dumps(body.custom_metadata, separators=(",", ":")).encode())
        if size > platform.settings.max_metadata_bytes:
            raise problem(422, ["body", "custom_metadata"], "custom_metadata is too large")
    try:
        checksum = platform.store.replace_custom_metadata(
            table, row_id, body.custom_metadata, body.custom_metadata_checksum
        )
    except ChecksumConflict:
        raise HTTPException(
            412, "custom metadata changed since you read it (checksum mismatch)"
        ) from None
    return m.CustomMetadataUpdateResponse.model_validate({"custom_metadata_checksum": checksum})


@router.put("/runs/{run_id}/custom-metadata", response_model=m.CustomMetadataUpdateResponse)
def put_run_custom_metadata(
    run_id: UuidPath, body: m.CustomMetadataUpdateRequest, platform: PlatformDep, user: Caller
) -> m.CustomMetadataUpdateResponse:
    """Replace a run's custom metadata (412 if its checksum changed meanwhile)."""
    run = _own_run(platform, user, run_id, "change its custom metadata")
    return _replace_metadata(platform, "runs", run.id, body)


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
    artifact = platform.store.output_artifact(run_id, artifact_id)
    if artifact is None:
        raise HTTPException(404, f"artifact {artifact_id} not found in run {run_id}")
    if artifact.output in ("DELETED_BY_USER", "DELETED_BY_SYSTEM"):
        raise HTTPException(410, f"artifact {artifact.name} was deleted ({artifact.output})")
    if artifact.output != "AVAILABLE":
        raise HTTPException(404, f"artifact {artifact.name} is not available yet")
    url = platform.signed_url(f"/files/artifacts/{run_id}/{artifact_id}")
    return RedirectResponse(url, status_code=307, headers={"Cache-Control": "no-store"})


@router.delete("/runs/{run_id}/artifacts", response_model=dict[str, Any])
def delete_run_items(run_id: UuidPath, platform: PlatformDep, user: Caller) -> dict[str, str]:
    """Delete all output artifacts of a terminated run (409 before, 410 the second time)."""
    run = _own_run(platform, user, run_id, "delete its results")
    if run.state != "TERMINATED":
        raise HTTPException(409, f"run {run_id} is {run.state}; delete results after it ended")
    if platform.store.outputs_deleted(run_id):
        raise HTTPException(410, f"the results of run {run_id} were already deleted")
    delete_outputs(platform.store, platform.objects.root, run_id, "DELETED_BY_USER")
    return {}
