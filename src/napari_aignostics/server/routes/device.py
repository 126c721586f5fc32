"""``/device``: where the local user confirms a device login code (RFC 8628).

Only the authenticated user can approve: either a request carrying the user's bearer token
(``POST /device`` with ``user_code`` and ``action=approve``, for scripts; no CSRF token needed), or a
browser signed in at ``/device/sign-in`` with a one-time secret (printed by ``serve``), whose form
also carries a CSRF token bound to its session. Every request must name this server in ``Host`` (and
``Origin`` when sent), so a page from another site that rebinds its DNS name to 127.0.0.1 gets
nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import html
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ..deps import PlatformDep, bearer_user
from ..service import Platform
from ..store.rows import UserRow
from .oauth import read_form

router = APIRouter(include_in_schema=False)

COOKIE = "napari_aignostics_device_session"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}

PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>napari-aignostics login</title>
</head><body style="font-family:sans-serif;max-width:32em;margin:3em auto">
<h1>Local platform login</h1><p>{message}</p>{form}</body></html>"""

APPROVE = """<form method="post" action="/device">
<input type="hidden" name="csrf_token" value="{csrf}">
<label>Code <input name="user_code" value="{code}"></label>
<button name="action" value="approve">Approve</button>
<button name="action" value="deny">Deny</button></form>"""

SIGN_IN = """<form method="post" action="/device/sign-in">
<input type="hidden" name="user_code" value="{code}">
<input type="hidden" name="next" value="{next}">
<label>One-time secret <input name="secret" type="password" autocomplete="off"></label>
<button>Sign in</button></form>
<p>The secret is printed by <code>napari-aignostics serve</code> when it starts.</p>"""


def login_page(message: str, form: str = "", status: int = 200) -> HTMLResponse:
    """A page of the local login (never cached, never framed)."""
    return HTMLResponse(
        PAGE.format(message=html.escape(message), form=form),
        status_code=status,
        headers={"Cache-Control": "no-store", "X-Frame-Options": "DENY"},
    )


def _allowed_hosts(platform: Platform) -> set[str]:
    """``host:port`` names of this server (all loopback names when it listens on loopback)."""
    url = urlsplit(platform.settings.public_url)
    port = url.port or (443 if url.scheme == "https" else 80)
    names = {url.hostname or ""}
    if names & LOOPBACK:
        names |= LOOPBACK
    return {f"[{name}]:{port}" if ":" in name else f"{name}:{port}" for name in names}


def foreign_origin(platform: Platform, request: Request) -> str | None:
    """Why the request does not come from this server's own pages, or None."""
    allowed = _allowed_hosts(platform)
    host = request.headers.get("host", "")
    if host.lower() not in allowed:
        return f"the Host {host!r} is not this server ({', '.join(sorted(allowed))})"
    origin = request.headers.get("origin")
    if origin is not None:
        parts = urlsplit(origin)
        if origin == "null" or parts.netloc.lower() not in allowed:
            return f"the Origin {origin!r} is not this server"
    return None


def csrf_token(platform: Platform, session: str, purpose: str = "device") -> str:
    """The CSRF token of a form for ``purpose`` shown to the browser session ``session``."""
    return hmac.new(platform.url_secret.encode(), f"csrf:{purpose}:{session}".encode(), hashlib.sha256).hexdigest()


def session_user(platform: Platform, request: Request) -> tuple[UserRow, str] | None:
    """The user and session id of a browser signed in at ``/device/sign-in``, or None."""
    session = request.cookies.get(COOKIE, "")
    user = platform.store.user_for_token(session, kind="browser-session") if session else None
    return None if user is None else (user, session)


def approving_user(
    platform: Platform, request: Request, form: dict[str, str], purpose: str, sign_in: str = ""
) -> UserRow | HTMLResponse:
    """Who approves a login: a bearer token's user, or a signed-in browser whose form carries the
    CSRF token of ``purpose``; else the refusal page (``sign_in``: the form offered with it)."""
    if request.headers.get("authorization"):
        user = bearer_user(platform, request.headers["authorization"])
        if user is None:
            return login_page("Refused: the bearer token is not valid.", status=401)
        return user
    signed_in = session_user(platform, request)
    if signed_in is None:
        return login_page(
            "Refused: sign in first (or send the local user's bearer token).", sign_in, status=401
        )
    user, session = signed_in
    if not hmac.compare_digest(form.get("csrf_token", ""), csrf_token(platform, session, purpose)):
        return login_page("Refused: the form is stale or was not sent by this page.", status=403)
    return user


@router.get("/device", response_class=HTMLResponse)
def device_page(request: Request, platform: PlatformDep, user_code: str = "") -> HTMLResponse:
    """The approval form for a signed-in browser, else the sign-in form."""
    if (why := foreign_origin(platform, request)) is not None:
        return login_page(f"Refused: {why}.", status=403)
    code = html.escape(user_code)
    signed_in = session_user(platform, request)
    if signed_in is None:
        return login_page("Sign in to approve a login code.", SIGN_IN.format(code=code, next=""))
    message = "Confirm that this code is shown by the application you are logging in to."
    return login_page(message, APPROVE.format(csrf=csrf_token(platform, signed_in[1]), code=code))


@router.post("/device/sign-in", response_model=None)
async def sign_in(request: Request, platform: PlatformDep) -> Response:
    """Exchange a one-time secret for a browser session (an HttpOnly, SameSite=Strict cookie)."""
    if (why := foreign_origin(platform, request)) is not None:
        return login_page(f"Refused: {why}.", status=403)
    form = await read_form(request)
    code = form.get("user_code", "")
    user = platform.store.take_token(form.get("secret", "").strip(), kind="sign-in")
    if user is None:
        return login_page(
            "Unknown, expired or already used secret. Restart serve for a new one.",
            SIGN_IN.format(code=html.escape(code), next=html.escape(form.get("next", ""))),
            status=401,
        )
    ttl = platform.settings.browser_session_ttl_s
    session = platform.store.issue_token(user.id, kind="browser-session", ttl_s=ttl)
    target = form.get("next", "")
    if not target.startswith("/authorize?"):  # only back to this server's own login pages
        target = f"/device?user_code={quote(code)}"
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(COOKIE, session, max_age=int(ttl), path="/", httponly=True, samesite="strict")
    return response


@router.post("/device", response_class=HTMLResponse)
async def device_confirm(request: Request, platform: PlatformDep) -> HTMLResponse:
    """Approve or deny a user code for the authenticated user (bearer token or signed-in browser)."""
    if (why := foreign_origin(platform, request)) is not None:
        return login_page(f"Refused: {why}.", status=403)
    form = await read_form(request)
    code = form.get("user_code", "").strip().upper()
    user = approving_user(platform, request, form, "device", SIGN_IN.format(code=html.escape(code), next=""))
    if isinstance(user, HTMLResponse):
        return user
    deny = form.get("action") == "deny"
    if not platform.store.decide_device_code(code, user.id, deny=deny):
        return login_page("Unknown or expired code.", status=404)
    return login_page("Login denied." if deny else "Login approved. You can close this page.")
