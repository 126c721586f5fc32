"""Bearer tokens: explicit, from the environment, from the token cache, or via the device flow.

The OAuth 2.0 device authorization grant (RFC 8628) logs a user in from a terminal; its refresh
token renews the access token without asking again. Tokens are cached in the user cache
directory with mode 0600 and are never logged or printed.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx

from .errors import AuthenticationError, PlatformError

__all__ = [
    "DEFAULT_API_ROOT",
    "LOCAL_AUDIENCE",
    "TOKEN_ENV",
    "AuthSettings",
    "CachedTokenProvider",
    "StaticTokenProvider",
    "TokenCache",
    "TokenProvider",
    "TokenSet",
    "browser_login",
    "device_login",
    "mask_secret",
    "refresh_tokens",
    "resolve_token_provider",
    "token_cache_path",
]

DEFAULT_API_ROOT = "https://platform.aignostics.com"
TOKEN_ENV = "NAPARI_AIGNOSTICS_TOKEN"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
# Published values of the real platform's identity provider (overridable, see AuthSettings).
DEFAULT_AUTH_BASE = "https://aignostics-platform.eu.auth0.com"
DEFAULT_AUDIENCE = "https://aignostics-platform-samia"
DEFAULT_CLIENT_ID = "YtJ7F9lAtxx16SZGQlYPe6wcjlXB78MM"
DEFAULT_SCOPE = "offline_access"
LOCAL_AUDIENCE = "https://napari-aignostics-local-platform"
"""The audience of the local platform's access tokens (its issuer is its own root)."""
EXPIRY_MARGIN_S = 60.0


class TokenProvider(Protocol):
    """Anything that returns a bearer token when called; called once per request."""

    def __call__(self) -> str: ...


@dataclass(frozen=True)
class StaticTokenProvider:
    """A fixed token (``--token`` or ``NAPARI_AIGNOSTICS_TOKEN``)."""

    token: str = field(repr=False)

    def __call__(self) -> str:
        return self.token


def mask_secret(value: str | None, keep: int = 4) -> str:
    """``abcd…`` style masking for display; short secrets are fully hidden."""
    if not value:
        return "(none)"
    if len(value) <= keep * 3:
        return "****"
    return value[:keep] + "****"


def _is_loopback(api_root: str) -> bool:
    host = urlsplit(api_root).hostname or ""
    return host in {"127.0.0.1", "localhost", "::1"}


@dataclass(frozen=True)
class AuthSettings:
    """Where and how to obtain tokens.

    Defaults are the real platform's published identity provider; for a loopback API root (the
    local platform) the endpoints live on the API host itself. Environment overrides:
    ``NAPARI_AIGNOSTICS_DEVICE_URL``, ``..._TOKEN_URL``, ``..._CLIENT_ID``, ``..._AUDIENCE``,
    ``..._SCOPE``.
    """

    device_url: str
    token_url: str
    authorize_url: str = f"{DEFAULT_AUTH_BASE}/authorize"
    client_id: str = DEFAULT_CLIENT_ID
    audience: str = DEFAULT_AUDIENCE
    scope: str = DEFAULT_SCOPE

    @classmethod
    def for_api_root(cls, api_root: str, env: dict[str, str] | None = None) -> AuthSettings:
        """Settings for an API root, with environment overrides applied."""
        env = dict(os.environ) if env is None else env
        local = _is_loopback(api_root)
        base = api_root.rstrip("/") if local else DEFAULT_AUTH_BASE
        return cls(
            device_url=env.get("NAPARI_AIGNOSTICS_DEVICE_URL", f"{base}/oauth/device/code"),
            token_url=env.get("NAPARI_AIGNOSTICS_TOKEN_URL", f"{base}/oauth/token"),
            authorize_url=env.get("NAPARI_AIGNOSTICS_AUTHORIZE_URL", f"{base}/authorize"),
            client_id=env.get("NAPARI_AIGNOSTICS_CLIENT_ID", DEFAULT_CLIENT_ID),
            audience=env.get(
                "NAPARI_AIGNOSTICS_AUDIENCE", LOCAL_AUDIENCE if local else DEFAULT_AUDIENCE
            ),
            scope=env.get("NAPARI_AIGNOSTICS_SCOPE", DEFAULT_SCOPE),
        )


@dataclass
class TokenSet:
    """An access token, when it expires (epoch seconds) and an optional refresh token."""

    access_token: str = field(repr=False)
    expires_at: float
    refresh_token: str | None = field(default=None, repr=False)
    api_root: str | None = None

    @classmethod
    def from_response(cls, body: dict[str, Any], api_root: str | None = None) -> TokenSet:
        """From an OAuth token endpoint answer."""
        if "access_token" not in body:
            raise AuthenticationError("token endpoint answered without an access_token")
        return cls(
            access_token=str(body["access_token"]),
            expires_at=time.time() + float(body.get("expires_in", 3600)),
            refresh_token=body.get("refresh_token"),
            api_root=api_root,
        )

    def valid(self, margin: float = EXPIRY_MARGIN_S) -> bool:
        """True while the access token is good for at least ``margin`` more seconds."""
        return self.expires_at - margin > time.time()


