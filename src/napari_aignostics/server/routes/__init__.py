"""The HTTP routes of the local platform, one module per part of the API they serve.

``applications`` and ``runs`` (API v1), ``access`` (``/v1/me``, grants, share tokens), ``files``
(signed artifact and document bytes, the S3-compatible bucket), ``oauth``, ``device`` and
``authorize`` (the local login service). Routes check the caller (``deps.Caller``), read and write
through the store, and change run and item states only through ``lifecycle``.
"""

from __future__ import annotations

from fastapi import APIRouter

from . import access, applications, authorize, device, files, oauth, runs

__all__ = ["ROUTERS", "add_poll_route"]

add_poll_route = runs.add_poll_route

ROUTERS: tuple[APIRouter, ...] = (
    runs.router,
    applications.router,
    access.router,
    files.router,
    oauth.router,
    device.router,
    authorize.router,
)
"""Every router, in the order the app includes them (and matches a request against them: the runs
first, as the dock and the CLI poll them; the run poll itself comes before, see ``add_poll_route``)."""
