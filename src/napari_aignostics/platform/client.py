"""The HTTP client of the platform API v1 (Qt-free).

One :class:`PlatformClient` per API root. It asks its token provider for a bearer token on every
request, retries idempotent requests (5xx, 429 honouring ``Retry-After``, timeouts, connection
errors, truncated or unparsable JSON) with exponential backoff and jitter, creates runs without
orphans or duplicates (see :meth:`PlatformClient.create_run`), pages through bare-array list
responses lazily, and turns error statuses into the typed exceptions of
:mod:`napari_aignostics.platform.errors`.
"""

from __future__ import annotations

import functools
import logging
import random
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel

from . import models as m
from .auth import StaticTokenProvider, TokenProvider
from .errors import NotFoundError, PlatformError, TransportError, error_for_status
from .versions import semver_key

__all__ = ["SUBMISSION_KEY", "USER_AGENT", "PlatformClient", "retry_after", "submission_filter"]

log = logging.getLogger(__name__)

USER_AGENT = "napari-aignostics/0.1"
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
NOT_FOUND_GRACE_S = 5.0
MAX_RETRY_AFTER_S = 120.0
SUBMISSION_KEY = "napari_aignostics"
"""Namespace in a run's custom metadata holding this client's ``submission_id``."""
ModelT = TypeVar("ModelT", bound=BaseModel)
T = TypeVar("T")
Params = dict[str, Any]


def _clean(params: Params) -> Params:
    return {k: v for k, v in params.items() if v is not None and v != []}


def retry_after(response: httpx.Response) -> float | None:
    """Seconds a 429/503 asks the client to wait (``Retry-After``: seconds or a date), capped."""
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError):
            return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_S)


def submission_filter(submission_id: str) -> str:
    """The documented ``custom_metadata`` JSONPath matching runs stamped with ``submission_id``."""
    return f'$.{SUBMISSION_KEY}.submission_id ? (@ == "{submission_id}")'


