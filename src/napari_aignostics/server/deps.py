"""Request dependencies: the platform, the authenticated caller, paging and sorting."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, HTTPException, Query, Request

from .service import Platform

__all__ = [
    "Caller",
    "Page",
    "PlatformDep",
    "authentication_error",
    "bearer_user",
    "current_user",
    "get_platform",
    "order_by",
    "page_window",
    "problem",
]


def get_platform(request: Request) -> Platform:
    """The platform this app serves."""
    platform: Platform = request.app.state.platform
    return platform


PlatformDep = Annotated[Platform, Depends(get_platform)]


def bearer_user(platform: Platform, header: str) -> dict[str, Any] | None:
    """The user of an ``Authorization: Bearer`` header value, or None."""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return platform.store.user_for_token(token.strip())


def authentication_error(header: str) -> HTTPException:
    """The 401 for a missing or invalid bearer token."""
    missing = not header.partition(" ")[2].strip() or not header.lower().startswith("bearer ")
    detail = "Jwt is missing" if missing else "the bearer token is not valid or expired"
    return HTTPException(401, detail, headers={"WWW-Authenticate": "Bearer"})


def current_user(request: Request, platform: PlatformDep) -> dict[str, Any]:
    """The user of the bearer token; 401 otherwise."""
    header = request.headers.get("authorization", "")
    user = bearer_user(platform, header)
    if user is None:
        raise authentication_error(header)
    return user


Caller = Annotated[dict[str, Any], Depends(current_user)]


class Page:
    """``page`` and ``page_size`` query parameters (5..100)."""

    def __init__(
        self,
        page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
        page_size: Annotated[int, Query(ge=5, le=100)] = 50,
    ) -> None:
        self.page = page
        self.page_size = page_size


def page_window(page: int, page_size: int) -> tuple[int, int]:
    """SQL LIMIT and OFFSET."""
    return page_size, (page - 1) * page_size


def problem(
    status: int, loc: list[str | int], msg: str, kind: str = "value_error"
) -> HTTPException:
    """An error with a FastAPI-style validation detail list."""
    return HTTPException(status, [{"loc": loc, "msg": msg, "type": kind}])


def order_by(sort: list[str] | None, allowed: dict[str, str], default: str) -> str:
    """An ``ORDER BY`` clause from ``+field``/``-field`` values; unknown fields are a 422."""
    clauses = []
    for index, raw in enumerate(sort or []):
        value = raw.strip()
        direction = "DESC" if value.startswith("-") else "ASC"
        name = value.lstrip("+-").strip()
        if name not in allowed:
            raise problem(
                422,
                ["query", "sort", index],
                f"cannot sort by {name!r}; sortable fields: {', '.join(sorted(allowed))}",
            )
        clauses.append(f"{allowed[name]} {direction}")
    clauses.append(default)
    return " ORDER BY " + ", ".join(clauses)
