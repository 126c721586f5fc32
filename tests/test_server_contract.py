"""Authorization rules and status codes as the published contract's text gives them."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from napari_aignostics.server.embedded import LocalPlatform
from server_helpers import Api, slide_bytes
from spec_check import SpecChecker

SERVER = {"token": "owner-token"}


@pytest.fixture
def spec(openapi_spec: dict[str, Any]) -> SpecChecker:
    return SpecChecker(openapi_spec)


@pytest.mark.slow  # waits for analyses to be cancelled mid-item
def test_only_the_creator_cancels_deletes_or_changes_metadata(
    server: LocalPlatform, spec: SpecChecker
) -> None:
    member = Api(server.api_root, server.add_user("auth0|member"))
    admin = Api(server.api_root, server.add_user("auth0|boss", role="admin"))
    running = member.submit([{"external_id": "a", "data": slide_bytes(),
                              "metadata": {"behaviour": "sleep:30"}}])
    done = member.submit([{"external_id": "b", "data": slide_bytes()}])
    member.wait(done)
    assert spec.check(admin.http.get(f"/runs/{running}")).status_code == 200  # admins see it
    put = {"custom_metadata": {"x": 1}}
    refused = [
        admin.http.post(f"/runs/{running}/cancel"),
        admin.http.delete(f"/runs/{done}/artifacts"),
        admin.http.put(f"/runs/{done}/custom-metadata", json=put),
        admin.http.put(f"/runs/{done}/items/b/custom-metadata", json=put),
    ]
    for response in refused:
        assert spec.check(response).status_code == 403
        assert "creator" in response.json()["detail"]
    assert spec.check(member.http.post(f"/runs/{running}/cancel")).status_code == 202
    assert spec.check(member.http.delete(f"/runs/{done}/artifacts")).status_code == 200


def test_unknown_fields_are_accepted(server: LocalPlatform, spec: SpecChecker) -> None:
    api = Api(server.api_root, server.token)
    run_id = api.submit([{"external_id": "a", "data": slide_bytes()}], surprise={"new": True})
    api.wait(run_id)
    put = {"custom_metadata": {"k": 1}, "comment": "extra"}
    assert spec.check(api.http.put(f"/runs/{run_id}/custom-metadata", json=put)).status_code == 200
    item_put = api.http.put(f"/runs/{run_id}/items/a/custom-metadata", json=put)
    assert spec.check(item_put).status_code == 200
    token = api.http.post("/access/share-tokens", json={"label": "for a colleague"})
    assert spec.check(token).status_code == 201
    grant = api.http.post("/access/grants", json={
        "resource_type": "run", "resource_id": run_id, "subject_type": "share_token",
        "subject_id": token.json()["share_token_id"], "relation": "viewer", "note": "x"})
    assert spec.check(grant).status_code == 201


def test_dates_must_be_real_and_in_the_future(server: LocalPlatform, spec: SpecChecker) -> None:
    api = Api(server.api_root, server.token)
    for expires in (1_700_000_000, "2001-01-01T00:00:00Z", "soon"):
        answer = api.http.post("/access/share-tokens", json={"expires_at": expires})
        assert spec.check(answer).status_code == 422
        assert answer.json()["detail"][0]["loc"] == ["body", "expires_at"]
    future = api.http.post("/access/share-tokens", json={"expires_at": "2099-06-01T12:00:00+02:00"})
    assert spec.check(future).json()["expires_at"] == "2099-06-01T10:00:00Z"


@pytest.mark.slow  # waits for analyses to be cancelled mid-item
def test_skipped_items_say_why_and_artifacts_carry_a_download_url(
    server: LocalPlatform, spec: SpecChecker
) -> None:
    api = Api(server.api_root, server.token)
    run_id = api.submit([
        {"external_id": "fast", "data": slide_bytes()},
        {"external_id": "slow1", "data": slide_bytes(), "metadata": {"behaviour": "sleep:30"}},
        {"external_id": "slow2", "data": slide_bytes(), "metadata": {"behaviour": "sleep:30"}},
        {"external_id": "slow3", "data": slide_bytes(), "metadata": {"behaviour": "sleep:30"}},
    ])
    deadline = httpx.Timeout(30)
    for _ in range(300):
        items = {i["external_id"]: i for i in api.items(run_id)}
        if items["fast"]["state"] == "TERMINATED":
            break
        httpx.get(f"{server.api_root}/health", timeout=deadline)
    assert spec.check(api.http.post(f"/runs/{run_id}/cancel")).status_code == 202
    api.wait(run_id)
    items = {i["external_id"]: i for i in spec.check(
        api.http.get(f"/runs/{run_id}/items")).json()}
    fast = items.pop("fast")
    assert fast["termination_reason"] == "SUCCEEDED"
    url = fast["output_artifacts"][0]["download_url"]
    fetched = httpx.get(url)
    assert fetched.status_code == 200 and b'"bytes"' in fetched.content
    for item in items.values():
        assert item["termination_reason"] == "SKIPPED"
        assert "cancelled by its creator" in item["error_message"]
        assert all(a["download_url"] is None for a in item["output_artifacts"])


def test_status_codes_from_the_contract_text(server: LocalPlatform, spec: SpecChecker) -> None:
    api = Api(server.api_root, server.token)
    run_id = api.submit([{"external_id": "a", "data": slide_bytes()}])
    api.wait(run_id)
    assert spec.check(api.http.get("/runs", params={"sort": "state"})).status_code == 200
    both = api.http.get("/runs", params=[("sort", "state"), ("sort", "-submitted_at")])
    assert spec.check(both).json()[0]["run_id"] == run_id
    for path in ("/runs/not-a-uuid", "/runs/123/items", "/access/grants/xyz"):
        malformed = spec.check(api.http.get(path))
        assert malformed.status_code == 422 and "not a UUID" in malformed.text
    upper = api.http.get(f"/runs/{run_id.upper()}")
    assert spec.check(upper).json()["run_id"] == run_id
    member = Api(server.api_root, server.add_user("auth0|member"))
    listing = member.http.get("/runs", params={"for_organization": "org_local"})
    assert spec.check(listing).status_code == 404
    not_allowed = api.http.delete("/runs")
    assert not_allowed.status_code == 405
    assert not_allowed.headers["allow"] == "GET, POST"
    assert api.http.patch(f"/runs/{run_id}").headers["allow"] == "GET"
