"""The authorization-code + PKCE login (``/authorize``) and the public signing keys.

``GET /authorize`` shows the signed-in local user (the same browser session as ``/device``: a
one-time secret printed by ``serve``) what is asking to log in; approving (with the form's CSRF
token, or a request carrying the local user's bearer token) redirects the browser to the client's
loopback ``redirect_uri`` with a one-time code, which the client exchanges at
``/oauth/token`` with its PKCE verifier. ``/.well-known/jwks.json`` publishes the key that signs
access tokens; ``/.well-known/openid-configuration`` names every endpoint.
"""

from __future__ import annotations

import html
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from ..authorization_codes import AuthorizationRequest
from ..deps import PlatformDep
from ..settings import LOCAL_USER_ID
from .device import (
    LOOPBACK,
    SIGN_IN,
    approving_user,
    csrf_token,
    foreign_origin,
    login_page,
    session_user,
)
from .oauth import read_form

router = APIRouter(include_in_schema=False)


FORM = """<form method="post" action="/authorize">
<input type="hidden" name="request_id" value="{request_id}">
<input type="hidden" name="csrf_token" value="{csrf}">
<button name="action" value="approve">Approve</button>
<button name="action" value="deny">Deny</button></form>"""


def _loopback_redirect(uri: str) -> bool:
    parts = urlsplit(uri)
    return (
        parts.scheme == "http" and (parts.hostname or "") in LOOPBACK and not parts.fragment
    )


def _back_to_client(request: AuthorizationRequest, **params: str) -> RedirectResponse:
    if request.state is not None:
        params["state"] = request.state
    separator = "&" if urlsplit(request.redirect_uri).query else "?"
    return RedirectResponse(
        request.redirect_uri + separator + urlencode(params),
        status_code=302,
        headers={"Cache-Control": "no-store"},
    )


@router.get("/authorize", response_model=None)
def authorize(request: Request, platform: PlatformDep) -> Response:
    """Check the client's request and ask the person to approve it."""
    q = request.query_params
    redirect_uri = q.get("redirect_uri", "")
    if not _loopback_redirect(redirect_uri):
        return login_page(
            "The redirect_uri must be an http URL on this computer (localhost or 127.0.0.1).",
            status=400,
        )
    if q.get("response_type") != "code":
        return login_page("Only response_type=code is supported.", status=400)
    if not q.get("client_id"):
        return login_page("The client_id is missing.", status=400)
    if q.get("code_challenge_method") != "S256" or not q.get("code_challenge"):
        return login_page("A PKCE code_challenge with code_challenge_method=S256 is required.", status=400)
    signed_in = None
    if not platform.settings.auto_approve_device:
        if (why := foreign_origin(platform, request)) is not None:
            return login_page(f"Refused: {why}.", status=403)
        signed_in = session_user(platform, request)
        if signed_in is None:
            back = html.escape(f"{request.url.path}?{request.url.query}")
            return login_page("Sign in to approve this login.", form=SIGN_IN.format(code="", next=back))
    pending = AuthorizationRequest(
        client_id=q["client_id"],
        redirect_uri=redirect_uri,
        code_challenge=q["code_challenge"],
        scope=q.get("scope", ""),
        state=q.get("state"),
    )
    request_id = platform.auth_codes.add(pending)
    if platform.settings.auto_approve_device:
        decided, code = platform.auth_codes.decide(request_id, LOCAL_USER_ID)
        assert code is not None
        return _back_to_client(decided, code=code)
    assert signed_in is not None
    target = urlsplit(redirect_uri).netloc
    csrf = csrf_token(platform, signed_in[1], "authorize")
    return login_page(
        f"The application {q['client_id']} (returning to {target}) asks to act as the local user.",
        form=FORM.format(request_id=html.escape(request_id), csrf=csrf),
    )


@router.post("/authorize", response_model=None)
async def authorize_decide(request: Request, platform: PlatformDep) -> Response:
    """Approve or deny a pending login; the browser goes back to the client."""
    if (why := foreign_origin(platform, request)) is not None:
        return login_page(f"Refused: {why}.", status=403)
    form = await read_form(request)  # bounded by the request guard
    user = approving_user(platform, request, form, "authorize")
    if isinstance(user, HTMLResponse):
        return user
    approve = form.get("action") == "approve"
    try:
        decided, code = platform.auth_codes.decide(
            form.get("request_id", ""), user.id if approve else None
        )
    except KeyError:
        return login_page("Unknown or expired login request; start the login again.", status=404)
    if code is None:
        return _back_to_client(decided, error="access_denied", error_description="denied")
    return _back_to_client(decided, code=code)


@router.get("/.well-known/jwks.json")
def jwks(platform: PlatformDep) -> JSONResponse:
    """The public key that signs this platform's access tokens."""
    return JSONResponse(platform.signer.jwks(), headers={"Cache-Control": "max-age=3600"})


@router.get("/.well-known/openid-configuration")
def discovery(platform: PlatformDep) -> dict[str, str | list[str]]:
    """Where the login endpoints of this platform are."""
    root = platform.settings.public_url.rstrip("/")
    return {
        "issuer": platform.signer.issuer,
        "authorization_endpoint": f"{root}/authorize",
        "token_endpoint": f"{root}/oauth/token",
        "device_authorization_endpoint": f"{root}/oauth/device/code",
        "jwks_uri": f"{root}/.well-known/jwks.json",
        "response_types_supported": ["code"],
        "grant_types_supported": [
            "authorization_code",
            "refresh_token",
            "urn:ietf:params:oauth:grant-type:device_code",
        ],
        "code_challenge_methods_supported": ["S256"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["none"],
        "audience": platform.signer.audience,
    }
