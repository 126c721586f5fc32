"""A local OAuth 2.0 device authorization service (RFC 8628) for the local user.

``/oauth/device/code`` starts a login, ``/device`` is the page where the user confirms the code,
``/oauth/token`` answers the polling client (device code, authorization code + PKCE and refresh
token grants) with an RS256 JWT access token (see ``access_tokens``).
"""

from __future__ import annotations

import html
import secrets
import time
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse

from .deps import PlatformDep
from .service import Platform
from .settings import LOCAL_USER_ID
from .store import token_hash

router = APIRouter(include_in_schema=False)

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
ACCESS_TTL_S = 3600
CODE_TTL_S = 600
ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"


async def _form(request: Request) -> dict[str, str]:
    body = (await request.body()).decode("utf-8", "replace")
    return {k: v[0] for k, v in parse_qs(body).items()}


def _error(code: str, description: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": code, "error_description": description}, status_code=status)


@router.post("/oauth/device/code")
async def device_code(request: Request, platform: PlatformDep) -> JSONResponse:
    """Start a device login: a device code for the client and a user code for the person."""
    form = await _form(request)
    code = secrets.token_urlsafe(32)
    user_code = "".join(secrets.choice(ALPHABET) for _ in range(8))
    user_code = f"{user_code[:4]}-{user_code[4:]}"
    interval = 1.0
    approved = LOCAL_USER_ID if platform.settings.auto_approve_device else None
    platform.store.execute(
        "INSERT INTO device_codes (device_code_hash, user_code, client_id, expires_at, interval,"
        " approved_user) VALUES (?,?,?,?,?,?)",
        (
            token_hash(code),
            user_code,
            form.get("client_id"),
            time.time() + CODE_TTL_S,
            interval,
            approved,
        ),
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
    refresh = platform.store.issue_token(user_id, kind="refresh")
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
    form = await _form(request)
    grant = form.get("grant_type")
    if grant == "refresh_token":
        user = platform.store.user_for_token(form.get("refresh_token", ""), kind="refresh")
        if user is None:
            return _error("invalid_grant", "unknown or revoked refresh token")
        return _tokens(platform, user["id"], form.get("client_id"))
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
    key = token_hash(form.get("device_code", ""))
    row = platform.store.one("SELECT * FROM device_codes WHERE device_code_hash=?", (key,))
    if row is None:
        return _error("invalid_grant", "unknown device code")
    now = time.time()
    if row["expires_at"] < now:
        return _error("expired_token", "the device code expired")
    if row["denied"]:
        return _error("access_denied", "the user denied the login", 403)
    if not row["approved_user"]:
        too_fast = now - row["last_poll"] < row["interval"] * 0.5
        platform.store.execute(
            "UPDATE device_codes SET last_poll=? WHERE device_code_hash=?", (now, key)
        )
        if too_fast:
            return _error("slow_down", "poll less often")
        return _error("authorization_pending", "waiting for the user to confirm the code")
    platform.store.execute("DELETE FROM device_codes WHERE device_code_hash=?", (key,))
    return _tokens(platform, row["approved_user"], row["client_id"])


PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>napari-aignostics login</title>
</head><body style="font-family:sans-serif;max-width:32em;margin:3em auto">
<h1>Local platform login</h1><p>{message}</p>
<form method="post" action="/device"><label>Code <input name="user_code" value="{code}"></label>
<button name="action" value="approve">Approve</button>
<button name="action" value="deny">Deny</button></form></body></html>"""


@router.get("/device", response_class=HTMLResponse)
def device_page(user_code: str = "") -> HTMLResponse:
    """The page where the local user confirms a login code."""
    message = "Confirm that this code is shown by the application you are logging in to."
    return HTMLResponse(PAGE.format(message=message, code=html.escape(user_code)))


@router.post("/device", response_class=HTMLResponse)
async def device_confirm(request: Request, platform: PlatformDep) -> HTMLResponse:
    """Approve or deny a user code for the local user."""
    form = await _form(request)
    code = form.get("user_code", "").strip().upper()
    deny = form.get("action") == "deny"
    changed = platform.store.execute(
        "UPDATE device_codes SET approved_user=?, denied=? WHERE user_code=? AND expires_at>?",
        (None if deny else LOCAL_USER_ID, int(deny), code, time.time()),
    )
    if not changed:
        message, status = "Unknown or expired code.", 404
    else:
        message, status = (
            ("Login denied." if deny else "Login approved. You can close this page."),
            200,
        )
    return HTMLResponse(PAGE.format(message=message, code=html.escape(code)), status_code=status)
