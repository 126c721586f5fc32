"""Sign-in like the real platform: RS256 JWTs, JWKS, device flow and authorization code + PKCE."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import stat
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import jwt

from napari_aignostics.platform.auth import (
    LOCAL_AUDIENCE,
    AuthSettings,
    browser_login,
    device_login,
)
from napari_aignostics.server.access_tokens import KEY_FILE
from napari_aignostics.server.embedded import LocalPlatform
from napari_aignostics.server.sdk_env import sdk_environment

SERVER = {"token": "opaque-token", "applications": [], "auto_approve_device": True}


def _verify(server: LocalPlatform, token: str) -> dict[str, object]:
    """Verify as the official SDK does: key from the JWKS URL, RS256, audience, issuer."""
    env = sdk_environment(server.api_root)
    key = jwt.PyJWKClient(env["AIGNOSTICS_JWS_JSON_URL"]).get_signing_key_from_jwt(token).key
    claims: dict[str, object] = jwt.decode(
        token, key=key, algorithms=["RS256"], audience=env["AIGNOSTICS_AUDIENCE"]
    )
    issuer = urlsplit(env["AIGNOSTICS_AUTHORIZATION_BASE_URL"])
    assert claims["iss"] == f"{issuer.scheme}://{issuer.netloc}/"
    return claims


def test_device_login_gives_a_verifiable_rs256_jwt(server: LocalPlatform) -> None:
    key_file = server.data_dir / KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    settings = AuthSettings.for_api_root(server.api_root, env={})
    assert settings.audience == LOCAL_AUDIENCE
    tokens = device_login(settings, show=lambda _: None, sleep=lambda _: None, max_wait=10)
    claims = _verify(server, tokens.access_token)
    assert claims["sub"] == "auth0|local-user" and claims["org_id"] == "org_local"
    assert claims["azp"] == settings.client_id
    assert int(claims["exp"]) - int(claims["iat"]) == 3600  # type: ignore[call-overload]
    assert "offline_access" in str(claims["scope"])
    assert claims[f"{LOCAL_AUDIENCE}/role"] == "admin"
    me = httpx.get(
        f"{server.api_root}/api/v1/me", headers={"Authorization": f"Bearer {tokens.access_token}"}
    )
    assert me.status_code == 200 and me.json()["user"]["id"] == "auth0|local-user"

    # a refreshed token is a new JWT for the same user
    body = httpx.post(
        f"{server.api_root}/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens.refresh_token or ""},
    ).json()
    assert _verify(server, body["access_token"])["sub"] == "auth0|local-user"


def test_plugin_client_signs_in_through_the_browser_flow(server: LocalPlatform) -> None:
    """The plugin's own authorization code + PKCE login, the browser played by httpx."""
    settings = AuthSettings.for_api_root(server.api_root, env={})
    assert settings.authorize_url == f"{server.api_root}/authorize"
    tokens = browser_login(
        settings, open_url=lambda url: httpx.get(url, follow_redirects=True), max_wait=30
    )
    assert _verify(server, tokens.access_token)["sub"] == "auth0|local-user"
    assert tokens.refresh_token


