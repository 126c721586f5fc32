"""The local platform's items on a dask.distributed LocalCluster of 2 worker processes."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from napari_aignostics.server.cluster import ClusterExecutor
from napari_aignostics.server.embedded import LocalPlatform
from napari_aignostics.slides.checksum import crc32c_base64_bytes
from server_helpers import LIFECYCLE_APP, Api, slide_bytes, wait_for

distributed = pytest.importorskip("distributed")

pytestmark = pytest.mark.slow

TME_METADATA = {"staining_method": "H&E", "specimen": {"disease": "LUNG_CANCER"}}


@pytest.fixture(scope="module")
def cluster() -> Iterator[ClusterExecutor]:
    """Two worker processes, one thread each, on loopback; an interrupted item is retried once."""
    import dask

    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        local = distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
            dashboard_address=None,
        )
    client = distributed.Client(local, set_as_default=False)
    try:
        yield ClusterExecutor(client)
    finally:
        client.close()
        local.close()


@pytest.fixture(scope="module")
def small_slide(cmu_slide: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 1024 px square of CMU-1-Small-Region as a one-level SVS (one nuclei tile, ~650 cells)."""
    import numpy as np
    import tifffile

    from napari_aignostics.slides.reader import open_slide

    with open_slide(cmu_slide) as slide:
        rgb = np.asarray(slide.levels[0][400:1424, 400:1424].compute())[..., :3]
        mpp = slide.mpp
    target = tmp_path_factory.mktemp("slide") / "cmu-crop.svs"
    tifffile.imwrite(
        target, rgb, photometric="rgb", tile=(256, 256), compression="zlib", metadata=None,
        software=False,
        description=f"Aperio Image Library v12.0.0\r\n1024x1024 [0,0 1024x1024] (256x256) RGB"
        f"|AppMag = 20|MPP = {mpp}",
    )
    return target


def _artifacts(api: Api, run_id: str) -> list[dict[str, Any]]:
    """Per item: artifact name -> (checksum of the downloaded bytes, the bytes)."""
    found = []
    for item in sorted(api.items(run_id), key=lambda i: i["external_id"]):
        assert item["termination_reason"] == "SUCCEEDED", item
        files = {}
        for artifact in item["output_artifacts"]:
            link = api.http.get(f"/runs/{run_id}/artifacts/{artifact['output_artifact_id']}/file")
            data = httpx.get(link.headers["location"]).content
            assert crc32c_base64_bytes(data) == artifact["metadata"]["checksum_base64_crc32c"]
            files[artifact["name"]] = data
        found.append(files)
    return found


def _comparable(files: dict[str, bytes]) -> dict[str, Any]:
    """Checksums of the artifacts; GeoJSON features without their random ids."""
    out: dict[str, Any] = {}
    for name, data in files.items():
        if name.endswith("geojson_polygons"):
            features = orjson.loads(data)["features"]
            out[name] = [{k: v for k, v in f.items() if k != "id"} for f in features]
        else:
            out[name] = crc32c_base64_bytes(data)
    return out


def _cell_count(files: dict[str, bytes]) -> int:
    lines = files["readout_generation:slide_readouts"].decode().splitlines()[1:3]
    row = dict(zip(lines[0].split(","), lines[1].split(","), strict=True))
    return int(row["CELL_COUNT_TOTAL"])


def test_local_tme_run_on_two_processes_matches_the_thread_pool(
    cluster: ClusterExecutor, small_slide: Path, tmp_path: Path
) -> None:
    data = small_slide.read_bytes()
    with LocalPlatform(tmp_path / "threads", "tok", worker_threads=1) as server:
        api = Api(server.api_root, "tok")
        run_id = api.submit(
            [{"external_id": "cmu", "data": data, "metadata": TME_METADATA}], app="local-tme"
        )
        assert api.wait(run_id, timeout=120)["output"] == "FULL"
        expected = _artifacts(api, run_id)[0]
    with LocalPlatform(
        tmp_path / "cluster", "tok", executor=cluster, worker_threads=2,
        items_per_run_parallel=2, item_threads=1,
    ) as server:
        api = Api(server.api_root, "tok")
        items = [{"external_id": f"cmu-{i}", "data": data, "metadata": TME_METADATA}
                 for i in range(4)]
        run_id = api.submit(items, app="local-tme")
        run = api.wait(run_id, timeout=240)
        assert (run["state"], run["output"]) == ("TERMINATED", "FULL")
        produced = _artifacts(api, run_id)
    assert len(produced) == 4
    assert _cell_count(expected) > 300
    for files in produced:
        assert set(files) == set(expected)
        assert _cell_count(files) == _cell_count(expected)
        assert _comparable(files) == _comparable(expected)
    pids = set(cluster.client.run(os.getpid).values())
    assert len(pids) == 2 and os.getpid() not in pids


def _lifecycle(tmp_path: Path, cluster: ClusterExecutor) -> LocalPlatform:
    return LocalPlatform(
        tmp_path / "platform", "tok", applications=[LIFECYCLE_APP], builtin=False,
        executor=cluster, worker_threads=2, items_per_run_parallel=2,
    )


def _sleeping(count: int, seconds: float) -> list[dict[str, Any]]:
    return [{"external_id": f"slow-{i}", "data": slide_bytes(),
             "metadata": {"behaviour": f"sleep:{seconds}"}} for i in range(count)]


def test_cancel_reaches_running_tasks_and_skips_pending(
    cluster: ClusterExecutor, tmp_path: Path
) -> None:
    with _lifecycle(tmp_path, cluster) as server:
        api = Api(server.api_root, "tok")
        run_id = api.submit(_sleeping(4, 60))
        worker = server.worker
        assert worker is not None
        wait_for(lambda: worker.busy == 2)
        wait_for(lambda: api.http.get(f"/runs/{run_id}").json()["statistics"]
                  ["item_processing_count"] == 2)
        assert api.http.post(f"/runs/{run_id}/cancel").status_code == 202
        run = api.wait(run_id, timeout=10)
        assert run["output"] == "NONE"
        assert {i["termination_reason"] for i in api.items(run_id)} == {"SKIPPED"}
        started = time.monotonic()
        wait_for(lambda: worker.busy == 0, timeout=15)  # the running tasks stopped early
        assert time.monotonic() - started < 15
        assert not cluster.client.processing() or all(
            not keys for keys in cluster.client.processing().values()
        )


def test_killed_worker_process_retries_or_ends_the_item(
    cluster: ClusterExecutor, tmp_path: Path
) -> None:
    with _lifecycle(tmp_path, cluster) as server:
        api = Api(server.api_root, "tok")
        run_id = api.submit(_sleeping(2, 4))
        wait_for(lambda: sum(len(k) for k in cluster.client.processing().values()) == 2)
        victim = next(iter(cluster.client.run(os.getpid).values()))
        os.kill(victim, signal.SIGKILL)
        run = api.wait(run_id, timeout=90)
        assert run["state"] == "TERMINATED"
        items = api.items(run_id)
        assert len(items) == 2
        for item in items:
            assert item["termination_reason"] in {"SUCCEEDED", "SYSTEM_ERROR"}, item
            if item["termination_reason"] == "SYSTEM_ERROR":
                assert item["error_code"] == "WORKER.INTERRUPTED"
        assert run["statistics"]["item_succeeded_count"] >= 1
