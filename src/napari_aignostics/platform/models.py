"""Pydantic v2 models for every component schema of the Aignostics Platform API v1.

Names, field names and enum values are those of the published OpenAPI contract, so the client and
the local platform share one definition. Response models tolerate unknown fields
(``extra="allow"``), and so do request models (``extra="ignore"``: the published schemas allow
extra properties). Dates a request sets must be ISO 8601 strings (or datetimes) in the future.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any
from urllib.parse import urlsplit
from uuid import UUID

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

__all__ = [
    "ApplicationReadResponse",
    "ApplicationReadShortResponse",
    "ApplicationVersion",
    "ArtifactOutput",
    "ArtifactState",
    "ArtifactTerminationReason",
    "CustomMetadataUpdateRequest",
    "CustomMetadataUpdateResponse",
    "GrantCreateRequest",
    "GrantReadResponse",
    "GrantRelation",
    "HTTPValidationError",
    "InputArtifact",
    "InputArtifactCreationRequest",
    "InputArtifactResultReadResponse",
    "ItemCreationRequest",
    "ItemOutput",
    "ItemResultReadResponse",
    "ItemState",
    "ItemTerminationReason",
    "MeReadResponse",
    "OrganizationReadResponse",
    "OutputArtifact",
    "OutputArtifactResultReadResponse",
    "OutputArtifactScope",
    "OutputArtifactVisibility",
    "ResourceType",
    "RunCreationRequest",
    "RunCreationResponse",
    "RunItemStatistics",
    "RunOutput",
    "RunReadResponse",
    "RunState",
    "RunTerminationReason",
    "SchedulingRequest",
    "SchedulingResponse",
    "ShareTokenCreateRequest",
    "ShareTokenCreateResponse",
    "ShareTokenReadResponse",
    "SubjectType",
    "UserReadResponse",
    "ValidationError",
    "VersionDocumentResponse",
    "VersionDocumentVisibility",
    "VersionReadResponse",
]

SEMVER_PATTERN = (
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)
MIME_PATTERN = r"^\w+\/\w+[-+.|\w+]+\w+$"
CALLBACK_CONTEXT_MAX_BYTES = 1024


def _check_uri(value: str) -> str:
    parts = urlsplit(value)
    if not parts.scheme or not (parts.netloc or parts.path):
        raise ValueError(f"not an absolute URI: {value[:80]!r}")
    return value


# Kept as a plain string (never normalised): signed URLs must stay byte-identical.
Uri = Annotated[str, StringConstraints(min_length=1, max_length=2083), AfterValidator(_check_uri)]
JsonObject = dict[str, Any]


def _date_text(value: Any) -> Any:
    if isinstance(value, str | datetime):
        return value
    raise ValueError("must be an ISO 8601 date-time string such as 2030-01-31T12:00:00Z")


def _in_future(value: datetime) -> datetime:
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    if aware <= datetime.now(UTC):
        raise ValueError(f"must be in the future; {aware.isoformat()} has passed")
    return aware


FutureDateTime = Annotated[datetime, BeforeValidator(_date_text), AfterValidator(_in_future)]
"""A date-time a request sets (deadline, expiry): a real ISO 8601 date, later than now."""


class _Response(BaseModel):
    """Base of response models: unknown fields are kept, never rejected."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


