"""The FastAPI application of the local platform."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..apps.base import ApplicationSpec
from .guard import RequestGuard
from .lifecycle import recover
from .openapi_errors import document_errors
from .routes import ROUTERS, add_poll_route
from .service import Platform
from .settings import ServerSettings
from .worker import Executor, Worker

__all__ = ["create_app"]

log = logging.getLogger(__name__)


def create_app(
    settings: ServerSettings,
    applications: list[ApplicationSpec] | None = None,
    *,
    executor: Executor | None = None,
    builtin: bool = True,
) -> FastAPI:
    """The app with its platform (``app.state.platform``) and worker (``app.state.worker``)."""
    apps: list[ApplicationSpec] = []
    if builtin:
        from ..apps.registry import builtin_applications

        apps.extend(builtin_applications())
    apps.extend(applications or [])
    platform = Platform(settings, apps)
    worker = Worker(platform, executor)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        recover(platform.store, settings, platform.objects.work)
        worker.start()
        try:
            yield
        finally:
            worker.stop()
            platform.close()

    app = FastAPI(
        title="Aignostics Platform API (local)",
        version="1.8.0",
        description="The Aignostics Platform API v1, served on this computer by napari-aignostics.",
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.platform = platform
    app.add_middleware(RequestGuard, platform=platform)
    app.state.worker = worker

    # FastAPI matches a request against the routes in order (an included router's routes one by
    # one, twice for the router that matches): the small answers polled most come first.
    @app.get("/health", include_in_schema=False)
    async def health() -> dict[str, str]:
        return {"status": "UP"}

    add_poll_route(app)
    for router in ROUTERS:
        app.include_router(router)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_errors(
                get_openapi(
                    title=app.title,
                    version=app.version,
                    description=app.description,
                    routes=app.routes,
                )
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 400 and exc.detail == "There was an error parsing the body":
            detail = [
                {"loc": ["body"], "msg": "the body is not valid JSON", "type": "json_invalid"}
            ]
            return JSONResponse({"detail": detail}, status_code=422)
        if exc.status_code == 401:
            return PlainTextResponse(str(exc.detail), status_code=401, headers=exc.headers)
        if exc.status_code == 405:
            allowed = _allowed_methods(app, request)
            return JSONResponse(
                {"detail": "Method Not Allowed"}, status_code=405, headers={"Allow": allowed}
            )
        return await http_exception_handler(request, exc)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:  # pragma: no cover
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse({"detail": "internal error of the local platform"}, status_code=500)

    return app


def _allowed_methods(app: FastAPI, request: Request) -> str:
    """The methods of the most specific API path this request path belongs to."""
    best: tuple[int, set[str]] = (-1, set())
    for template, operations in app.openapi()["paths"].items():
        pattern = re.sub(r"\{[^}]+\}", "[^/]+", re.sub(r"\{external_id\}", ".+", template))
        if re.fullmatch(pattern, request.url.path):
            literal = len(re.sub(r"\{[^}]+\}", "", template))
            if literal > best[0]:
                best = (literal, {m.upper() for m in operations})
    return ", ".join(sorted(best[1]))