def test_forged_or_expired_tokens_get_401(server: LocalPlatform) -> None:
    url = f"{server.api_root}/api/v1/me"
    other_key = jwt.api_jws.get_default_algorithms()["RS256"]
    assert other_key is not None
    from cryptography.hazmat.primitives.asymmetric import rsa

    forged = jwt.encode(
        {"sub": "auth0|local-user", "aud": LOCAL_AUDIENCE, "iss": f"{server.api_root}/",
         "iat": 1, "exp": 4_000_000_000},
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
        algorithm="RS256",
    )
    signer = server.platform.signer  # type: ignore[union-attr]
    user = server.platform.store.user("auth0|local-user")  # type: ignore[union-attr]
    expired = signer.issue(user, client_id="x", ttl_s=-10)
    for token in (forged, expired, "eyJhbGciOiJub25lIn0.e30.", "opaque-but-wrong"):
        answer = httpx.get(url, headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 401
        assert answer.text == "Jwt verification fails"
        assert answer.headers["www-authenticate"].startswith("Bearer")
    missing = httpx.get(url)
    assert (missing.status_code, missing.text) == (401, "Jwt is missing")
    assert missing.headers["content-type"].startswith("text/plain")
    # the opaque token of `serve --token` stays a local convenience
    assert httpx.get(url, headers={"Authorization": "Bearer opaque-token"}).status_code == 200


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def test_authorization_code_with_pkce(tmp_path: Path) -> None:
    with LocalPlatform(tmp_path / "p", "t", builtin=False) as server:
        root = server.api_root
        verifier, challenge = _pkce()
        params = {
            "response_type": "code", "client_id": "cli", "redirect_uri": "http://localhost:8989/",
            "scope": "offline_access", "state": "xyz", "code_challenge": challenge,
            "code_challenge_method": "S256", "audience": LOCAL_AUDIENCE,
        }
        browser = httpx.Client(base_url=root)
        first = browser.get("/authorize", params=params)
        assert first.status_code == 200 and 'name="secret"' in first.text  # sign in first
        assert "request_id" not in first.text
        signed_in = browser.post("/device/sign-in", data={
            "secret": server.sign_in_secret(), "next": f"/authorize?{urlencode(params)}"})
        assert signed_in.status_code == 303
        assert signed_in.headers["location"].startswith("/authorize?")

        def ask() -> tuple[str, str]:
            page = browser.get(signed_in.headers["location"])
            assert page.status_code == 200 and "cli" in page.text
            found = re.search(r'name="request_id" value="([^"]+)"', page.text)
            csrf = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text)
            assert found is not None and csrf is not None
            return found.group(1), csrf.group(1)

        request_id, csrf = ask()
        form = {"request_id": request_id, "action": "approve"}
        # nobody approves without the signed-in user: not an anonymous local process, not a
        # forged form, not another site, not a rebound host name
        assert httpx.post(f"{root}/authorize", data=form).status_code == 401
        assert httpx.post(f"{root}/authorize", data=form,
                          headers={"Authorization": "Bearer nope"}).status_code == 401
        assert browser.post("/authorize", data=form).status_code == 403  # no CSRF token
        cross = browser.post("/authorize", data={**form, "csrf_token": csrf},
                             headers={"Origin": "http://evil.example"})
        assert cross.status_code == 403
        port = urlsplit(root).port
        rebound = browser.post("/authorize", data={**form, "csrf_token": csrf},
                               headers={"Host": f"rebound.example:{port}"})
        assert rebound.status_code == 403
        approved = browser.post("/authorize", data={**form, "csrf_token": csrf})
        assert approved.status_code == 302
        back = urlsplit(approved.headers["location"])
        assert back.netloc == "localhost:8989"
        query = parse_qs(back.query)
        assert query["state"] == ["xyz"]
        code = query["code"][0]

        exchange = {"grant_type": "authorization_code", "code": code, "client_id": "cli",
                    "redirect_uri": "http://localhost:8989/"}
        wrong = httpx.post(f"{root}/oauth/token", data={**exchange, "code_verifier": "nope"})
        assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
        # the code was consumed by the failed attempt: get a fresh one
        request_id, csrf = ask()
        again = httpx.post(f"{root}/authorize", data={"request_id": request_id, "action": "approve"},
                           headers={"Authorization": f"Bearer {server.token}"})  # a script
        code = parse_qs(urlsplit(again.headers["location"]).query)["code"][0]
        exchange["code"] = code
        good = httpx.post(f"{root}/oauth/token", data={**exchange, "code_verifier": verifier})
        assert good.status_code == 200, good.text
        assert _verify(server, good.json()["access_token"])["azp"] == "cli"
        reused = httpx.post(f"{root}/oauth/token", data={**exchange, "code_verifier": verifier})
        assert reused.status_code == 400

        request_id, csrf = ask()
        denied = browser.post("/authorize", data={"request_id": request_id, "action": "deny",
                                                  "csrf_token": csrf})
        assert parse_qs(urlsplit(denied.headers["location"]).query)["error"] == ["access_denied"]

        for bad in ({"redirect_uri": "https://evil.example/cb"}, {"code_challenge_method": "plain"},
                    {"response_type": "token"}):
            refused = browser.get("/authorize", params={**params, **bad})
            assert refused.status_code == 400 and "location" not in refused.headers

        discovery = httpx.get(f"{root}/.well-known/openid-configuration").json()
        assert discovery["authorization_endpoint"] == f"{root}/authorize"
        assert httpx.get(discovery["jwks_uri"]).json()["keys"][0]["alg"] == "RS256"


def test_the_key_pair_survives_a_restart(tmp_path: Path) -> None:
    with LocalPlatform(tmp_path / "p", "t", builtin=False, port=0) as first:
        kid = first.platform.signer.kid  # type: ignore[union-attr]
        pem = (first.data_dir / KEY_FILE).read_bytes()
    with LocalPlatform(tmp_path / "p", "t", builtin=False) as second:
        assert second.platform.signer.kid == kid  # type: ignore[union-attr]
        assert (second.data_dir / KEY_FILE).read_bytes() == pem
        keys = httpx.get(f"{second.api_root}/.well-known/jwks.json").json()["keys"]
        assert [k["kid"] for k in keys] == [kid] and "d" not in keys[0]