class _Request(BaseModel):
    """Base of request models: unknown fields are accepted and ignored, as the contract allows."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)


# --- enums -------------------------------------------------------------------------------------


class ArtifactOutput(StrEnum):
    NONE = "NONE"
    AVAILABLE = "AVAILABLE"
    DELETED_BY_USER = "DELETED_BY_USER"
    DELETED_BY_SYSTEM = "DELETED_BY_SYSTEM"


class ArtifactState(StrEnum):
    PENDING = "PENDING"
    PROCESSING = "PROCESSING"
    TERMINATED = "TERMINATED"


class ArtifactTerminationReason(StrEnum):
    SUCCEEDED = "SUCCEEDED"
    USER_ERROR = "USER_ERROR"
    SYSTEM_ERROR = "SYSTEM_ERROR"
    SKIPPED = "SKIPPED"


class GrantRelation(StrEnum):
    OWNER = "owner"
    EDITOR = "editor"
    VIEWER = "viewer"


class ItemOutput(StrEnum):
    NONE = "NONE"
    FULL = "FULL"


class ItemState(StrEnum):
    PENDING = "PENDING"
    PROCESSING = "PROCESSING"
    TERMINATED = "TERMINATED"


class ItemTerminationReason(StrEnum):
    SUCCEEDED = "SUCCEEDED"
    USER_ERROR = "USER_ERROR"
    SYSTEM_ERROR = "SYSTEM_ERROR"
    SKIPPED = "SKIPPED"


class OutputArtifactScope(StrEnum):
    ITEM = "ITEM"
    GLOBAL = "GLOBAL"


class OutputArtifactVisibility(StrEnum):
    INTERNAL = "INTERNAL"
    EXTERNAL = "EXTERNAL"


class ResourceType(StrEnum):
    RUN = "run"
    ITEM = "item"
    OUTPUT_ARTIFACT = "output_artifact"
    SHARE_TOKEN = "share_token"


class RunOutput(StrEnum):
    NONE = "NONE"
    PARTIAL = "PARTIAL"
    FULL = "FULL"


class RunState(StrEnum):
    PENDING = "PENDING"
    PROCESSING = "PROCESSING"
    TERMINATED = "TERMINATED"


class RunTerminationReason(StrEnum):
    ALL_ITEMS_PROCESSED = "ALL_ITEMS_PROCESSED"
    CANCELED_BY_SYSTEM = "CANCELED_BY_SYSTEM"
    CANCELED_BY_USER = "CANCELED_BY_USER"


class SubjectType(StrEnum):
    USER = "user"
    ORGANIZATION_ADMIN = "organization_admin"
    ORGANIZATION_USER = "organization_user"
    SHARE_TOKEN = "share_token"


class VersionDocumentVisibility(StrEnum):
    PUBLIC = "public"
    INTERNAL = "internal"


# --- applications and versions -----------------------------------------------------------------


class ApplicationVersion(_Response):
    """A version number of an application and when it was released."""

    number: str
    released_at: datetime


class ApplicationReadResponse(_Response):
    """An application with all versions available to the caller."""

    application_id: str
    name: str
    regulatory_classes: list[str]
    description: str
    versions: list[ApplicationVersion]


class ApplicationReadShortResponse(_Response):
    """An application in the list, with its latest version."""

    application_id: str
    name: str
    regulatory_classes: list[str]
    description: str
    latest_version: ApplicationVersion | None = None


class InputArtifact(_Response):
    """An input an application version expects, with the JSON schema of its metadata."""

    name: str
    mime_type: str
    metadata_schema: JsonObject


class OutputArtifact(_Response):
    """An output an application version produces."""

    name: str
    mime_type: str
    metadata_schema: JsonObject
    scope: OutputArtifactScope
    visibility: OutputArtifactVisibility


class VersionReadResponse(_Response):
    """Details of one application version: its inputs and outputs."""

    version_number: str
    changelog: str
    input_artifacts: list[InputArtifact]
    output_artifacts: list[OutputArtifact]
    released_at: datetime


class VersionDocumentResponse(_Response):
    """A document attached to an application version."""

    id: str
    name: str
    mime_type: str
    visibility: VersionDocumentVisibility
    created_at: datetime
    updated_at: datetime


# --- runs and items ----------------------------------------------------------------------------


class SchedulingRequest(_Request):
    """Optional due date (soft target) and deadline (hard, the run is cancelled after it)."""

    due_date: FutureDateTime | None = None
    deadline: FutureDateTime | None = None


class SchedulingResponse(_Response):
    """Scheduling constraints returned with a run."""

    due_date: datetime | None = None
    deadline: datetime | None = None


class InputArtifactCreationRequest(_Request):
    """One input artifact of an item: its name, a signed download URL and its metadata."""

    name: str
    download_url: Uri
    metadata: JsonObject


class ItemCreationRequest(_Request):
    """One item (slide) of a run."""

    external_id: Annotated[str, StringConstraints(max_length=255)]
    custom_metadata: JsonObject | None = None
    input_artifacts: list[InputArtifactCreationRequest]


class RunCreationRequest(_Request):
    """Body of ``POST /v1/runs``."""

    application_id: str
    version_number: str | None = None
    custom_metadata: JsonObject | None = None
    scheduling: SchedulingRequest | None = None
    callback_context: JsonObject | None = None
    items: list[ItemCreationRequest] = Field(min_length=1)

    @field_validator("callback_context")
    @classmethod
    def _callback_context_size(cls, value: JsonObject | None) -> JsonObject | None:
        if value is not None:
            size = len(json.dumps(value, separators=(",", ":")).encode())
            if size > CALLBACK_CONTEXT_MAX_BYTES:
                raise ValueError(
                    f"callback_context is {size} bytes, at most {CALLBACK_CONTEXT_MAX_BYTES}"
                )
        return value


class RunCreationResponse(_Response):
    """Answer to ``POST /v1/runs``."""

    run_id: str


class RunItemStatistics(_Response):
    """Counts of a run's items by state and termination reason."""

    item_count: int
    item_pending_count: int
    item_processing_count: int
    item_user_error_count: int
    item_system_error_count: int
    item_skipped_count: int
    item_succeeded_count: int