class PlatformClient:
    """Typed access to every operation of the platform API v1.

    ``api_root`` is the host (``https://platform.aignostics.com`` or the local platform's
    ``http://127.0.0.1:PORT``); paths are ``<api_root>/api/v1/...``. ``token`` is a string or a
    callable returning one. ``transport`` lets tests inject faults (``httpx.MockTransport``).
    """

    def __init__(
        self,
        api_root: str,
        token: str | TokenProvider,
        *,
        timeout: float = 30.0,
        retries: int = 6,
        backoff: float = 0.25,
        max_backoff: float = 20.0,
        not_found_grace: float = NOT_FOUND_GRACE_S,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.api_root = api_root.rstrip("/")
        self.base_url = f"{self.api_root}/api/v1"
        self.token_provider: TokenProvider = (
            StaticTokenProvider(token) if isinstance(token, str) else token
        )
        self.retries = max(0, retries)
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.not_found_grace = not_found_grace
        self.sleep = sleep
        self._created: dict[str, float] = {}
        self.http = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            transport=transport,
            headers={"User-Agent": USER_AGENT},
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        return f"PlatformClient({self.api_root!r})"

    def __enter__(self) -> PlatformClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self.http.close()

    # --- transport --------------------------------------------------------------------------

    def retry_delay(self, attempt: int) -> float:
        """Exponential backoff with full jitter for retry number ``attempt`` (0-based)."""
        cap = min(self.max_backoff, self.backoff * (2**attempt))
        return random.uniform(cap / 2, cap)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        json: Any = None,
        expected: Sequence[int] = (200,),
    ) -> httpx.Response:
        """Send one API request (``path`` relative to ``/api/v1``); retried only if idempotent."""
        return self._send(method, path, params=params, json=json, expected=expected)[0]

    def call(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        json: Any = None,
        expected: Sequence[int] = (200,),
    ) -> Any:
        """Like :meth:`request`, returning the parsed JSON body; an unparsable body is retried."""
        return self._send(method, path, params=params, json=json, expected=expected, decode=True)[1]

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: Params | None,
        json: Any,
        expected: Sequence[int],
        decode: bool = False,
    ) -> tuple[httpx.Response, Any]:
        method = method.upper()
        url = f"{self.base_url}{path}"
        what = f"{method} /v1{path}"
        attempts = 1 + (self.retries if method in IDEMPOTENT else 0)
        last_error: Exception | None = None
        wait: float | None = None
        for attempt in range(attempts):
            if attempt:
                delay = wait if wait is not None else self.retry_delay(attempt - 1)
                log.info("retrying %s in %.2f s (%s)", what, delay, last_error)
                self.sleep(delay)
            wait = None
            headers = {"Authorization": f"Bearer {self.token_provider()}"}
            try:
                response = self.http.request(
                    method, url, params=_clean(params or {}), json=json, headers=headers
                )
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                last_error = exc
                continue
            if response.status_code in expected:
                if not decode:
                    return response, None
                try:
                    return response, response.json()
                except ValueError as exc:  # truncated or garbled body: like a lost answer
                    last_error = PlatformError(f"unparsable answer ({exc})")
                    if attempt + 1 < attempts:
                        continue
                    raise TransportError(  # no usable answer, like a reset
                        f"{what}: the platform's answer is not valid JSON ({exc}); try again later",
                        method=method,
                        url=path,
                    ) from None
            if response.status_code in RETRY_STATUSES and attempt + 1 < attempts:
                last_error = PlatformError(f"HTTP {response.status_code}")
                wait = retry_after(response)
                continue
            raise error_for_status(response.status_code, _body(response), method=method, url=path)
        raise TransportError(
            f"{what}: no answer from {self.api_root} after {attempts} attempts ({last_error})",
            method=method,
            url=path,
        )

    def _get_json(self, path: str, params: Params | None = None) -> Any:
        return self.call("GET", path, params=params)

    def _get(self, path: str, model: type[ModelT], params: Params | None = None) -> ModelT:
        return model.model_validate(self.call("GET", path, params=params))

    def paginate(
        self,
        path: str,
        model: type[ModelT],
        params: Params | None = None,
        *,
        page_size: int = 50,
        size_param: str = "page_size",
        limit: int | None = None,
        new_run_id: str | None = None,
    ) -> Iterator[ModelT]:
        """Lazily walk a bare-array list: page 1, 2, ... until a short or empty page."""
        page = 1
        count = 0
        while True:
            query = {**(params or {}), "page": page, size_param: page_size}
            if new_run_id and page == 1:
                fetch = functools.partial(self._get_json, path, query)
                entries = self._tolerating_new_run(new_run_id, fetch)
            else:
                entries = self._get_json(path, query)
            if not isinstance(entries, list):
                raise PlatformError(f"GET {path}: expected a list, got {type(entries).__name__}")
            for entry in entries:
                yield model.model_validate(entry)
                count += 1
                if limit is not None and count >= limit:
                    return
            if len(entries) < page_size:
                return
            page += 1

    # --- me, applications, versions ------------------------------------------------------------

    def me(self) -> m.MeReadResponse:
        """The caller and their organization (contains bucket secrets: never log it)."""
        return self._get("/me", m.MeReadResponse)

    def list_applications(
        self, *, sort: Sequence[str] | None = None, page_size: int = 50
    ) -> Iterator[m.ApplicationReadShortResponse]:
        """Applications available to the caller (note the ``page-size`` parameter here)."""
        return self.paginate(
            "/applications",
            m.ApplicationReadShortResponse,
            {"sort": list(sort or [])},
            page_size=page_size,
            size_param="page-size",
        )

    def application(self, application_id: str) -> m.ApplicationReadResponse:
        """One application with all versions available to the caller."""
        return self._get(f"/applications/{_seg(application_id)}", m.ApplicationReadResponse)

    def latest_version_number(self, application_id: str) -> str:
        """The highest semantic version of an application."""
        versions = [v.number for v in self.application(application_id).versions]
        if not versions:
            raise NotFoundError(f"application {application_id!r} has no version available to you")
        return max(versions, key=semver_key)

    def application_version(
        self, application_id: str, version: str | None = None
    ) -> m.VersionReadResponse:
        """Inputs and outputs (with JSON schemas) of a version (``None``: the latest)."""
        version = version or self.latest_version_number(application_id)
        return self._get(
            f"/applications/{_seg(application_id)}/versions/{_seg(version)}", m.VersionReadResponse
        )

    def list_version_documents(
        self, application_id: str, version: str
    ) -> list[m.VersionDocumentResponse]:
        """Public documents of a version."""
        path = f"/applications/{_seg(application_id)}/versions/{_seg(version)}/documents"
        return [m.VersionDocumentResponse.model_validate(d) for d in self.call("GET", path)]

    def version_document(
        self, application_id: str, version: str, name: str
    ) -> m.VersionDocumentResponse:
        """One document's description."""
        path = (
            f"/applications/{_seg(application_id)}/versions/{_seg(version)}/documents/{_seg(name)}"
        )
        return self._get(path, m.VersionDocumentResponse)

    def version_document_url(
        self, application_id: str, version: str, name: str, *, inline: bool = False
    ) -> str:
        """The signed URL of a document's bytes (``inline`` keeps its content type)."""
        path = (
            f"/applications/{_seg(application_id)}/versions/{_seg(version)}/documents/{_seg(name)}"
            f"/{'content' if inline else 'file'}"
        )
        return _location(self.request("GET", path, expected=(200, 302, 303, 307)))

    # --- runs ----------------------------------------------------------------------------------

    def create_run(self, request: m.RunCreationRequest, *, attempts: int = 6) -> str:
        """``POST /v1/runs`` without orphans or duplicates; the run's id.

        The run's custom metadata carries ``napari_aignostics.submission_id`` (added when
        missing). When the answer is lost (connection reset, timeout, 5xx, 429, truncated body),
        the client looks the run up by that id with the documented ``custom_metadata`` JSONPath
        filter and only submits again when no run carries it. Refusals (4xx) are final.
        """
        body = request.model_dump(mode="json", exclude_none=True)
        metadata = dict(body.get("custom_metadata") or {})
        stamp = dict(metadata.get(SUBMISSION_KEY) or {})
        submission_id = str(stamp.setdefault("submission_id", str(uuid.uuid4())))
        body["custom_metadata"] = {**metadata, SUBMISSION_KEY: stamp}
        last_error: Exception | None = None
        wait: float | None = None
        for attempt in range(max(1, attempts)):
            if attempt:
                self.sleep(wait if wait is not None else self.retry_delay(attempt - 1))
                found = self._lookup_lost(submission_id, last_error)
                if found is not None:
                    log.info("POST /v1/runs: the lost answer was run %s", found)
                    return self._note_created(found)
            wait = None
            try:
                response = self.http.post(
                    f"{self.base_url}/runs",
                    json=body,
                    headers={"Authorization": f"Bearer {self.token_provider()}"},
                )
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                last_error = exc
                continue
            if response.status_code in (200, 201):
                try:
                    run_id = m.RunCreationResponse.model_validate(response.json()).run_id
                except ValueError as exc:
                    last_error = PlatformError(f"unparsable answer ({exc})")
                    continue
                return self._note_created(run_id)
            if response.status_code not in RETRY_STATUSES:
                raise error_for_status(
                    response.status_code, _body(response), method="POST", url="/runs"
                )
            last_error = PlatformError(f"HTTP {response.status_code}")
            wait = retry_after(response)
        found = self._lookup_lost(submission_id, last_error)
        if found is not None:
            return self._note_created(found)
        raise TransportError(
            f"POST /v1/runs: no usable answer after {attempts} attempts ({last_error}); "
            "no run was created",
            method="POST",
            url="/runs",
        )

    def find_submission(self, submission_id: str) -> str | None:
        """The id of the run stamped with ``submission_id``, or None when there is none."""
        runs = list(self.list_runs(custom_metadata=submission_filter(submission_id), limit=1))
        return runs[0].run_id if runs else None

    def _lookup_lost(self, submission_id: str, cause: Exception | None) -> str | None:
        try:
            return self.find_submission(submission_id)
        except PlatformError as exc:
            raise TransportError(
                f"POST /v1/runs: the answer was lost ({cause}) and looking the run up failed "
                f"({exc}); it may exist: look for custom metadata "
                f"{SUBMISSION_KEY}.submission_id = {submission_id} (run list)",
                method="POST",
                url="/runs",
            ) from None

    def _note_created(self, run_id: str) -> str:
        self._created[run_id] = time.monotonic()
        return run_id

    def _tolerating_new_run(self, run_id: str, call: Callable[[], T]) -> T:
        """Call; a 404 within the grace period after this client created the run is retried."""
        while True:
            try:
                return call()
            except NotFoundError:
                created = self._created.get(run_id)
                if created is None or time.monotonic() - created > self.not_found_grace:
                    raise
                self.sleep(0.25)

    def run(self, run_id: str, *, share_token: str | None = None) -> m.RunReadResponse:
        """Run details."""
        return self._tolerating_new_run(
            run_id,
            lambda: self._get(
                f"/runs/{_seg(run_id)}", m.RunReadResponse, {"share_token": share_token}
            ),
        )

    def list_runs(
        self,
        *,
        application_id: str | None = None,
        application_version: str | None = None,
        external_id: str | None = None,
        custom_metadata: str | None = None,
        submitted_by: str | None = None,
        organization_id: str | None = None,
        for_organization: str | None = None,
        sort: Sequence[str] | None = None,
        page_size: int = 100,
        limit: int | None = None,
    ) -> Iterator[m.RunReadResponse]:
        """The caller's runs, filtered (``custom_metadata`` is a JSONPath) and sorted."""
        params = {
            "application_id": application_id,
            "application_version": application_version,
            "external_id": external_id,
            "custom_metadata": custom_metadata,
            "submitted_by": submitted_by,
            "organization_id": organization_id,
            "for_organization": for_organization,
            "sort": list(sort or []),
        }
        return self.paginate("/runs", m.RunReadResponse, params, page_size=page_size, limit=limit)

    def list_items(
        self,
        run_id: str,
        *,
        external_ids: Sequence[str] | None = None,
        item_ids: Sequence[str] | None = None,
        state: m.ItemState | str | None = None,
        termination_reason: m.ItemTerminationReason | str | None = None,
        custom_metadata: str | None = None,
        sort: Sequence[str] | None = None,
        share_token: str | None = None,
        page_size: int = 100,
    ) -> Iterator[m.ItemResultReadResponse]:
        """Items of a run with their artifacts, filtered and sorted."""
        params = {
            "external_id__in": list(external_ids or []),
            "item_id__in": list(item_ids or []),
            "state": str(state) if state else None,
            "termination_reason": str(termination_reason) if termination_reason else None,
            "custom_metadata": custom_metadata,
            "sort": list(sort or []),
            "share_token": share_token,
        }
        path = f"/runs/{_seg(run_id)}/items"
        return self.paginate(
            path, m.ItemResultReadResponse, params, page_size=page_size, new_run_id=run_id
        )

    def item(
        self, run_id: str, external_id: str, *, share_token: str | None = None
    ) -> m.ItemResultReadResponse:
        """One item of a run by its external id."""
        path = f"/runs/{_seg(run_id)}/items/{_seg(external_id)}"
        return self._tolerating_new_run(
            run_id,
            lambda: self._get(path, m.ItemResultReadResponse, {"share_token": share_token}),
        )

    def cancel_run(self, run_id: str) -> None:
        """Cancel a run (409 if it is already cancelled or terminated)."""
        self.request("POST", f"/runs/{_seg(run_id)}/cancel", expected=(200, 202, 204))

    def delete_artifacts(self, run_id: str) -> None:
        """Delete all result artifacts of a terminated run (409 before, 410 if already deleted)."""
        self.request("DELETE", f"/runs/{_seg(run_id)}/artifacts", expected=(200, 202, 204))

    def artifact_url(self, run_id: str, artifact_id: str, *, share_token: str | None = None) -> str:
        """The short-lived signed URL of an output artifact (the ``Location`` of the 307)."""
        response = self.request(
            "GET",
            f"/runs/{_seg(run_id)}/artifacts/{_seg(artifact_id)}/file",
            params={"share_token": share_token},
            expected=(200, 302, 303, 307),
        )
        return _location(response)

    def update_run_custom_metadata(
        self, run_id: str, custom_metadata: dict[str, Any] | None, *, checksum: str | None = None
    ) -> str | None:
        """Replace a run's custom metadata; with ``checksum`` a concurrent change raises 412."""
        body = m.CustomMetadataUpdateRequest(
            custom_metadata=custom_metadata, custom_metadata_checksum=checksum
        )
        response = self.call(
            "PUT", f"/runs/{_seg(run_id)}/custom-metadata", json=body.model_dump(mode="json")
        )
        return m.CustomMetadataUpdateResponse.model_validate(response).custom_metadata_checksum

    def update_item_custom_metadata(
        self,
        run_id: str,
        external_id: str,
        custom_metadata: dict[str, Any] | None,
        *,
        checksum: str | None = None,
    ) -> str | None:
        """Replace an item's custom metadata; with ``checksum`` a concurrent change raises 412."""
        body = m.CustomMetadataUpdateRequest(
            custom_metadata=custom_metadata, custom_metadata_checksum=checksum
        )
        response = self.call(
            "PUT",
            f"/runs/{_seg(run_id)}/items/{_seg(external_id)}/custom-metadata",
            json=body.model_dump(mode="json"),
        )
        return m.CustomMetadataUpdateResponse.model_validate(response).custom_metadata_checksum

    # --- access: grants and share tokens ---------------------------------------------------------

    def create_grant(self, request: m.GrantCreateRequest) -> m.GrantReadResponse:
        """Grant a subject (user, organization or share token) viewer access to a resource."""
        response = self.request(
            "POST", "/access/grants", json=request.model_dump(mode="json"), expected=(200, 201)
        )
        return m.GrantReadResponse.model_validate(response.json())

    def list_grants(
        self,
        *,
        resource_type: m.ResourceType | str | None = None,
        resource_id: str | None = None,
        subject_type: m.SubjectType | str | None = None,
        subject_id: str | None = None,
        relations: Sequence[m.GrantRelation | str] | None = None,
        revoked: bool | None = None,
        sort: Sequence[str] | None = None,
        page_size: int = 100,
    ) -> Iterator[m.GrantReadResponse]:
        """Grants visible to the caller."""
        params = {
            "resource_type": str(resource_type) if resource_type else None,
            "resource_id": resource_id,
            "subject_type": str(subject_type) if subject_type else None,
            "subject_id": subject_id,
            "relation": [str(r) for r in relations or []],
            "revoked": None if revoked is None else str(revoked).lower(),
            "sort": list(sort or []),
        }
        return self.paginate("/access/grants", m.GrantReadResponse, params, page_size=page_size)

    def grant(self, grant_id: str) -> m.GrantReadResponse:
        """One grant."""
        return self._get(f"/access/grants/{_seg(grant_id)}", m.GrantReadResponse)

    def revoke_grant(self, grant_id: str) -> m.GrantReadResponse:
        """Revoke a grant (409 if already revoked)."""
        return m.GrantReadResponse.model_validate(
            self.call("DELETE", f"/access/grants/{_seg(grant_id)}")
        )

    def create_share_token(self, expires_at: Any = None) -> m.ShareTokenCreateResponse:
        """A new share token; its secret is only in this answer."""
        body = m.ShareTokenCreateRequest(expires_at=expires_at).model_dump(mode="json")
        response = self.request("POST", "/access/share-tokens", json=body, expected=(200, 201))
        return m.ShareTokenCreateResponse.model_validate(response.json())

    def list_share_tokens(
        self,
        *,
        run_id: str | None = None,
        created_by: str | None = None,
        revoked: bool | None = None,
        sort: Sequence[str] | None = None,
        page_size: int = 100,
    ) -> Iterator[m.ShareTokenReadResponse]:
        """Share tokens visible to the caller (without their secrets)."""
        params = {
            "run_id": run_id,
            "created_by": created_by,
            "revoked": None if revoked is None else str(revoked).lower(),
            "sort": list(sort or []),
        }
        return self.paginate(
            "/access/share-tokens", m.ShareTokenReadResponse, params, page_size=page_size
        )

    def share_token(self, share_token_id: str) -> m.ShareTokenReadResponse:
        """One share token (without its secret)."""
        return self._get(f"/access/share-tokens/{_seg(share_token_id)}", m.ShareTokenReadResponse)

    def revoke_share_token(self, share_token_id: str) -> m.ShareTokenReadResponse:
        """Revoke a share token."""
        return m.ShareTokenReadResponse.model_validate(
            self.call("DELETE", f"/access/share-tokens/{_seg(share_token_id)}")
        )


def _seg(value: str) -> str:
    """A path segment, percent-encoded (ids and external ids are untrusted)."""
    from urllib.parse import quote

    return quote(str(value), safe="")


def _body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text.strip()[:500]


def _location(response: httpx.Response) -> str:
    if response.status_code == 200:
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and isinstance(body.get("url") or body.get("location"), str):
            return str(body.get("url") or body.get("location"))
        raise PlatformError("the platform answered without a redirect to the file")
    location = response.headers.get("location")
    if not location:
        raise PlatformError(f"HTTP {response.status_code} redirect without a Location header")
    return str(response.url.join(location))