def token_cache_path() -> Path:
    """``<user cache dir>/token.json`` (``NAPARI_AIGNOSTICS_CACHE_DIR`` overrides the folder)."""
    override = os.environ.get("NAPARI_AIGNOSTICS_CACHE_DIR")
    if override:
        return Path(override) / "token.json"
    import platformdirs

    return Path(platformdirs.user_cache_dir("napari-aignostics")) / "token.json"


@dataclass
class TokenCache:
    """The token cache file: one entry per API root, readable only by the owner (0600)."""

    path: Path = field(default_factory=token_cache_path)

    def _read_all(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def load(self, api_root: str) -> TokenSet | None:
        """The cached tokens for ``api_root``, if any."""
        entry = self._read_all().get(api_root.rstrip("/"))
        if not isinstance(entry, dict) or "access_token" not in entry:
            return None
        return TokenSet(
            access_token=entry["access_token"],
            expires_at=float(entry.get("expires_at", 0)),
            refresh_token=entry.get("refresh_token"),
            api_root=api_root,
        )

    def save(self, api_root: str, tokens: TokenSet) -> None:
        """Store tokens atomically with mode 0600."""
        data = self._read_all()
        data[api_root.rstrip("/")] = {
            "access_token": tokens.access_token,
            "expires_at": tokens.expires_at,
            "refresh_token": tokens.refresh_token,
        }
        self._write(data)

    def delete(self, api_root: str) -> bool:
        """Forget the tokens of ``api_root``; True if there were any."""
        data = self._read_all()
        if data.pop(api_root.rstrip("/"), None) is None:
            return False
        if data:
            self._write(data)
        else:
            self.path.unlink(missing_ok=True)
        return True

    def _write(self, data: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "w") as handle:
                json.dump(data, handle)
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        finally:
            tmp.unlink(missing_ok=True)


def _token_post(http: httpx.Client, url: str, data: dict[str, str]) -> tuple[int, dict[str, Any]]:
    try:
        response = http.post(url, data=data, headers={"Accept": "application/json"})
    except httpx.HTTPError as exc:
        raise PlatformError(f"cannot reach the login service at {url}: {exc}") from exc
    try:
        body = response.json()
    except ValueError:
        body = {"error": "invalid_response", "error_description": response.text[:200]}
    return response.status_code, body if isinstance(body, dict) else {}


def _token_exchange(
    settings: AuthSettings, data: dict[str, str], http: httpx.Client | None
) -> tuple[int, dict[str, Any]]:
    """POST ``data`` to the token endpoint with ``http`` (or a client of its own)."""
    if http is not None:
        return _token_post(http, settings.token_url, data)
    with httpx.Client(timeout=30.0) as own:
        return _token_post(own, settings.token_url, data)


def refresh_tokens(
    settings: AuthSettings, refresh_token: str, *, http: httpx.Client | None = None
) -> TokenSet:
    """Exchange a refresh token for a fresh access token."""
    status, body = _token_exchange(
        settings,
        {
            "grant_type": "refresh_token",
            "client_id": settings.client_id,
            "refresh_token": refresh_token,
        },
        http,
    )
    if status != 200:
        raise AuthenticationError(
            f"refreshing the login failed: {body.get('error', status)}", status=401
        )
    tokens = TokenSet.from_response(body)
    tokens.refresh_token = tokens.refresh_token or refresh_token
    return tokens


def device_login(
    settings: AuthSettings,
    *,
    http: httpx.Client | None = None,
    show: Callable[[str], None] = print,
    sleep: Callable[[float], None] = time.sleep,
    max_wait: float | None = None,
    on_code: Callable[[str, str], None] | None = None,
) -> TokenSet:
    """Run the device authorization flow: show the code and link, poll until the user approved.

    ``on_code(link, user_code)``, when given, receives them instead of ``show`` (a GUI shows them).
    """
    own = http is None
    http = http or httpx.Client(timeout=30.0)
    try:
        status, grant = _token_post(
            http,
            settings.device_url,
            {
                "client_id": settings.client_id,
                "scope": settings.scope,
                "audience": settings.audience,
            },
        )
        if status != 200 or "device_code" not in grant:
            raise AuthenticationError(
                f"the login service refused the device login: {grant.get('error', status)}",
                status=401,
            )
        link = grant.get("verification_uri_complete") or grant.get("verification_uri", "")
        user_code = str(grant.get("user_code", ""))
        if on_code is not None:
            on_code(str(link), user_code)
        else:
            show(f"To log in, open {link} and confirm the code {user_code}")
        interval = float(grant.get("interval", 5))
        deadline = time.monotonic() + float(max_wait or grant.get("expires_in", 900))
        while time.monotonic() < deadline:
            sleep(interval)
            status, body = _token_post(
                http,
                settings.token_url,
                {
                    "grant_type": DEVICE_GRANT,
                    "device_code": grant["device_code"],
                    "client_id": settings.client_id,
                },
            )
            if status == 200:
                return TokenSet.from_response(body)
            error = body.get("error")
            if error == "authorization_pending":
                continue
            if error == "slow_down":
                interval += 5
                continue
            if error == "expired_token":
                raise AuthenticationError("the login code expired; run login again", status=401)
            if error == "access_denied":
                raise AuthenticationError("the login was denied", status=401)
            raise AuthenticationError(f"login failed: {error or status}", status=401)
        raise AuthenticationError("the login code expired; run login again", status=401)
    finally:
        if own:
            http.close()


def browser_login(
    settings: AuthSettings,
    *,
    open_url: Callable[[str], object] | None = None,
    http: httpx.Client | None = None,
    port: int = 0,
    max_wait: float = 300.0,
) -> TokenSet:
    """Authorization code + PKCE (S256): the browser approves, a one-shot loopback server
    on 127.0.0.1 receives the code, which is exchanged with the verifier."""
    import base64
    import hashlib
    import secrets
    import threading
    import webbrowser
    from http.server import BaseHTTPRequestHandler, HTTPServer
    from urllib.parse import parse_qs, urlencode

    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    state = secrets.token_urlsafe(16)
    got: dict[str, str] = {}

    class Callback(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
            if query.get("state") == state:
                got.update(query)
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.end_headers()
            self.wfile.write(b"Login finished; you can close this page.")

        def log_message(self, *args: object) -> None:  # no access log (codes stay private)
            return

    server = HTTPServer(("127.0.0.1", port), Callback)
    server.timeout = 1.0
    redirect_uri = f"http://127.0.0.1:{server.server_address[1]}/"
    query = {
        "response_type": "code",
        "client_id": settings.client_id,
        "redirect_uri": redirect_uri,
        "scope": settings.scope,
        "audience": settings.audience,
        "state": state,
        "code_challenge": challenge.rstrip(b"=").decode(),
        "code_challenge_method": "S256",
    }
    opener = threading.Thread(
        target=open_url or webbrowser.open,
        args=(f"{settings.authorize_url}?{urlencode(query)}",),
        daemon=True,
    )
    try:
        opener.start()
        deadline = time.monotonic() + max_wait
        while not got and time.monotonic() < deadline:
            server.handle_request()
    finally:
        server.server_close()
    if "code" not in got:
        reason = got.get("error", "no answer from the browser in time")
        raise AuthenticationError(f"the login was not completed: {reason}", status=401)
    status, body = _token_exchange(
        settings,
        {
            "grant_type": "authorization_code",
            "code": got["code"],
            "code_verifier": verifier,
            "redirect_uri": redirect_uri,
            "client_id": settings.client_id,
        },
        http,
    )
    if status != 200:
        raise AuthenticationError(f"login failed: {body.get('error', status)}", status=401)
    return TokenSet.from_response(body)


class CachedTokenProvider:
    """Tokens from the cache, renewed with the refresh token when they are about to expire."""

    def __init__(
        self,
        api_root: str,
        *,
        cache: TokenCache | None = None,
        settings: AuthSettings | None = None,
    ) -> None:
        self.api_root = api_root.rstrip("/")
        self.cache = cache or TokenCache()
        self.settings = settings or AuthSettings.for_api_root(api_root)
        self._tokens: TokenSet | None = None

    def __repr__(self) -> str:
        return f"CachedTokenProvider({self.api_root!r})"

    def __call__(self) -> str:
        tokens = self._tokens if self._tokens and self._tokens.valid() else None
        tokens = tokens or self.cache.load(self.api_root)
        if tokens is None:
            raise AuthenticationError(f"not logged in to {self.api_root}", status=401)
        if not tokens.valid():
            if not tokens.refresh_token:
                raise AuthenticationError("the login expired", status=401)
            tokens = refresh_tokens(self.settings, tokens.refresh_token)
            self.cache.save(self.api_root, tokens)
        self._tokens = tokens
        return tokens.access_token


def resolve_token_provider(api_root: str, token: str | None = None) -> TokenProvider:
    """Explicit token, else ``NAPARI_AIGNOSTICS_TOKEN``, else the token cache of ``api_root``."""
    if token:
        return StaticTokenProvider(token)
    env_token = os.environ.get(TOKEN_ENV)
    if env_token:
        return StaticTokenProvider(env_token)
    return CachedTokenProvider(api_root)