class RunReadResponse(_Response):
    """A run: state, output, statistics, custom metadata and scheduling."""

    run_id: str
    application_id: str
    version_number: str
    state: RunState
    output: RunOutput
    termination_reason: RunTerminationReason | None
    error_code: str | None
    error_message: str | None
    statistics: RunItemStatistics
    custom_metadata: JsonObject | None = None
    custom_metadata_checksum: str | None = None
    submitted_at: datetime
    submitted_by: str
    organization_id: str | None = None
    terminated_at: datetime | None = None
    num_preceding_items_org: int | None = None
    num_preceding_items_platform: int | None = None
    scheduling: SchedulingResponse | None = None


class InputArtifactResultReadResponse(_Response):
    """An input artifact of an item as the user provided it."""

    input_artifact_id: str
    name: str
    metadata: JsonObject | None = None
    download_url: str | None = None


class OutputArtifactResultReadResponse(_Response):
    """An output artifact of an item: state, availability and metadata (checksum, media type)."""

    output_artifact_id: str
    name: str
    metadata: JsonObject | None = None
    state: ArtifactState
    termination_reason: ArtifactTerminationReason | None = None
    output: ArtifactOutput
    error_code: str | None = None
    error_message: str | None = None
    download_url: str | None = None


class ItemResultReadResponse(_Response):
    """An item of a run with its state and artifacts."""

    item_id: str
    external_id: str
    custom_metadata: JsonObject | None
    custom_metadata_checksum: str | None = None
    queue_position_org: int | None = None
    queue_position_platform: int | None = None
    state: ItemState
    output: ItemOutput
    termination_reason: ItemTerminationReason | None = None
    error_code: str | None = None
    error_message: str | None = None
    terminated_at: datetime | None = None
    input_artifacts: list[InputArtifactResultReadResponse]
    output_artifacts: list[OutputArtifactResultReadResponse]


class CustomMetadataUpdateRequest(_Request):
    """Body of the custom-metadata ``PUT``; the checksum guards against lost updates (412)."""

    custom_metadata: JsonObject | None = None
    custom_metadata_checksum: str | None = None


class CustomMetadataUpdateResponse(_Response):
    """Checksum of the custom metadata after an update."""

    custom_metadata_checksum: str | None


# --- me ----------------------------------------------------------------------------------------


class UserReadResponse(_Response):
    """The calling user."""

    id: str
    email: str | None = None
    email_verified: bool | None = None
    name: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    nickname: str | None = None
    picture: str | None = None
    updated_at: datetime | None = None


class OrganizationReadResponse(_Response):
    """The caller's organization, including the bucket credentials used for uploads (secret!)."""

    id: str
    name: str | None = None
    display_name: str | None = None
    aignostics_bucket_hmac_access_key_id: str
    aignostics_bucket_hmac_secret_access_key: str = Field(repr=False)
    aignostics_bucket_name: str
    aignostics_bucket_protocol: str
    aignostics_logfire_token: str = Field(repr=False)
    aignostics_sentry_dsn: str = Field(repr=False)


class MeReadResponse(_Response):
    """Answer to ``GET /v1/me``."""

    user: UserReadResponse
    organization: OrganizationReadResponse


# --- access: grants and share tokens -----------------------------------------------------------


class GrantCreateRequest(_Request):
    """Grant a subject a relation on a resource."""

    resource_type: ResourceType
    resource_id: UUID
    subject_type: SubjectType
    subject_id: str | None = None
    subject_email: str | None = None
    relation: GrantRelation


class GrantReadResponse(_Response):
    """A grant."""

    grant_id: str
    resource_type: ResourceType
    resource_id: str
    subject_type: SubjectType
    subject_id: str
    relation: GrantRelation
    created_by: str
    created_at: datetime
    revoked: bool


class ShareTokenCreateRequest(_Request):
    """Create a share token, optionally expiring."""

    expires_at: FutureDateTime | None = None


class ShareTokenCreateResponse(_Response):
    """A new share token; the only time the token itself is returned."""

    share_token_id: str
    share_token: str = Field(repr=False)
    created_at: datetime
    expires_at: datetime | None
    revoked: bool


class ShareTokenReadResponse(_Response):
    """A share token without its secret."""

    share_token_id: str
    created_at: datetime
    expires_at: datetime | None
    revoked: bool


# --- validation errors -------------------------------------------------------------------------


class ValidationError(_Response):
    """One validation problem (FastAPI style)."""

    loc: list[str | int]
    msg: str
    type: str
    input: Any = None
    ctx: JsonObject | None = None


class HTTPValidationError(_Response):
    """A 422 body: a list of validation problems."""

    detail: list[ValidationError] = Field(default_factory=list)
