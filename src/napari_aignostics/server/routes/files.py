"""Bytes: signed artifact/document URLs and the S3-compatible bucket (presigned SigV4)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote, unquote

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, Response

from ...platform.results_layout import artifact_file_name
from ..deps import PlatformDep
from ..service import Platform
from ..signing import SignatureError, verify_path, verify_sigv4_query

router = APIRouter(include_in_schema=False)


def _raw_path(request: Request) -> str:
    raw = request.scope.get("raw_path")
    return raw.decode("latin-1") if raw else quote(request.url.path)


def _check_file_signature(platform: Platform, request: Request) -> None:
    try:
        verify_path(
            platform.url_secret,
            _raw_path(request),
            request.query_params.get("expires"),
            request.query_params.get("signature"),
        )
    except SignatureError as exc:
        raise HTTPException(403, str(exc)) from None


@router.api_route("/files/artifacts/{run_id}/{artifact_id}", methods=["GET", "HEAD"])
def artifact_bytes(
    run_id: str, artifact_id: str, request: Request, platform: PlatformDep
) -> FileResponse:
    """An output artifact's bytes (Range supported) for a valid signed URL."""
    _check_file_signature(platform, request)
    row = platform.store.output_artifact(run_id, artifact_id)
    if row is None or row.output != "AVAILABLE" or not row.object_path:
        raise HTTPException(410 if row else 404, "the artifact is no longer available")
    path = platform.objects.root / row.object_path
    if not path.is_file():
        raise HTTPException(410, "the artifact file is gone")
    media_type = (row.metadata or {}).get("media_type") or "application/octet-stream"
    filename = artifact_file_name(row.name, media_type)
    return FileResponse(
        path,
        media_type=media_type,
        filename=filename,
        headers={"Cache-Control": "no-store"},
    )


@router.get("/files/documents/{application_id}/{version}/{name}/{mode}")
def document_bytes(
    application_id: str,
    version: str,
    name: str,
    mode: str,
    request: Request,
    platform: PlatformDep,
) -> Response:
    """A version document for a valid signed URL (``attachment`` or ``inline``)."""
    _check_file_signature(platform, request)
    spec = platform.version(application_id, version)
    if spec is None or name not in spec.documents:
        raise HTTPException(404, "document not found")
    mime, content = spec.documents[name]
    headers = {"Cache-Control": "no-store"}
    if mode == "attachment":
        headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return Response(content, media_type=mime, headers=headers)


def _bucket_access(platform: Platform, request: Request, bucket: str) -> None:
    """A presigned SigV4 URL of the bucket's organization, or the bearer token of a member."""
    params = request.query_params
    if "X-Amz-Signature" not in params:
        header = request.headers.get("authorization", "")
        token = header.partition(" ")[2].strip() if header.lower().startswith("bearer ") else ""
        user = platform.user_for_bearer(token) if token else None
        if user is None:
            raise HTTPException(401, "the bucket needs a presigned URL or a bearer token")
        org = platform.store.org(user.org_id)
        if org is None or org.bucket_name != bucket:
            raise HTTPException(403, "this bucket belongs to another organization")
        return

    def lookup(key_id: str) -> str | None:
        org = platform.store.org_for_key(key_id)
        return None if org is None or org.bucket_name != bucket else org.hmac_secret

    try:
        verify_sigv4_query(
            method=request.method,
            raw_path=_raw_path(request),
            query=list(params.multi_items()),
            headers=dict(request.headers),
            lookup_secret=lookup,
        )
    except SignatureError as exc:
        raise HTTPException(403, str(exc)) from None


def _object(platform: Platform, bucket: str, key: str) -> Path:
    try:
        return platform.objects.bucket_path(bucket, unquote(key) if "%" in key else key)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None


@router.put("/bucket/{bucket}/{key:path}")
async def put_object(bucket: str, key: str, request: Request, platform: PlatformDep) -> Response:
    """Store an object (streamed, atomic)."""
    _bucket_access(platform, request, bucket)
    target = _object(platform, bucket, key)
    org = platform.store.org_for_bucket(bucket)
    quota = org.quota_object_bytes if org is not None else None
    limit = min(platform.settings.max_upload_bytes, quota or 2**63)
    length = request.headers.get("content-length")
    too_large = (
        f"{key!r} is larger than the object size limit of organization"
        f" {org.id if org else None} ({limit} bytes); ask its admin to raise quota_object_bytes"
    )
    if length is not None and int(length) > limit:
        raise HTTPException(413, too_large, headers={"Connection": "close"})
    try:
        size = await platform.objects.write_stream(target, request.stream(), limit)
    except ValueError:
        raise HTTPException(413, too_large, headers={"Connection": "close"}) from None
    if length is not None and int(length) != size:
        target.unlink(missing_ok=True)
        raise HTTPException(400, f"received {size} bytes, Content-Length said {length}")
    return Response(status_code=200, headers={"ETag": f'"{size:x}"'})


@router.api_route("/bucket/{bucket}/{key:path}", methods=["GET", "HEAD"])
def get_object(bucket: str, key: str, request: Request, platform: PlatformDep) -> FileResponse:
    """An object's bytes (Range supported)."""
    _bucket_access(platform, request, bucket)
    target = _object(platform, bucket, key)
    if not target.is_file():
        raise HTTPException(404, f"no object {key!r} in bucket {bucket!r}")
    return FileResponse(target, media_type="application/octet-stream")
