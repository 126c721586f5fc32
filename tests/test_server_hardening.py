"""The local platform lets no one in: device approval, refresh tokens, ReDoS, bodies, hygiene."""

from __future__ import annotations

import logging
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from napari_aignostics.server.embedded import LocalPlatform
from server_helpers import Api, bucket_urls, slide_bytes

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"

SERVER = {"max_body_bytes": 1024 * 1024, "quota_object_bytes": 4096}


def _start_login(root: str) -> dict[str, str]:
    started = httpx.post(f"{root}/oauth/device/code", data={"client_id": "cli"})
    assert started.status_code == 200
    return dict(started.json())


def _poll(root: str, device_code: str) -> httpx.Response:
    return httpx.post(
        f"{root}/oauth/token", data={"grant_type": DEVICE_GRANT, "device_code": device_code}
    )


@pytest.mark.slow
def test_device_code_cannot_be_self_approved(server: LocalPlatform) -> None:
    root = server.api_root
    login = _start_login(root)
    form = {"user_code": login["user_code"], "action": "approve"}
    anonymous = httpx.post(f"{root}/device", data=form)
    assert anonymous.status_code == 401
    forged = httpx.post(f"{root}/device", data=form, headers={"Authorization": "Bearer nope"})
    assert forged.status_code == 401
    rebound = httpx.post(
        f"{root}/device", data=form,
        headers={"Authorization": f"Bearer {server.token}", "Host": f"evil.example:{server.port}"},
    )
    assert rebound.status_code == 403 and "Host" in rebound.text
    assert _poll(root, login["device_code"]).json()["error"] == "authorization_pending"
    approved = httpx.post(
        f"{root}/device", data=form, headers={"Authorization": f"Bearer {server.token}"}
    )
    assert approved.status_code == 200 and "approved" in approved.text
    tokens = _poll(root, login["device_code"]).json()
    me = httpx.get(f"{root}/api/v1/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.json()["user"]["id"] == "auth0|local-user"


def test_browser_approval_needs_the_one_time_secret_and_csrf(server: LocalPlatform) -> None:
    root = server.api_root
    login = _start_login(root)
    with httpx.Client(base_url=root) as browser:
        page = browser.get("/device", params={"user_code": login["user_code"]})
        assert page.status_code == 200 and 'name="secret"' in page.text
        assert "csrf_token" not in page.text
        wrong = browser.post("/device/sign-in", data={"secret": "guess"})
        assert wrong.status_code == 401
        secret = server.sign_in_secret()
        other_site = browser.post(
            "/device/sign-in", data={"secret": secret}, headers={"Origin": "http://evil.example"}
        )
        assert other_site.status_code == 403 and "Origin" in other_site.text
        signed_in = browser.post(
            "/device/sign-in", data={"secret": secret, "user_code": login["user_code"]}
        )
        assert signed_in.status_code == 303
        again = httpx.post(f"{root}/device/sign-in", data={"secret": secret})
        assert again.status_code == 401  # one-time
        form = {"user_code": login["user_code"], "action": "approve"}
        no_csrf = browser.post("/device", data=form)
        assert no_csrf.status_code == 403
        assert _poll(root, login["device_code"]).json()["error"] == "authorization_pending"
        page = browser.get("/device", params={"user_code": login["user_code"]})
        csrf = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text)
        assert csrf is not None
        approved = browser.post("/device", data={**form, "csrf_token": csrf.group(1)})
        assert approved.status_code == 200 and "approved" in approved.text
    assert "access_token" in _poll(root, login["device_code"]).json()


@pytest.mark.slow
def test_refresh_tokens_rotate_expire_and_can_be_revoked(server: LocalPlatform) -> None:
    root = server.api_root

    def login() -> str:
        started = _start_login(root)
        httpx.post(f"{root}/device", data={"user_code": started["user_code"]},
                   headers={"Authorization": f"Bearer {server.token}"})
        return str(_poll(root, started["device_code"]).json()["refresh_token"])

    def refresh(token: str) -> httpx.Response:
        return httpx.post(f"{root}/oauth/token",
                          data={"grant_type": "refresh_token", "refresh_token": token})

    first = login()
    renewed = refresh(first)
    assert renewed.status_code == 200
    assert refresh(first).json()["error"] == "invalid_grant"  # used once
    second = renewed.json()["refresh_token"]
    assert httpx.post(f"{root}/oauth/revoke", data={"token": second}).status_code == 200
    assert refresh(second).json()["error"] == "invalid_grant"
    server.settings.refresh_token_ttl_s = 0.5
    short = login()
    time.sleep(0.7)
    assert refresh(short).json()["error"] == "invalid_grant"


@pytest.mark.slow
def test_like_regex_is_linear_and_never_stalls_health(server: LocalPlatform) -> None:
    api = Api(server.api_root, server.token)
    api.submit([{"external_id": "a", "data": slide_bytes()}],
               custom_metadata={"x": "a" * 40 + "!"})
    latencies: list[float] = []
    stop = threading.Event()

    def probe() -> None:
        while not stop.is_set():
            started = time.perf_counter()
            httpx.get(f"{server.api_root}/health", timeout=5)
            latencies.append(time.perf_counter() - started)

    thread = threading.Thread(target=probe)
    thread.start()
    try:
        started = time.perf_counter()
        found = api.http.get(
            "/runs", params={"custom_metadata": '$.x like_regex "^(a+)+$"'}, timeout=5
        )
        took = time.perf_counter() - started
    finally:
        stop.set()
        thread.join()
    assert found.status_code == 200 and found.json() == []
    assert took < 1.0, took  # Python's backtracking engine needs hours for 40 characters
    assert latencies and max(latencies) < 1.0
    matched = api.http.get("/runs", params={"custom_metadata": '$.x like_regex "^A+!$" flag "i"'})
    assert len(matched.json()) == 1
    refused = api.http.get("/runs", params={"custom_metadata": '$.x like_regex "(?=a)"'})
    assert refused.status_code == 422 and "not supported" in refused.text


