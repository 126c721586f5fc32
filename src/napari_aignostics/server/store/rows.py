"""Typed rows of the local platform's tables, as the store returns them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from functools import cache
from typing import Any, TypeAlias, TypeVar

__all__ = [
    "DeviceCodeRow",
    "GrantRow",
    "InputArtifactRow",
    "ItemRow",
    "ItemWithArtifacts",
    "JsonPredicate",
    "JsonValue",
    "OrgRow",
    "OutputArtifactRow",
    "ProducedOutput",
    "QueuedItem",
    "RunRow",
    "ShareTokenRow",
    "SortKey",
    "UserRow",
    "Window",
    "row_of",
]

JsonValue: TypeAlias = Any
"""A decoded JSON column (custom metadata, artifact metadata): any JSON value."""
JsonPredicate: TypeAlias = Callable[[JsonValue], bool]
"""A compiled ``custom_metadata`` filter, applied to rows in Python."""
SortKey: TypeAlias = tuple[str, bool]
"""A column (from a route's whitelist) and whether it sorts descending."""
Window: TypeAlias = tuple[int, int]
"""SQL ``LIMIT`` and ``OFFSET``."""

RowT = TypeVar("RowT")


def row_of(kind: type[RowT], values: dict[str, object] | None) -> RowT | None:
    """A database row (column name to value) as ``kind``; None stays None."""
    if values is None:
        return None
    names = _field_names(kind)  # type: ignore[arg-type]  # a class is hashable
    return kind(**{k: v for k, v in values.items() if k in names})


@cache
def _field_names(kind: type) -> frozenset[str]:
    return frozenset(f.name for f in fields(kind))


@dataclass(frozen=True)
class OrgRow:
    """An organization with its bucket credentials and quotas."""

    id: str
    name: str
    bucket_name: str
    hmac_key_id: str
    hmac_secret: str = field(repr=False)
    quota_slides_per_run: int | None = None
    quota_slides_per_month: int | None = None
    quota_parallel_runs: int | None = None
    quota_object_bytes: int | None = None


@dataclass(frozen=True)
class UserRow:
    """A user of an organization: the identity of an authenticated caller."""

    id: str
    org_id: str
    email: str | None
    name: str | None
    role: str
    quota_slides_per_month: int | None = None

    @property
    def is_admin(self) -> bool:
        """An admin of its organization."""
        return self.role == "admin"


@dataclass(frozen=True)
class RunRow:
    """A run."""

    seq: int
    id: str
    application_id: str
    version_number: str
    user_id: str
    org_id: str
    state: str
    termination_reason: str | None
    error_code: str | None
    error_message: str | None
    custom_metadata: JsonValue
    custom_metadata_checksum: str | None
    submitted_at: str
    terminated_at: str | None
    terminated_epoch: float | None
    due_date: str | None
    deadline: str | None
    callback_context: JsonValue


@dataclass(frozen=True)
class ItemRow:
    """An item (one slide) of a run."""

    seq: int
    id: str
    run_id: str
    external_id: str
    custom_metadata: JsonValue
    custom_metadata_checksum: str | None
    state: str
    termination_reason: str | None
    error_code: str | None
    error_message: str | None
    terminated_at: str | None
    attempts: int


@dataclass(frozen=True)
class InputArtifactRow:
    """An item's input: its signed URL and metadata."""

    id: str
    item_id: str
    name: str
    download_url: str
    metadata: JsonValue


@dataclass(frozen=True)
class OutputArtifactRow:
    """An item's output artifact and, once available, its stored file."""

    seq: int
    id: str
    item_id: str
    run_id: str
    name: str
    state: str
    termination_reason: str | None
    output: str
    metadata: JsonValue
    error_code: str | None
    error_message: str | None
    object_path: str | None
    size: int | None


@dataclass(frozen=True)
class ItemWithArtifacts:
    """An item with its input and output artifacts (in creation order)."""

    item: ItemRow
    inputs: list[InputArtifactRow]
    outputs: list[OutputArtifactRow]


@dataclass(frozen=True)
class QueuedItem:
    """A pending item as the scheduler sees it."""

    id: str
    run_id: str
    user_id: str


@dataclass(frozen=True)
class GrantRow:
    """A viewer grant on a resource."""

    id: str
    resource_type: str
    resource_id: str
    subject_type: str
    subject_id: str
    relation: str
    created_by: str
    created_at: str
    revoked: int


@dataclass(frozen=True)
class ShareTokenRow:
    """A share token (its secret only as a hash)."""

    id: str
    token_hash: str
    created_by: str
    created_at: str
    expires_at: str | None
    revoked: int


@dataclass(frozen=True)
class DeviceCodeRow:
    """A pending device login (RFC 8628)."""

    device_code_hash: str
    user_code: str
    client_id: str | None
    expires_at: float
    interval: float
    approved_user: str | None
    denied: int
    last_poll: float


@dataclass
class ProducedOutput:
    """An output artifact file stored in the object store."""

    name: str
    object_path: str
    size: int
    metadata: dict[str, JsonValue]
