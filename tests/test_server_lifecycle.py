"""Run lifecycle on the real local platform: cancel, delete, expiry, system cancel, quotas, restart."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from napari_aignostics.server.embedded import LocalPlatform
from server_helpers import LIFECYCLE_APP, Api, slide_bytes, wait_for
from spec_check import SpecChecker

TESTS = Path(__file__).parent


def _platform(tmp_path: Path, **settings: Any) -> LocalPlatform:
    return LocalPlatform(
        tmp_path / "platform", "tok", applications=[LIFECYCLE_APP], builtin=False, **settings
    )


@pytest.mark.slow
def test_cancel_skips_pending_and_keeps_finished(tmp_path: Path, openapi_spec: dict) -> None:
    spec = SpecChecker(openapi_spec)
    with _platform(tmp_path, items_per_run_parallel=1) as server:
        api = Api(server.api_root, server.token)
        run_id = api.submit(
            [{"external_id": "quick", "data": slide_bytes()}]
            + [{"external_id": f"slow{i}", "data": slide_bytes(), "metadata": {"behaviour": "sleep:30"}}
               for i in range(3)]
        )
        def one_running_one_done() -> bool:  # one snapshot: two polls could straddle a claim
            stats = api.http.get(f"/runs/{run_id}").json()["statistics"]
            return bool(stats["item_processing_count"] == 1 and stats["item_succeeded_count"] == 1)

        wait_for(one_running_one_done)
        queued = api.http.get(f"/runs/{run_id}/items", params={"state": "PENDING"}).json()
        assert [i["queue_position_platform"] for i in queued] == [1, 2]
        assert spec.check(api.http.delete(f"/runs/{run_id}/artifacts")).status_code == 409
        cancel = spec.check(api.http.post(f"/runs/{run_id}/cancel"))
        assert cancel.status_code == 202 and cancel.json() == {}
        run = spec.check(api.http.get(f"/runs/{run_id}")).json()
        assert (run["state"], run["termination_reason"], run["output"]) == (
            "TERMINATED", "CANCELED_BY_USER", "PARTIAL")
        assert run["statistics"]["item_skipped_count"] == 3
        assert spec.check(api.http.post(f"/runs/{run_id}/cancel")).status_code == 409
        items = {i["external_id"]: i for i in api.items(run_id)}
        assert items["quick"]["output_artifacts"][0]["output"] == "AVAILABLE"
        assert {items[f"slow{i}"]["termination_reason"] for i in range(3)} == {"SKIPPED"}
        wait_for(lambda: server.platform is not None
                 and not server.platform.store.processing_items())
        assert api.http.get(f"/runs/{run_id}").json()["statistics"]["item_skipped_count"] == 3


@pytest.mark.slow
def test_delete_results_then_gone(tmp_path: Path, openapi_spec: dict) -> None:
    spec = SpecChecker(openapi_spec)
    with _platform(tmp_path) as server:
        api = Api(server.api_root, server.token)
        run_id = api.submit([{"external_id": "a", "data": slide_bytes()}])
        api.wait(run_id)
        artifact = api.items(run_id)[0]["output_artifacts"][0]
        link = api.http.get(f"/runs/{run_id}/artifacts/{artifact['output_artifact_id']}/file")
        assert spec.check(api.http.delete(f"/runs/{run_id}/artifacts")).status_code == 200
        after = api.items(run_id)[0]["output_artifacts"][0]
        assert after["output"] == "DELETED_BY_USER" and after["metadata"] is None
        assert spec.check(api.http.delete(f"/runs/{run_id}/artifacts")).status_code == 410
        gone = api.http.get(f"/runs/{run_id}/artifacts/{artifact['output_artifact_id']}/file")
        assert spec.check(gone).status_code == 410
        assert httpx.get(link.headers["location"]).status_code == 410
        assert not list((server.data_dir / "objects" / "outputs" / run_id).iterdir())


@pytest.mark.slow
def test_outputs_expire_after_retention(tmp_path: Path) -> None:
    with _platform(tmp_path, retention_days=1.5 / 86400, maintenance_interval_s=0.2) as server:
        api = Api(server.api_root, server.token)
        run_id = api.submit([{"external_id": "a", "data": slide_bytes()}])
        api.wait(run_id)
        wait_for(lambda: api.items(run_id)[0]["output_artifacts"][0]["output"] == "DELETED_BY_SYSTEM")


@pytest.mark.slow
def test_system_cancels_after_too_many_failures(tmp_path: Path) -> None:
    with _platform(tmp_path, failed_items_threshold=2, items_per_run_parallel=1) as server:
        api = Api(server.api_root, server.token)
        run_id = api.submit(
            [{"external_id": f"bad{i}", "data": slide_bytes(), "metadata": {"behaviour": "fail_user"}}
             for i in range(5)]
        )
        run = api.wait(run_id)
        assert run["termination_reason"] == "CANCELED_BY_SYSTEM"
        assert run["error_code"] == "SCHEDULER.ITEMS_WITH_ERROR_THRESHOLD_REACHED"
        assert run["statistics"]["item_user_error_count"] == 2
        assert run["statistics"]["item_skipped_count"] == 3


@pytest.mark.slow
def test_deadline_cancels_the_run(tmp_path: Path) -> None:
    with _platform(tmp_path) as server:
        api = Api(server.api_root, server.token)
        deadline = (datetime.now(UTC) + timedelta(seconds=4)).isoformat()  # must lie ahead
        run_id = api.submit(
            [{"external_id": "slow", "data": slide_bytes(), "metadata": {"behaviour": "sleep:30"}}],
            scheduling={"deadline": deadline},
        )
        run = api.wait(run_id, timeout=25)
        assert (run["termination_reason"], run["error_code"]) == (
            "CANCELED_BY_SYSTEM", "SCHEDULER.DEADLINE_EXCEEDED")
        assert run["scheduling"]["deadline"]
        item = api.items(run_id)[0]
        assert item["termination_reason"] == "SKIPPED" and "deadline" in item["error_message"]


@pytest.mark.slow
def test_checksum_mismatch_is_a_user_error(tmp_path: Path) -> None:
    with _platform(tmp_path) as server:
        api = Api(server.api_root, server.token)
        url = api.upload(b"real bytes")
        body = {"application_id": "lifecycle", "items": [{"external_id": "a", "input_artifacts": [{
            "name": "whole_slide_image", "download_url": url,
            "metadata": {"checksum_base64_crc32c": "AAAAAA=="}}]}]}
        run_id = api.http.post("/runs", json=body).json()["run_id"]
        api.wait(run_id)
        item = api.items(run_id)[0]
        assert (item["termination_reason"], item["error_code"]) == ("USER_ERROR", "INPUT.CHECKSUM_MISMATCH")
        assert "AAAAAA==" in item["error_message"]


@pytest.mark.slow
def test_quotas_answer_402(tmp_path: Path) -> None:
    with _platform(tmp_path, quota_slides_per_run=2, quota_parallel_runs=1,
                   quota_slides_per_month=4) as server:
        api = Api(server.api_root, server.token)
        data = slide_bytes()
        three = [{"external_id": f"s{i}", "data": data} for i in range(3)]
        with pytest.raises(AssertionError, match="402.*2 slides per run"):
            api.submit(three)
        first = api.submit([{"external_id": "slow", "data": data, "metadata": {"behaviour": "sleep:60"}}])
        with pytest.raises(AssertionError, match="402.*unfinished runs"):
            api.submit([{"external_id": "b", "data": data}])
        assert api.http.post(f"/runs/{first}/cancel").status_code == 202  # no race with the sleep
        api.wait(first)
        api.wait(api.submit([{"external_id": "x", "data": data}, {"external_id": "y", "data": data}]))
        with pytest.raises(AssertionError, match="402.*3 of 4 slides this month"):
            api.submit([{"external_id": "c", "data": data}, {"external_id": "d", "data": data}])


def _serve(data_dir: Path, port: int) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=str(TESTS))
    return subprocess.Popen(
        [sys.executable, "-m", "napari_aignostics.cli", "serve", "--port", str(port), "--data-dir",
         str(data_dir), "--token", "tok", "--application", "server_helpers:LIFECYCLE_APP",
         "--workers", "1"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_healthy(root: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read() if process.stdout else ""
        try:
            if httpx.get(f"{root}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError("server did not start")


@pytest.mark.slow
def test_kill_minus_nine_and_restart(tmp_path: Path) -> None:
    port = _free_port()
    root = f"http://127.0.0.1:{port}"
    server = _serve(tmp_path / "data", port)
    try:
        _wait_healthy(root, server)
        api = Api(root, "tok")
        done = api.submit([{"external_id": "done", "data": slide_bytes()}])
        api.wait(done)
        run_id = api.submit(
            [{"external_id": "long", "data": slide_bytes(), "metadata": {"behaviour": "sleep:4"}},
             {"external_id": "next", "data": slide_bytes()}]
        )
        wait_for(lambda: api.http.get(f"/runs/{run_id}").json()["state"] == "PROCESSING")
        server.send_signal(signal.SIGKILL)
        server.wait(10)
        server = _serve(tmp_path / "data", port)
        _wait_healthy(root, server)
        run = api.wait(run_id, timeout=60)
        assert run["termination_reason"] == "ALL_ITEMS_PROCESSED"
        assert run["statistics"]["item_succeeded_count"] == 2
        finished = api.wait(done)
        assert finished["output"] == "FULL"
        artifact = api.items(done)[0]["output_artifacts"][0]
        link = api.http.get(f"/runs/{done}/artifacts/{artifact['output_artifact_id']}/file")
        assert httpx.get(link.headers["location"]).json()["bytes"] > 0
        server.send_signal(signal.SIGTERM)
        assert server.wait(30) == 0
    finally:
        if server.poll() is None:
            server.kill()


@pytest.mark.slow
def test_item_interrupted_twice_ends_interrupted_and_its_work_folder_goes(tmp_path: Path) -> None:
    from napari_aignostics.server.lifecycle import start_item

    with _platform(tmp_path, worker_threads=0) as server:  # holds the run in the queue
        api = Api(server.api_root, "tok")
        run_id = api.submit([{"external_id": "twice", "data": slide_bytes()}])
        item_id = api.items(run_id)[0]["item_id"]
    for crash in (1, 2):
        with _platform(tmp_path, worker_threads=0) as server:
            platform = server.platform
            assert platform is not None
            row = platform.store.items([item_id])[item_id].item
            assert (row.state, row.attempts) == ("PENDING", crash - 1)
            # the worker claims the item and writes into its work folder, then the process dies
            assert start_item(platform.store, item_id)
            work = platform.objects.item_work_dir(item_id)
            (work / "half-written.tiff").write_bytes(b"\0" * 1000)
    with _platform(tmp_path, worker_threads=0) as server:
        api = Api(server.api_root, "tok")
        item = api.items(run_id)[0]
        run = api.http.get(f"/runs/{run_id}").json()
        assert not work.exists()
    assert (item["state"], item["termination_reason"]) == ("TERMINATED", "SYSTEM_ERROR")
    assert item["error_code"] == "WORKER.INTERRUPTED" and "2 times" in item["error_message"]
    assert run["state"] == "TERMINATED" and run["statistics"]["item_system_error_count"] == 1


def test_undecodable_slide_ends_user_error_with_the_readers_message(tmp_path: Path,
                                                                   test_data: Path) -> None:
    data = (test_data / "wsi_edge_cases" / "unreadable.svs").read_bytes()
    meta = {"width_px": 16, "height_px": 16, "resolution_mpp": 0.499}
    with LocalPlatform(tmp_path / "platform", "tok", worker_threads=1) as server:
        api = Api(server.api_root, "tok")
        run_id = api.submit([{"external_id": "broken", "data": data, "metadata": meta}],
                            app="test-app")
        run = api.wait(run_id, timeout=60)
        item = api.items(run_id)[0]
    assert (item["termination_reason"], item["error_code"]) == ("USER_ERROR",
                                                                "INPUT.UNREADABLE_SLIDE")
    assert "could not be decoded (Jpeg8Error: Bogus marker length)" in item["error_message"]
    assert run["output"] == "NONE" and run["statistics"]["item_user_error_count"] == 1
