"""Request dependencies: the platform, its worker, the authenticated caller, paging and sorting."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import Depends, HTTPException, Path, Query, Request
from pydantic import AfterValidator

from .service import Platform
from .store.rows import SortKey, UserRow
from .worker import Worker

__all__ = [
    "SHARE_TOKEN_PARAMETER",
    "VALIDATION_ERROR_RESPONSE",
    "Caller",
    "Page",
    "PageDep",
    "PlatformDep",
    "UuidPath",
    "WorkerDep",
    "authentication_error",
    "bearer_user",
    "current_caller",
    "get_platform",
    "get_worker",
    "order_by",
    "paging",
    "problem",
    "uuid_path_parameter",
    "uuid_path_value",
]


# Dependencies are coroutines: FastAPI runs a plain function in a worker thread, and each such
# hop costs more than the whole answer of a small read.


async def get_platform(request: Request) -> Platform:
    """The platform this app serves."""
    platform: Platform = request.app.state.platform
    return platform


PlatformDep = Annotated[Platform, Depends(get_platform)]


async def get_worker(request: Request) -> Worker:
    """The worker scheduling this platform's items (to wake it after a submit or a cancel)."""
    worker: Worker = request.app.state.worker
    return worker


WorkerDep = Annotated[Worker, Depends(get_worker)]


def bearer_user(platform: Platform, header: str) -> UserRow | None:
    """The user of an ``Authorization: Bearer`` header value (a JWT or a local token), or None."""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return platform.user_for_bearer(token.strip())


def authentication_error(header: str) -> HTTPException:
    """A 401 as the real API's gateway sends it: a plain-text reason and a Bearer challenge."""
    scheme, _, token = header.partition(" ")
    missing = scheme.lower() != "bearer" or not token.strip()
    message = "Jwt is missing" if missing else "Jwt verification fails"
    return HTTPException(401, message, headers={"WWW-Authenticate": 'Bearer realm="api"'})


async def current_caller(request: Request) -> UserRow:
    """The user of the bearer token; 401 otherwise.

    In the event loop: a token check is one indexed SQLite read (a JWT's signature is verified
    once, then remembered until it expires), cheaper than a thread hop. The platform is taken from
    the app directly: a sub-dependency would cost every route another dependency resolution.
    """
    header = request.headers.get("authorization", "")
    user = bearer_user(request.app.state.platform, header)
    if user is None:
        raise authentication_error(header)
    return user


Caller = Annotated[UserRow, Depends(current_caller)]
"""The authenticated caller of a route."""


def _canonical_uuid(value: str) -> str:
    try:
        return str(UUID(value))
    except ValueError:
        raise ValueError(f"{value[:60]!r} is not a UUID") from None


UuidPath = Annotated[
    str, Path(json_schema_extra={"format": "uuid"}), AfterValidator(_canonical_uuid)
]
"""A path id in UUID form: malformed ones are a 422, as the contract declares ``format: uuid``."""


def uuid_path_value(request: Request, name: str) -> str:
    """The canonical form of a UUID path parameter read by hand; a 422 as :data:`UuidPath` gives."""
    value: str = request.path_params[name]
    try:
        return _canonical_uuid(value)
    except ValueError as exc:
        raise problem(422, ["path", name], f"Value error, {exc}") from None


def uuid_path_parameter(name: str) -> dict[str, object]:
    """The OpenAPI declaration of a UUID path parameter read with :func:`uuid_path_value`."""
    return {"name": name, "in": "path", "required": True,
            "schema": {"type": "string", "format": "uuid", "title": name.replace("_", " ").title()}}


SHARE_TOKEN_PARAMETER: dict[str, object] = {
    "name": "share_token", "in": "query", "required": False,
    "schema": {"anyOf": [{"type": "string"}, {"type": "null"}], "title": "Share Token"},
}
"""The OpenAPI declaration of the optional ``share_token`` query parameter of read routes."""

VALIDATION_ERROR_RESPONSE: dict[str, object] = {
    "description": "Validation Error",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/HTTPValidationError"}}},
}
"""The 422 FastAPI documents for declared parameters, for a route that reads them by hand."""


class Page:
    """``page`` and ``page_size`` query parameters (5..100)."""

    def __init__(self, page: int = 1, page_size: int = 50) -> None:
        self.page = page
        self.page_size = page_size

    @property
    def window(self) -> tuple[int, int]:
        """LIMIT and OFFSET (a page far past the end is empty, never an integer overflow)."""
        return self.page_size, min((self.page - 1) * self.page_size, 2**62)


async def paging(
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=5, le=100)] = 50,
) -> Page:
    """The :class:`Page` of a list route's query."""
    return Page(page, page_size)


PageDep = Annotated[Page, Depends(paging)]


def problem(
    status: int, loc: list[str | int], msg: str, kind: str = "value_error"
) -> HTTPException:
    """An error with a FastAPI-style validation detail list."""
    return HTTPException(status, [{"loc": loc, "msg": msg, "type": kind}])


def order_by(sort: list[str] | None, allowed: dict[str, str]) -> list[SortKey]:
    """Sort keys (column, descending) from ``+field``/``-field`` values; unknown fields: 422."""
    keys: list[SortKey] = []
    for index, raw in enumerate(sort or []):
        value = raw.strip()
        if not value:  # ``?sort=`` (an empty value) asks for no particular order
            continue
        name = value.lstrip("+-").strip()
        if name not in allowed:
            raise problem(
                422,
                ["query", "sort", index],
                f"cannot sort by {name!r}; sortable fields: {', '.join(sorted(allowed))}",
            )
        keys.append((allowed[name], value.startswith("-")))
    return keys
