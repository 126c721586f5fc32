"""A local OAuth 2.0 device authorization service (RFC 8628) for the local user.

``/oauth/device/code`` starts a login, ``/device`` (:mod:`.device`) is where the signed-in
user confirms the code, ``/oauth/token`` answers the polling client (device code, authorization
code + PKCE and refresh token grants; a refresh token is used once and expires) with an RS256 JWT
access token (see ``access_tokens``), ``/oauth/revoke`` revokes a token (RFC 7009).
"""

from __future__ import annotations

import secrets
import time
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from ..deps import PlatformDep
from ..service import Platform
from ..settings import LOCAL_USER_ID

router = APIRouter(include_in_schema=False)

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
ACCESS_TTL_S = 3600
CODE_TTL_S = 600
ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"


async def read_form(request: Request) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body (bounded by the request guard)."""
    body = (await request.body()).decode("utf-8", "replace")
    return {k: v[0] for k, v in parse_qs(body).items()}


def _error(code: str, description: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": code, "error_description": description}, status_code=status)


@router.post("/oauth/device/code")
async def device_code(request: Request, platform: PlatformDep) -> JSONResponse:
    """Start a device login: a device code for the client and a user code for the person."""
    form = await read_form(request)
    code = secrets.token_urlsafe(32)
    user_code = "".join(secrets.choice(ALPHABET) for _ in range(8))
    user_code = f"{user_code[:4]}-{user_code[4:]}"
    interval = 1.0
    approved = LOCAL_USER_ID if platform.settings.auto_approve_device else None
    platform.store.add_device_code(
        code,
        user_code,
        form.get("client_id"),
        ttl_s=CODE_TTL_S,
        interval=interval,
        approved_user=approved,
    )
    page = platform.settings.public_url.rstrip("/") + "/device"
    return JSONResponse(
        {
            "device_code": code,
            "user_code": user_code,
            "verification_uri": page,
            "verification_uri_complete": f"{page}?user_code={user_code}",
            "expires_in": CODE_TTL_S,
            "interval": interval,
        }
    )


def _tokens(platform: Platform, user_id: str, client_id: str | None) -> JSONResponse:
    user = platform.store.user(user_id)
    if user is None:
        return _error("invalid_grant", "the user of this grant no longer exists")
    access = platform.signer.issue(user, client_id=client_id, ttl_s=ACCESS_TTL_S)
    refresh = platform.store.issue_token(
        user_id, kind="refresh", ttl_s=platform.settings.refresh_token_ttl_s
    )
    return JSONResponse(
        {
            "access_token": access,
            "refresh_token": refresh,
            "token_type": "Bearer",
            "expires_in": ACCESS_TTL_S,
        },
        headers={"Cache-Control": "no-store"},
    )


@router.post("/oauth/token")
async def token(request: Request, platform: PlatformDep) -> JSONResponse:
    """Exchange an approved device code or a refresh token for an access token."""
    form = await read_form(request)
    grant = form.get("grant_type")
    if grant == "refresh_token":
        user = platform.store.take_token(form.get("refresh_token", ""), kind="refresh")
        if user is None:
            return _error("invalid_grant", "unknown, expired, used or revoked refresh token")
        return _tokens(platform, user.id, form.get("client_id"))
    if grant == "authorization_code":
        approved = platform.auth_codes.redeem(
            form.get("code", ""),
            client_id=form.get("client_id"),
            redirect_uri=form.get("redirect_uri"),
            verifier=form.get("code_verifier", ""),
        )
        if approved is None or approved.user_id is None:
            return _error("invalid_grant", "unknown, used or expired code, or a wrong code_verifier")
        return _tokens(platform, approved.user_id, approved.client_id)
    if grant != DEVICE_GRANT:
        return _error("unsupported_grant_type", f"grant_type {grant!r} is not supported")
    device = form.get("device_code", "")
    row = platform.store.device_code(device)
    if row is None:
        return _error("invalid_grant", "unknown device code")
    now = time.time()
    if row.expires_at < now:
        return _error("expired_token", "the device code expired")
    if row.denied:
        return _error("access_denied", "the user denied the login", 403)
    if not row.approved_user:
        too_fast = now - row.last_poll < row.interval * 0.5
        platform.store.note_device_poll(device, now)
        if too_fast:
            return _error("slow_down", "poll less often")
        return _error("authorization_pending", "waiting for the user to confirm the code")
    platform.store.drop_device_code(device)
    return _tokens(platform, row.approved_user, row.client_id)


@router.post("/oauth/revoke")
async def revoke(request: Request, platform: PlatformDep) -> JSONResponse:
    """Revoke a refresh (or stored access) token; 200 whether or not it was known (RFC 7009)."""
    form = await read_form(request)
    token = form.get("token", "")
    if not token:
        return _error("invalid_request", "the form field token is missing")
    platform.store.revoke_token(token)
    return JSONResponse({}, headers={"Cache-Control": "no-store"})
