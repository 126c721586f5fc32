"""The local platform against the published contract: shapes, statuses, bad input, isolation."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from napari_aignostics.server.embedded import LocalPlatform
from server_helpers import Api, slide_bytes
from spec_check import SpecChecker

SERVER = {"token": "owner-token", "max_items_per_run": 5}


@pytest.fixture
def spec(openapi_spec: dict[str, Any]) -> SpecChecker:
    return SpecChecker(openapi_spec)


@pytest.mark.slow
def test_whole_lifecycle_conforms_to_the_spec(server: LocalPlatform, spec: SpecChecker) -> None:
    api = Api(server.api_root, server.token)
    get = lambda path, **kw: spec.check(api.http.get(path, **kw))  # noqa: E731

    me = get("/me").json()
    assert me["user"]["id"] == "auth0|local-user"
    assert me["organization"]["aignostics_bucket_protocol"] == "http"
    apps = get("/applications", params={"page-size": 5}).json()
    assert [a["application_id"] for a in apps] == ["lifecycle"]
    assert apps[0]["latest_version"]["number"] == "1.0.1"
    assert [v["number"] for v in get("/applications/lifecycle").json()["versions"]] == [
        "1.0.0", "1.0.1"
    ]
    version = get("/applications/lifecycle/versions/1.0.0").json()
    assert version["input_artifacts"][0]["name"] == "whole_slide_image"
    docs = get("/applications/lifecycle/versions/1.0.0/documents").json()
    assert [d["name"] for d in docs] == ["README.md"]
    get("/applications/lifecycle/versions/1.0.0/documents/README.md")
    redirect = get("/applications/lifecycle/versions/1.0.0/documents/README.md/file")
    assert redirect.status_code == 307 and redirect.headers["cache-control"] == "no-store"
    document = httpx.get(redirect.headers["location"])
    assert document.content.startswith(b"# Lifecycle")
    assert "attachment" in document.headers["content-disposition"]

    data = slide_bytes(size=5000)
    run_id = api.submit(
        [
            {"external_id": "slide-ok", "data": data},
            {"external_id": "slide/bad", "data": data, "metadata": {"behaviour": "fail_user"}},
            {"external_id": "slide-crash", "data": data, "metadata": {"behaviour": "fail_system"}},
        ],
        version_number="1.0.0",
        custom_metadata={"sdk": {"note": "first run", "tags": ["a"]}},
    )
    run = api.wait(run_id)
    spec.check(api.http.get(f"/runs/{run_id}"))
    assert run["state"] == "TERMINATED"
    assert run["termination_reason"] == "ALL_ITEMS_PROCESSED"
    assert run["output"] == "PARTIAL"
    stats = run["statistics"]
    assert (stats["item_count"], stats["item_succeeded_count"], stats["item_user_error_count"],
            stats["item_system_error_count"]) == (3, 1, 1, 1)

    items = get(f"/runs/{run_id}/items", params={"sort": "external_id"}).json()
    assert [i["external_id"] for i in items] == ["slide-crash", "slide-ok", "slide/bad"]
    bad = get(f"/runs/{run_id}/items/slide%2Fbad").json()
    assert bad["termination_reason"] == "USER_ERROR"
    assert bad["error_code"] == "INPUT.TOLD_TO_FAIL" and "told to fail" in bad["error_message"]
    crash = items[0]
    assert crash["termination_reason"] == "SYSTEM_ERROR" and "told to crash" in crash["error_message"]
    ok = items[1]
    assert ok["output"] == "FULL"
    artifact = ok["output_artifacts"][0]
    assert artifact["output"] == "AVAILABLE" and artifact["metadata"]["media_type"] == "application/json"
    redirect = get(f"/runs/{run_id}/artifacts/{artifact['output_artifact_id']}/file")
    assert redirect.status_code == 307
    body = httpx.get(redirect.headers["location"])
    assert body.json() == {"bytes": len(data), "name": "slide.tiff"}
    partial = httpx.get(redirect.headers["location"], headers={"Range": "bytes=0-4"})
    assert partial.status_code == 206 and partial.content == body.content[:5]

    only_failed = get(f"/runs/{run_id}/items", params={"termination_reason": "USER_ERROR"}).json()
    assert [i["external_id"] for i in only_failed] == ["slide/bad"]
    runs = get("/runs", params={"custom_metadata": '$.sdk.note ? (@ like_regex "FIRST" flag "i")'})
    assert [r["run_id"] for r in runs.json()] == [run_id]
    assert get("/runs", params={"custom_metadata": "$.sdk.tags[*] == \"zzz\""}).json() == []
    assert [r["run_id"] for r in get("/runs", params={"external_id": "slide-ok"}).json()] == [run_id]

    checksum = run["custom_metadata_checksum"]
    put = spec.check(api.http.put(f"/runs/{run_id}/custom-metadata", json={
        "custom_metadata": {"reviewed": True}, "custom_metadata_checksum": checksum}))
    assert put.status_code == 200 and put.json()["custom_metadata_checksum"] != checksum
    stale = spec.check(api.http.put(f"/runs/{run_id}/custom-metadata", json={
        "custom_metadata": {"reviewed": False}, "custom_metadata_checksum": checksum}))
    assert stale.status_code == 412
    item_put = spec.check(api.http.put(
        f"/runs/{run_id}/items/slide-ok/custom-metadata", json={"custom_metadata": {"x": 1}}))
    assert item_put.status_code == 200
    assert get(f"/runs/{run_id}/items/slide-ok").json()["custom_metadata"] == {"x": 1}
    assert spec.checked >= 19


@pytest.mark.slow
def test_pagination_and_sorting(server: LocalPlatform, spec: SpecChecker) -> None:
    api = Api(server.api_root, server.token)
    data = slide_bytes()
    run_ids = [api.submit([{"external_id": f"s{i}", "data": data}]) for i in range(7)]
    for run_id in run_ids:
        api.wait(run_id)
    first = spec.check(api.http.get("/runs", params={"page_size": 5})).json()
    second = spec.check(api.http.get("/runs", params={"page_size": 5, "page": 2})).json()
    assert len(first) == 5 and len(second) == 2
    assert {r["run_id"] for r in first + second} == set(run_ids)
    ascending = api.http.get("/runs", params={"sort": "+submitted_at", "page_size": 100}).json()
    assert [r["run_id"] for r in ascending] == run_ids
    by_id = api.http.get("/runs", params=[("sort", "-application_id"), ("sort", "-run_id")]).json()
    assert [r["run_id"] for r in by_id] == sorted(run_ids, reverse=True)


@pytest.mark.parametrize(
    ("mutate", "status", "needle"),
    [
        (lambda b: b.update(application_id="nope"), 404, "nope"),
        (lambda b: b.update(version_number="9.9.9"), 404, "9.9.9"),
        (lambda b: b.update(items=[]), 422, "items"),
        (lambda b: b["items"].append(dict(b["items"][0])), 400, "more than once"),
        (lambda b: b.update(items=[dict(b["items"][0], external_id=f"x{i}") for i in range(6)]),
         402, "at most 5"),
        (lambda b: b["items"][0]["input_artifacts"][0].update(name="other"), 400, "expects"),
        (lambda b: b["items"][0]["input_artifacts"][0]["metadata"].update(unknown=1), 400,
         "unknown"),
        (lambda b: b["items"][0]["input_artifacts"][0]["metadata"].update(width_px="wide"), 400,
         "width_px"),
        (lambda b: b.update(custom_metadata={"blob": "x" * 70000}), 422, "larger than"),
        (lambda b: b.update(scheduling={"deadline": 5}), 422, "ISO 8601"),
        (lambda b: b.update(scheduling={"deadline": "2001-01-01T00:00:00Z"}), 422, "future"),
        (lambda b: b["items"][0]["input_artifacts"][0].update(download_url="ftp://x/y"), 422,
         "http"),
    ],
)
def test_bad_submissions_get_a_clear_4xx(
    server: LocalPlatform, spec: SpecChecker, mutate: Any, status: int, needle: str
) -> None:
    api = Api(server.api_root, server.token)
    body: dict[str, Any] = {
        "application_id": "lifecycle",
        "items": [{"external_id": "a", "input_artifacts": [{
            "name": "whole_slide_image", "download_url": "http://127.0.0.1:9/x.tiff",
            "metadata": {"checksum_base64_crc32c": "AAAAAA=="}}]}],
    }
    mutate(body)
    response = spec.check(api.http.post("/runs", json=body))
    assert response.status_code == status, response.text
    assert needle in response.text
    assert api.http.get("/runs").json() == []


@pytest.mark.slow
def test_malformed_requests_never_500(server: LocalPlatform, spec: SpecChecker) -> None:
    api = Api(server.api_root, server.token)
    raw = api.http.post("/runs", content=b"{not json", headers={"Content-Type": "application/json"})
    assert spec.check(raw).status_code == 422
    assert spec.check(api.http.post("/runs", json=[1, 2])).status_code == 422
    assert spec.check(api.http.get("/runs", params={"sort": "password"})).status_code == 422
    assert "sortable fields" in api.http.get("/runs", params={"sort": "password"}).text
    assert spec.check(api.http.get("/runs", params={"page_size": 1000})).status_code == 422
    assert spec.check(api.http.get("/runs", params={"page": 0})).status_code == 422
    assert spec.check(api.http.get("/runs", params={"custom_metadata": "$.a ? ("})).status_code == 422
    missing = spec.check(api.http.get("/runs/00000000-0000-0000-0000-000000000000"))
    assert missing.status_code == 404
    malformed = spec.check(api.http.get("/runs/not-a-run"))  # the poll reads its id by hand
    assert malformed.status_code == 422
    assert malformed.json()["detail"][0]["loc"] == ["path", "run_id"]
    assert httpx.get(f"{server.api_root}/api/v1/runs/not-a-run").status_code == 401  # caller first
    poll = httpx.get(f"{server.api_root}/api/v1/openapi.json").json()["paths"]["/api/v1/runs/{run_id}"]
    declared = {(p["name"], p["in"]): p for p in poll["get"]["parameters"]}
    assert declared[("run_id", "path")]["schema"]["format"] == "uuid"
    assert set(declared) == {("run_id", "path"), ("share_token", "query")}
    assert spec.check(api.http.get("/applications/lifecycle/versions/0.0.1")).status_code == 404
    anonymous = httpx.get(f"{server.api_root}/api/v1/runs")
    assert anonymous.status_code == 401
    wrong = httpx.get(f"{server.api_root}/api/v1/me", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert httpx.get(f"{server.api_root}/health").json() == {"status": "UP"}
    assert httpx.get(f"{server.api_root}/api/v1/openapi.json").json()["paths"]


@pytest.mark.slow
def test_runs_are_private_unless_shared(server: LocalPlatform, spec: SpecChecker) -> None:
    owner = Api(server.api_root, server.token)
    other_token = server.add_user("auth0|other", email="other@example.org")
    stranger_token = server.add_user("auth0|stranger", "org_elsewhere")
    other = Api(server.api_root, other_token)
    stranger = Api(server.api_root, stranger_token)
    run_id = owner.submit([{"external_id": "a", "data": slide_bytes()}])
    owner.wait(run_id)
    item = owner.items(run_id)[0]
    artifact_id = item["output_artifacts"][0]["output_artifact_id"]

    for client in (other, stranger):
        assert client.http.get(f"/runs/{run_id}").status_code == 404
        assert client.http.get(f"/runs/{run_id}/items").status_code == 404
        assert client.http.get(f"/runs/{run_id}/artifacts/{artifact_id}/file").status_code == 404
        assert client.http.post(f"/runs/{run_id}/cancel").status_code == 404
        assert client.http.get("/runs").json() == []

    grant = spec.check(owner.http.post("/access/grants", json={
        "resource_type": "run", "resource_id": run_id, "subject_type": "user",
        "subject_email": "other@example.org", "relation": "viewer"}))
    assert grant.status_code == 201
    assert spec.check(other.http.get(f"/runs/{run_id}")).status_code == 200
    assert other.http.get(f"/runs/{run_id}/artifacts/{artifact_id}/file").status_code == 307
    assert other.http.delete(f"/runs/{run_id}/artifacts").status_code == 403
    assert stranger.http.get(f"/runs/{run_id}").status_code == 404
    owner_grant = spec.check(owner.http.post("/access/grants", json={
        "resource_type": "run", "resource_id": run_id, "subject_type": "user",
        "subject_id": "auth0|other", "relation": "owner"}))
    assert owner_grant.status_code == 422

    token = spec.check(owner.http.post("/access/share-tokens", json={})).json()
    spec.check(owner.http.post("/access/grants", json={
        "resource_type": "run", "resource_id": run_id, "subject_type": "share_token",
        "subject_id": token["share_token_id"], "relation": "viewer"}))
    shared = stranger.http.get(f"/runs/{run_id}", params={"share_token": token["share_token"]})
    assert spec.check(shared).status_code == 200
    listed = spec.check(owner.http.get("/access/share-tokens", params={"run_id": run_id})).json()
    assert [t["share_token_id"] for t in listed] == [token["share_token_id"]]
    assert "share_token" not in listed[0]
    revoke = spec.check(owner.http.delete(f"/access/share-tokens/{token['share_token_id']}"))
    assert revoke.json()["revoked"] is True
    assert spec.check(owner.http.delete(f"/access/share-tokens/{token['share_token_id']}")).status_code == 409
    again = stranger.http.get(f"/runs/{run_id}", params={"share_token": token["share_token"]})
    assert again.status_code == 404

    grants = spec.check(owner.http.get("/access/grants", params={"relation": "viewer"})).json()
    assert len(grants) == 2
    revoked = spec.check(owner.http.delete(f"/access/grants/{grant.json()['grant_id']}"))
    assert revoked.json()["revoked"] is True
    assert other.http.get(f"/runs/{run_id}").status_code == 404


def test_admins_list_their_organization(server: LocalPlatform, spec: SpecChecker) -> None:
    member = Api(server.api_root, server.add_user("auth0|member"))
    admin = Api(server.api_root, server.add_user("auth0|boss", role="admin"))
    run_id = member.submit([{"external_id": "a", "data": slide_bytes()}])
    assert admin.http.get("/runs").json() == []
    listed = spec.check(admin.http.get("/runs", params={"for_organization": "org_local"})).json()
    assert run_id in [r["run_id"] for r in listed]
    assert member.http.get("/runs", params={"for_organization": "org_local"}).status_code == 404