def _raw_request(server: LocalPlatform, head: str) -> bytes:
    """Send only the request head (no body): the answer, after which the server must close."""
    with socket.create_connection((server.host, server.port), timeout=5) as sock:
        sock.sendall(head.encode())
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except TimeoutError:
            raise AssertionError(f"the server kept waiting for the body: {chunks}") from None
    return b"".join(chunks)


def test_huge_bodies_are_refused_before_being_read(server: LocalPlatform) -> None:
    host = urlsplit(server.api_root).netloc
    size = 200 * 1024**2
    unauthenticated = _raw_request(
        server, f"POST /api/v1/runs HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {size}\r\n\r\n"
    )
    assert unauthenticated.startswith(b"HTTP/1.1 401"), unauthenticated[:200]
    authenticated = _raw_request(
        server, f"POST /api/v1/runs HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer tok\r\n"
        f"Content-Type: application/json\r\nContent-Length: {size}\r\n\r\n"
    )
    assert authenticated.startswith(b"HTTP/1.1 413") and b"larger" in authenticated
    oauth = _raw_request(
        server, f"POST /oauth/token HTTP/1.1\r\nHost: {host}\r\nContent-Length: {size}\r\n\r\n"
    )
    assert oauth.startswith(b"HTTP/1.1 413")
    bucket = _raw_request(
        server, f"PUT /bucket/any/key HTTP/1.1\r\nHost: {host}\r\nContent-Length: {size}\r\n\r\n"
    )
    assert bucket.startswith(b"HTTP/1.1 401")  # refused, and the connection closed, not drained


def test_streamed_bodies_are_cut_at_the_limit(server: LocalPlatform) -> None:
    def chunks(total: int) -> Iterator[bytes]:
        for _ in range(total // 65536):
            yield b" " * 65536

    response = httpx.post(
        f"{server.api_root}/api/v1/runs", content=chunks(4 * 1024**2),
        headers={"Authorization": "Bearer tok", "Content-Type": "application/json"},
    )
    assert response.status_code == 413 and "larger" in response.json()["detail"]
    form = httpx.post(f"{server.api_root}/oauth/device/code", content=chunks(1024**2))
    assert form.status_code == 413


@pytest.mark.slow
def test_bucket_objects_are_limited_per_organization(server: LocalPlatform) -> None:
    api = Api(server.api_root, server.token)
    put, get = bucket_urls(server.api_root, api.http.get("/me").json(), "big/object.bin")
    declared = httpx.put(put, content=b"x" * 5000)
    assert declared.status_code == 413 and "org_local" in declared.json()["detail"]
    streamed = httpx.put(put, content=iter([b"x" * 3000, b"x" * 3000]))
    assert streamed.status_code == 413
    assert httpx.get(get).status_code == 404  # nothing half-written left behind
    assert httpx.put(put, content=b"x" * 4096).status_code == 200


def test_signed_urls_are_redacted_in_httpx_logs(
    server: LocalPlatform, caplog: pytest.LogCaptureFixture
) -> None:
    api = Api(server.api_root, server.token)
    put, _ = bucket_urls(server.api_root, api.http.get("/me").json(), "logged/object.bin")
    signature = re.search(r"X-Amz-Signature=([0-9a-f]+)", put)
    assert signature is not None
    with caplog.at_level(logging.INFO, logger="httpx"), httpx.Client() as client:
        assert client.put(put, content=b"abc").status_code == 200
    assert "X-Amz-Signature=REDACTED" in caplog.text
    assert signature.group(1) not in caplog.text


def test_serve_token_file_must_be_private(tmp_path: Path) -> None:
    from napari_aignostics.server.cli import read_token_file

    path = tmp_path / "token"
    path.write_text("secret-token\n")
    path.chmod(0o644)
    with pytest.raises(SystemExit, match="chmod 600"):
        read_token_file(path)
    path.chmod(0o600)
    assert read_token_file(path) == "secret-token"


@pytest.mark.slow
def test_database_side_files_are_private(server: LocalPlatform) -> None:
    Api(server.api_root, server.token).submit([{"external_id": "a", "data": slide_bytes()}])
    database = server.data_dir / "platform.sqlite3"
    for path in (database, Path(f"{database}-wal"), Path(f"{database}-shm")):
        assert path.exists(), path
        assert path.stat().st_mode & 0o077 == 0, path


def test_control_characters_in_external_id_are_refused(server: LocalPlatform) -> None:
    api = Api(server.api_root, server.token)
    body = {
        "application_id": "lifecycle",
        "items": [{"external_id": "slide\x00.svs", "input_artifacts": [
            {"name": "whole_slide_image", "download_url": api.upload(slide_bytes()),
             "metadata": {"checksum_base64_crc32c": "AAAAAA=="}}]}],
    }
    refused = api.http.post("/runs", json=body)
    assert refused.status_code == 400 and "U+0000" in refused.text
