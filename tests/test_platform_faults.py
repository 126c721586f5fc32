"""A bad network between the client and the real local platform: the seeded fault proxy on loopback.

Exact fault sequences the real server cannot produce go through :class:`FaultProxy` (``only``,
``budget``, ``cycle``); a few pure timing cases use ``httpx.MockTransport``.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from chaos import run_chaos
from fault_proxy import FaultProxy
from napari_aignostics.cli import main
from napari_aignostics.platform import models as m
from napari_aignostics.platform.client import SUBMISSION_KEY, PlatformClient
from napari_aignostics.platform.download import download_artifact, download_run
from napari_aignostics.platform.errors import (
    ChecksumMismatchError,
    PlatformError,
    TransportError,
)
from napari_aignostics.platform.follow import Reconnecting, RunFinished, follow_run
from napari_aignostics.platform.submit import build_run_request
from napari_aignostics.platform.upload import bucket_for, upload_file
from napari_aignostics.server.embedded import LocalPlatform
from napari_aignostics.slides.checksum import crc32c_base64, crc32c_base64_bytes
from server_helpers import LIFECYCLE_APP, Api, slide_bytes


def _no_sleep(_seconds: float) -> None:
    return None


def _client(root: str) -> PlatformClient:
    return PlatformClient(root, "tok", sleep=_no_sleep)


def _finished_run(server: LocalPlatform) -> str:
    api = Api(server.api_root, "tok")
    run_id = api.submit([{"external_id": "slide-a", "data": slide_bytes(size=300_000)}])
    api.wait(run_id)
    return run_id


# --- idempotent GETs ------------------------------------------------------------------------


@pytest.mark.slow
def test_truncated_json_is_retried_and_errors_name_the_request(server: LocalPlatform) -> None:
    run_id = _finished_run(server)
    with FaultProxy(server.api_root, rate=1.0, kinds=["truncate"], only="GET /api/v1/runs/",
                    budget=3) as proxy, _client(proxy.url) as client:
        assert client.run(run_id).run_id == run_id
        assert proxy.faults["truncate"] == 3
    with FaultProxy(server.api_root, rate=1.0, kinds=["truncate"],
                    only="GET /api/v1/runs/") as proxy, _client(proxy.url) as client, \
            pytest.raises(PlatformError) as caught:
        client.run(run_id)
    message = str(caught.value)
    assert message.startswith(f"GET /v1/runs/{run_id}: the platform's answer is not valid JSON")
    assert proxy.faults["truncate"] == 1 + client.retries


def test_429_waits_as_long_as_retry_after_says() -> None:
    waits: list[float] = []
    answers = iter([httpx.Response(429, headers={"Retry-After": "7"}), httpx.Response(503),
                    httpx.Response(200, json=[])])
    client = PlatformClient("https://api.example", "t", sleep=waits.append,
                            transport=httpx.MockTransport(lambda request: next(answers)))
    assert list(client.list_runs()) == []
    assert waits[0] == 7.0 and len(waits) == 2


# --- submissions: no orphans, no duplicates --------------------------------------------------


def _request(api: Api) -> m.RunCreationRequest:
    data = slide_bytes(size=5000)
    item = m.ItemCreationRequest(
        external_id="slide-a",
        input_artifacts=[m.InputArtifactCreationRequest(
            name="whole_slide_image", download_url=api.upload(data),
            metadata={"checksum_base64_crc32c": crc32c_base64_bytes(data)})],
    )
    return build_run_request("lifecycle", "1.0.1", [item], note="lost answer")


@pytest.mark.parametrize("fault", ["503-after", "reset", "truncate", "503-before"])
@pytest.mark.slow
def test_lost_submit_answer_neither_orphans_nor_duplicates(server: LocalPlatform,
                                                          fault: str) -> None:
    api = Api(server.api_root, "tok")
    request = _request(api)
    with FaultProxy(server.api_root, rate=1.0, kinds=[fault], only="POST /api/v1/runs",
                    budget=2) as proxy, _client(proxy.url) as client:
        run_id = client.create_run(request)
        posts = [r for r in proxy.seen if r == "POST /api/v1/runs"]
        lookups = [r for r in proxy.seen if r == "GET /api/v1/runs"]
    runs = api.http.get("/runs").json()
    assert [r["run_id"] for r in runs] == [run_id]
    stamp = runs[0]["custom_metadata"][SUBMISSION_KEY]["submission_id"]
    assert stamp == request.custom_metadata[SUBMISSION_KEY]["submission_id"]  # type: ignore[index]
    assert lookups, "a lost answer is looked up before anything is sent again"
    # handled-but-lost answers are found by the lookup; unhandled ones are sent again
    assert len(posts) == (3 if fault == "503-before" else 1)


@pytest.mark.slow
def test_refused_submit_is_final(server: LocalPlatform) -> None:
    api = Api(server.api_root, "tok")
    request = _request(api).model_copy(update={"application_id": "no-such-app"})
    with FaultProxy(server.api_root, rate=0.0) as proxy, _client(proxy.url) as client:
        with pytest.raises(PlatformError) as caught:
            client.create_run(request)
        assert proxy.seen.count("POST /api/v1/runs") == 1
    assert caught.value.status == 404
    assert api.http.get("/runs").json() == []


# --- downloads -------------------------------------------------------------------------------


@pytest.mark.slow
def test_download_survives_5xx_reset_truncation_with_fresh_links(server: LocalPlatform,
                                                                 tmp_path: Path) -> None:
    run_id = _finished_run(server)
    kinds = ["503-before", "reset", "truncate", "503-after"]
    with FaultProxy(server.api_root, rate=1.0, kinds=kinds, only="GET /files/", budget=4,
                    cycle=True) as proxy, _client(proxy.url) as client:
        done = download_run(client, run_id, tmp_path)
    assert proxy.faults == dict.fromkeys(kinds, 1)
    links = [r for r in proxy.seen if r.startswith("GET /api/v1/runs/") and r.endswith("/file")]
    files = [r for r in proxy.seen if r.startswith("GET /files/")]
    assert len(links) == len(files) == 5  # a fresh signed URL for each of the 5 attempts
    manifest = json.loads((tmp_path / run_id / "manifest.json").read_text())
    artifact = manifest["items"][0]["artifacts"][0]
    assert crc32c_base64(done[0].path) == artifact["checksum_base64_crc32c"]
    assert json.loads(done[0].path.read_text())["bytes"] == len(slide_bytes(size=300_000))
    assert not list(tmp_path.rglob("*.part"))


@pytest.mark.slow
def test_download_attempts_are_bounded(server: LocalPlatform, tmp_path: Path) -> None:
    run_id = _finished_run(server)
    out = tmp_path / "results"
    with FaultProxy(server.api_root, rate=1.0, kinds=["truncate"], only="GET /files/") as proxy, \
            _client(proxy.url) as client, pytest.raises(ChecksumMismatchError, match="8 attempts"):
        download_run(client, run_id, out)
    assert proxy.faults["truncate"] == 8
    assert not [p for p in out.rglob("*") if p.is_file()]  # nothing half-written
    with FaultProxy(server.api_root, rate=1.0, kinds=["503-before"], only="GET /files/") as proxy, \
            _client(proxy.url) as client, pytest.raises(TransportError, match="8 attempts"):
        download_run(client, run_id, out)


def test_download_waits_for_retry_after_on_429(tmp_path: Path) -> None:
    data = slide_bytes(size=4096)
    waits: list[float] = []
    links: list[str] = []

    answers = iter([httpx.Response(429, headers={"Retry-After": "3"}),
                    httpx.Response(200, content=data)])

    def api(request: httpx.Request) -> httpx.Response:
        if request.url.host == "files.example":
            return next(answers)
        links.append(str(request.url))
        return httpx.Response(307, headers={"Location": f"https://files.example/{len(links)}"})

    client = PlatformClient("https://api.example", "t", sleep=waits.append,
                            transport=httpx.MockTransport(api))
    artifact = m.OutputArtifactResultReadResponse(
        output_artifact_id="a1", name="x:json", state=m.ArtifactState.TERMINATED,
        output=m.ArtifactOutput.AVAILABLE,
        metadata={"checksum_base64_crc32c": crc32c_base64_bytes(data)})
    size, _ = download_artifact(client, "r", artifact, tmp_path / "x.json")
    assert (size, waits, len(links)) == (len(data), [3.0], 2)


# --- uploads ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_upload_restarts_visibly_and_boundedly(server: LocalPlatform, tmp_path: Path) -> None:
    slide = tmp_path / "slide.svs"
    data = slide_bytes(size=3 * 1024 * 1024)
    slide.write_bytes(data)
    progress: list[int] = []
    retries: list[tuple[int, int, str]] = []
    with FaultProxy(server.api_root, rate=1.0, kinds=["reset", "503-after"], only="PUT /bucket/",
                    budget=2, cycle=True) as proxy, _client(proxy.url) as client:
        bucket = bucket_for(client.me().organization, client.api_root)
        url = upload_file(client.http, bucket, slide, "tests/slide.svs", sleep=_no_sleep,
                          progress=lambda sent, _total: progress.append(sent),
                          on_retry=lambda *args: retries.append(args))
        assert proxy.seen.count("PUT /bucket/" + url.split("/bucket/")[1].split("?")[0]) == 3
    assert [(a, n) for a, n, _ in retries] == [(2, 6), (3, 6)]
    assert "503" in retries[1][2]
    assert progress.count(0) == 2 and progress[-1] == len(data)
    with FaultProxy(server.api_root, rate=1.0, kinds=["503-before"],
                    only="PUT /bucket/") as proxy, _client(proxy.url) as client:
        bucket = bucket_for(client.me().organization, client.api_root)
        with pytest.raises(TransportError, match="after 3 attempts"):
            upload_file(client.http, bucket, slide, "tests/other.svs", sleep=_no_sleep, attempts=3)
        assert proxy.faults["503-before"] == 3


# --- following -------------------------------------------------------------------------------


@pytest.mark.slow
def test_follow_reconnects_then_gives_up_after_patience(server: LocalPlatform,
                                                        tmp_path: Path) -> None:
    run_id = _finished_run(server)
    with FaultProxy(server.api_root, rate=1.0, kinds=["503-before"], only="GET /api/v1/runs/",
                    budget=3 * 7) as proxy, _client(proxy.url) as client:
        assert client.retries == 6  # 7 tries per request: three whole outages
        events = list(follow_run(client, run_id, tmp_path, interval=0, sleep=_no_sleep))
    reconnects = [e for e in events if isinstance(e, Reconnecting)]
    assert [e.delay for e in reconnects] == [1.0, 2.0, 4.0]
    assert "503" in reconnects[0].error
    assert isinstance(events[-1], RunFinished) and events[-1].manifest is not None
    now = [0.0]

    def clock() -> float:
        now[0] += 50.0
        return now[0]

    with FaultProxy(server.api_root, rate=1.0, kinds=["503-before"],
                    only="GET /api/v1/runs/") as proxy, _client(proxy.url) as client, \
            pytest.raises(TransportError, match=f"run follow {run_id}"):
        list(follow_run(client, run_id, None, patience=120, sleep=_no_sleep, clock=clock))


@pytest.mark.slow
def test_cli_run_follow_reattaches_and_downloads(server: LocalPlatform, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    run_id = _finished_run(server)
    code = main(["--api-root", server.api_root, "--token", "tok", "run", "follow", run_id,
                 "--download", str(tmp_path), "--interval", "0.1"])
    assert code == 0, capsys.readouterr().err
    manifest = json.loads((tmp_path / run_id / "manifest.json").read_text())
    assert manifest["items"][0]["artifacts"][0]["file"].startswith("slide-a/")
    assert "finished: ALL_ITEMS_PROCESSED" in capsys.readouterr().err


# --- the local worker's input fetch ----------------------------------------------------------


@pytest.mark.slow
def test_worker_refetches_input_after_transient_faults(server: LocalPlatform) -> None:
    api = Api(server.api_root, "tok")
    data = slide_bytes(size=200_000)
    with FaultProxy(server.api_root, rate=1.0, kinds=["503-before", "reset", "truncate"],
                    only="GET /bucket/", budget=3, cycle=True) as proxy:
        api_via_proxy = Api(proxy.url, "tok")
        url = api_via_proxy.upload(data)
        body = {"application_id": "lifecycle", "items": [{
            "external_id": "flaky", "input_artifacts": [{
                "name": "whole_slide_image", "download_url": url,
                "metadata": {"checksum_base64_crc32c": crc32c_base64_bytes(data)}}]}]}
        run_id = api.http.post("/runs", json=body).json()["run_id"]
        run = api.wait(run_id, timeout=60)
        assert proxy.faults == {"503-before": 1, "reset": 1, "truncate": 1}
    item = api.items(run_id)[0]
    assert (item["termination_reason"], item["error_message"]) == ("SUCCEEDED", None)
    assert run["statistics"]["item_succeeded_count"] == 1


# --- the scenario of the issue, short --------------------------------------------------------


@pytest.mark.slow
def test_chaos_three_runs_at_twenty_percent(cmu_slide: Path, tmp_path: Path) -> None:
    report = run_chaos(cmu_slide, tmp_path, runs=3, rate=0.2, seed=14, application="lifecycle",
                       applications=[LIFECYCLE_APP], interval=0.1)
    assert report.failures == []
    assert (report.completed, report.orphans, report.duplicates) == (3, 0, 0)
    assert report.files_verified == 3 and report.corrupt == 0 and report.partial_files == 0
    assert sum(report.faults.values()) >= 5
