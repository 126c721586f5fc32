"""Applications, versions and version documents."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import RedirectResponse, Response

from ...apps.base import ApplicationSpec, VersionSpec
from ...platform import models as m
from ..deps import Caller, PlatformDep, order_by
from ..responses import models_response
from ..service import Platform

router = APIRouter(prefix="/api/v1", tags=["Public"])

DOC_NAMESPACE = uuid.UUID("5b0c0a52-6c1f-4c43-9a54-7d3f0c6f3a11")


def _semver(version: str) -> tuple[Any, ...]:
    from ...platform.versions import semver_key

    return semver_key(version)


def _iso(spec: VersionSpec) -> str:
    return spec.released_at.isoformat().replace("+00:00", "Z")


def _latest(app: ApplicationSpec) -> VersionSpec | None:
    return max(app.versions, key=lambda v: _semver(v.version_number), default=None)


def _version_or_404(platform: Platform, application_id: str, version: str) -> VersionSpec:
    if application_id not in platform.applications:
        raise HTTPException(404, f"application {application_id!r} not found")
    spec = platform.version(application_id, version)
    if spec is None:
        raise HTTPException(404, f"version {version!r} of application {application_id!r} not found")
    return spec


def _field(key: str) -> Any:
    return lambda row: str(row[key])


@router.get("/applications", response_model=list[m.ApplicationReadShortResponse])
async def list_applications(
    platform: PlatformDep,
    user: Caller,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int | None, Query(alias="page-size", ge=5, le=100)] = None,
    page_size_alt: Annotated[int | None, Query(alias="page_size", ge=5, le=100)] = None,
    sort: Annotated[list[str] | None, Query()] = None,
) -> Response:
    """Applications with at least one version, sorted, paged (in memory: no worker thread)."""
    rows: list[dict[str, Any]] = []
    for app in platform.applications.values():
        latest = _latest(app)
        if latest is None:
            continue
        rows.append(
            {
                "application_id": app.application_id,
                "name": app.name,
                "regulatory_classes": app.regulatory_classes,
                "description": app.description,
                "latest_version": {"number": latest.version_number, "released_at": _iso(latest)},
            }
        )
    order_by(sort, {k: k for k in ("application_id", "name", "description", "regulatory_classes")})
    for raw in reversed([v.strip() for v in sort or [] if v.strip()]):
        key = raw.lstrip("+-").strip()
        rows.sort(key=_field(key), reverse=raw.startswith("-"))
    size = page_size or page_size_alt or 50
    page_rows = rows[(page - 1) * size : page * size]
    views = [m.ApplicationReadShortResponse.model_validate(r) for r in page_rows]
    return models_response(views, m.ApplicationReadShortResponse)


@router.get("/applications/{application_id}", response_model=m.ApplicationReadResponse)
def read_application(
    application_id: str, platform: PlatformDep, user: Caller
) -> m.ApplicationReadResponse:
    """One application with all its versions."""
    app = platform.applications.get(application_id)
    if app is None:
        raise HTTPException(404, f"application {application_id!r} not found")
    versions = sorted(app.versions, key=lambda v: _semver(v.version_number))
    return m.ApplicationReadResponse.model_validate({
        "application_id": app.application_id,
        "name": app.name,
        "regulatory_classes": app.regulatory_classes,
        "description": app.description,
        "versions": [{"number": v.version_number, "released_at": _iso(v)} for v in versions],
    })


@router.get(
    "/applications/{application_id}/versions/{version}", response_model=m.VersionReadResponse
)
def application_version_details(
    application_id: str, version: str, platform: PlatformDep, user: Caller
) -> m.VersionReadResponse:
    """Inputs and outputs of a version with their metadata JSON schemas."""
    spec = _version_or_404(platform, application_id, version)
    return m.VersionReadResponse.model_validate({
        "version_number": spec.version_number,
        "changelog": spec.changelog,
        "input_artifacts": spec.input_artifacts,
        "output_artifacts": spec.output_artifacts,
        "released_at": _iso(spec),
    })


def _document(application_id: str, spec: VersionSpec, name: str) -> m.VersionDocumentResponse:
    mime, _content = spec.documents[name]
    return m.VersionDocumentResponse.model_validate({
        "id": str(uuid.uuid5(DOC_NAMESPACE, f"{application_id}/{spec.version_number}/{name}")),
        "name": name,
        "mime_type": mime,
        "visibility": "public",
        "created_at": _iso(spec),
        "updated_at": _iso(spec),
    })


def _document_or_404(
    platform: Platform, application_id: str, version: str, name: str
) -> VersionSpec:
    spec = _version_or_404(platform, application_id, version)
    if name not in spec.documents:
        raise HTTPException(404, f"document {name!r} not found for {application_id} {version}")
    return spec


@router.get(
    "/applications/{application_id}/versions/{version}/documents",
    response_model=list[m.VersionDocumentResponse],
    operation_id="list_version_documents",
)
def list_version_documents(
    application_id: str, version: str, platform: PlatformDep, user: Caller
) -> list[m.VersionDocumentResponse]:
    """Public documents of a version."""
    spec = _version_or_404(platform, application_id, version)
    return [_document(application_id, spec, name) for name in sorted(spec.documents)]


@router.get(
    "/applications/{application_id}/versions/{version}/documents/{name}",
    response_model=m.VersionDocumentResponse,
    operation_id="get_version_document",
)
def get_version_document(
    application_id: str, version: str, name: str, platform: PlatformDep, user: Caller
) -> m.VersionDocumentResponse:
    """One document's description."""
    spec = _document_or_404(platform, application_id, version, name)
    return _document(application_id, spec, name)


def _document_redirect(
    platform: Platform, application_id: str, version: str, name: str, mode: str
) -> RedirectResponse:
    _document_or_404(platform, application_id, version, name)
    from urllib.parse import quote

    parts = (application_id, version, name, mode)
    url = platform.signed_url("/files/documents/" + "/".join(quote(p, safe="") for p in parts))
    return RedirectResponse(url, status_code=307, headers={"Cache-Control": "no-store"})


@router.get(
    "/applications/{application_id}/versions/{version}/documents/{name}/file",
    operation_id="get_version_document_file",
    status_code=307,
    response_class=RedirectResponse,
)
def get_version_document_file(
    application_id: str, version: str, name: str, platform: PlatformDep, user: Caller
) -> RedirectResponse:
    """307 to a signed URL that downloads the document as an attachment."""
    return _document_redirect(platform, application_id, version, name, "attachment")


@router.get(
    "/applications/{application_id}/versions/{version}/documents/{name}/content",
    operation_id="get_version_document_content",
    status_code=307,
    response_class=RedirectResponse,
)
def get_version_document_content(
    application_id: str, version: str, name: str, platform: PlatformDep, user: Caller
) -> RedirectResponse:
    """307 to a signed URL that serves the document with its content type."""
    return _document_redirect(platform, application_id, version, name, "inline")
