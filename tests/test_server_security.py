"""Signed URLs (tampering, expiry), the SigV4 bucket, and the local device login."""

from __future__ import annotations

import re
import threading
import time

import httpx
import pytest

from napari_aignostics.platform.auth import AuthSettings, device_login
from napari_aignostics.server.embedded import LocalPlatform
from server_helpers import Api, bucket_urls, slide_bytes

SERVER = {"signed_url_ttl_s": 2}


def _tamper(url: str) -> str:
    head, _, signature = url.rpartition("signature=")
    return head + "signature=" + ("0" if signature[0] != "0" else "1") + signature[1:]


@pytest.mark.slow
def test_artifact_links_are_signed_and_short_lived(server: LocalPlatform) -> None:
    api = Api(server.api_root, server.token)
    run_id = api.submit([{"external_id": "a", "data": slide_bytes()}])
    api.wait(run_id)
    artifact_id = api.items(run_id)[0]["output_artifacts"][0]["output_artifact_id"]
    url = api.http.get(f"/runs/{run_id}/artifacts/{artifact_id}/file").headers["location"]
    assert httpx.get(url).status_code == 200
    assert httpx.get(_tamper(url)).status_code == 403
    other_artifact = url.replace(artifact_id, "00000000-0000-0000-0000-000000000000")
    assert httpx.get(other_artifact).status_code == 403
    assert httpx.get(url.split("?")[0]).status_code == 403
    time.sleep(3.1)
    expired = httpx.get(url)
    assert expired.status_code == 403 and "expired" in expired.text


@pytest.mark.slow
def test_bucket_verifies_sigv4(server: LocalPlatform) -> None:
    api = Api(server.api_root, server.token)
    me = api.http.get("/me").json()
    put, get = bucket_urls(server.api_root, me, "user/1/slide one.svs")
    assert httpx.put(put, content=b"abc").status_code == 200
    assert httpx.get(get).content == b"abc"
    assert httpx.get(get).headers["content-length"] == "3"
    assert httpx.head(get).status_code == 403  # the method is part of the signature
    assert httpx.get(get, headers={"Range": "bytes=1-"}).content == b"bc"
    tampered = get.replace("slide%20one", "slide%20two")
    assert httpx.get(tampered).status_code == 403
    assert httpx.get(get.replace("X-Amz-Signature=", "X-Amz-Signature=0")).status_code == 403
    assert httpx.put(get, content=b"xyz").status_code == 403  # a GET URL cannot PUT
    plain = get.split("?")[0]
    assert httpx.get(plain).status_code == 401
    assert httpx.get(plain, headers={"Authorization": "Bearer tok"}).content == b"abc"
    wrong_key = dict(me)
    wrong_key["organization"] = dict(
        me["organization"], aignostics_bucket_hmac_secret_access_key="not-the-secret"
    )
    forged_put, _ = bucket_urls(server.api_root, wrong_key, "user/1/forged")
    assert httpx.put(forged_put, content=b"x").status_code == 403
    escape, _ = bucket_urls(server.api_root, me, "../../etc/passwd")
    assert httpx.put(escape, content=b"x").status_code in (400, 403, 404)


@pytest.mark.slow
def test_expired_presigned_url_is_refused(server: LocalPlatform) -> None:
    import botocore.session
    from botocore.config import Config

    org = Api(server.api_root, server.token).http.get("/me").json()["organization"]
    client = botocore.session.get_session().create_client(
        "s3", endpoint_url=f"{server.api_root}/bucket", region_name="us-east-1",
        aws_access_key_id=org["aignostics_bucket_hmac_access_key_id"],
        aws_secret_access_key=org["aignostics_bucket_hmac_secret_access_key"],
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )
    url = client.generate_presigned_url(
        "put_object", Params={"Bucket": org["aignostics_bucket_name"], "Key": "k"}, ExpiresIn=1
    )
    time.sleep(2.1)
    refused = httpx.put(url, content=b"x")
    assert refused.status_code == 403 and "expired" in refused.text


@pytest.mark.slow
def test_device_login_end_to_end(server: LocalPlatform) -> None:
    settings = AuthSettings.for_api_root(server.api_root, env={})
    shown: list[str] = []

    def approve(message: str) -> None:
        shown.append(message)
        code = re.search(r"[A-Z]{4}-[A-Z]{4}", message)
        assert code, message
        page = re.search(r"https?://\S+", message)
        assert page and httpx.get(page.group(0)).status_code == 200

        def later() -> None:
            time.sleep(0.5)
            httpx.post(f"{server.api_root}/device",
                       data={"user_code": code.group(0), "action": "approve"},
                       headers={"Authorization": f"Bearer {server.token}"})

        threading.Thread(target=later).start()

    tokens = device_login(settings, show=approve, max_wait=20)
    assert shown
    me = httpx.get(f"{server.api_root}/api/v1/me",
                   headers={"Authorization": f"Bearer {tokens.access_token}"})
    assert me.status_code == 200 and me.json()["user"]["id"] == "auth0|local-user"
    refreshed = httpx.post(f"{server.api_root}/oauth/token", data={
        "grant_type": "refresh_token", "refresh_token": tokens.refresh_token})
    assert refreshed.status_code == 200 and refreshed.json()["access_token"] != tokens.access_token
    denied = httpx.post(f"{server.api_root}/oauth/token", data={
        "grant_type": "urn:ietf:params:oauth:grant-type:device_code", "device_code": "nope"})
    assert denied.status_code == 400 and denied.json()["error"] == "invalid_grant"


def test_database_and_data_are_private(server: LocalPlatform) -> None:
    assert (server.data_dir / "platform.sqlite3").stat().st_mode & 0o077 == 0
    assert server.data_dir.stat().st_mode & 0o077 == 0
    raw = (server.data_dir / "platform.sqlite3").read_bytes()
    assert b"tok\x00" not in raw and server.token.encode() not in raw


def test_secrets_never_start_with_a_dash() -> None:
    """A token pasted after a flag must not read as an option (1 in 64 random tokens would)."""
    from napari_aignostics.server.random_secrets import new_secret

    drawn = [new_secret(24) for _ in range(2000)]
    assert not any(token.startswith("-") for token in drawn)
    assert len(set(drawn)) == len(drawn)
