"""Uploads, submission, following and verified downloads — against the real local platform."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from napari_aignostics.cli import main
from napari_aignostics.platform import models as m
from napari_aignostics.platform.client import PlatformClient
from napari_aignostics.platform.download import download_artifact
from napari_aignostics.platform.errors import (
    ChecksumMismatchError,
    LocalValidationError,
    PlatformError,
)
from napari_aignostics.platform.follow import ArtifactDownloaded, RunFinished, follow_run
from napari_aignostics.platform.results_layout import item_folder
from napari_aignostics.platform.submit import submit_slides
from napari_aignostics.server.embedded import LocalPlatform
from napari_aignostics.slides.checksum import crc32c_base64, crc32c_base64_bytes


@pytest.mark.slow
def test_cli_submit_wait_download(server: LocalPlatform, cmu_slide: Path, tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "results"
    code = main(["--api-root", server.api_root, "--token", server.token, "run", "submit",
                 "lifecycle:1.0.0", str(cmu_slide), "--download", str(out), "--interval", "0.2",
                 "--note", "from the CLI", "--tag", "cli"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    run_id = captured.out.strip().splitlines()[-1]
    manifest = json.loads((out / run_id / "manifest.json").read_text())
    assert manifest["application_id"] == "lifecycle" and len(manifest["items"]) == 1
    artifact = manifest["items"][0]["artifacts"][0]
    path = out / run_id / artifact["file"]
    assert crc32c_base64(path) == artifact["checksum_base64_crc32c"]
    assert json.loads(path.read_text())["bytes"] == cmu_slide.stat().st_size
    assert manifest["items"][0]["folder"].startswith("CMU-1-Small-Region-")
    assert not list(out.rglob("*.part"))

    assert main(["--api-root", server.api_root, "--token", server.token, "run", "list"]) == 0
    listed = capsys.readouterr().out
    assert run_id in listed and "from the CLI" in listed
    again = tmp_path / "again"
    assert main(["--api-root", server.api_root, "--token", server.token, "run", "result",
                 "download", run_id, str(again)]) == 0
    assert (again / run_id / "manifest.json").is_file()
    assert main(["--api-root", server.api_root, "--token", server.token, "whoami"]) == 0
    whoami = capsys.readouterr().out
    me = httpx.get(f"{server.api_root}/api/v1/me", headers={"Authorization": "Bearer tok"}).json()
    assert me["organization"]["aignostics_bucket_hmac_secret_access_key"] not in whoami
    assert main(["--api-root", server.api_root, "--token", server.token, "run", "cancel",
                 run_id]) == 1
    assert "409" in capsys.readouterr().err


def test_cli_errors_are_one_line(server: LocalPlatform, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--api-root", server.api_root, "--token", "wrong", "application", "list"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: HTTP 401") and "login" in err and "\n" not in err
    assert main(["--api-root", server.api_root, "--token", server.token, "run", "describe",
                 "00000000-0000-0000-0000-000000000000"]) == 1
    assert "404" in capsys.readouterr().err
    assert main(["--api-root", server.api_root, "--token", server.token, "run", "submit",
                 "lifecycle", str(tmp_path / "missing.svs")]) == 1
    assert "no such file" in capsys.readouterr().err


def test_submit_validates_locally_first(server: LocalPlatform, cmu_slide: Path) -> None:
    with PlatformClient(server.api_root, server.token) as client:
        with pytest.raises(LocalValidationError, match="checksum_base64_crc32c"):
            submit_slides(client, "lifecycle", "1.0.0", [(cmu_slide, {"width_px": 5})])
        with pytest.raises(LocalValidationError, match="twice"):
            meta = {"checksum_base64_crc32c": crc32c_base64(cmu_slide)}
            submit_slides(client, "lifecycle", None, [(cmu_slide, meta), (cmu_slide, meta)])
        assert list(client.list_runs()) == []


@pytest.mark.slow
def test_follow_yields_events_and_downloads(server: LocalPlatform, cmu_slide: Path,
                                            tmp_path: Path) -> None:
    fractions: list[float] = []
    pauses: list[float] = []

    def pause(seconds: float) -> None:
        pauses.append(seconds)
        time.sleep(seconds)

    with PlatformClient(server.api_root, server.token) as client:
        run_id = submit_slides(
            client, "lifecycle", None,
            [(cmu_slide, {"checksum_base64_crc32c": crc32c_base64(cmu_slide)})],
            progress=lambda f, _m: fractions.append(f),
        )
        events = list(follow_run(client, run_id, tmp_path, interval=0.1, sleep=pause))
    assert fractions[-1] == 1.0 and fractions == sorted(fractions)
    # a poll every 0.1 s: each pause is what the round before it left of the interval
    assert pauses and all(0.0 <= p < 0.1 for p in pauses)
    kinds = [type(e).__name__ for e in events]
    assert kinds[0] == "RunUpdated" and kinds[-1] == "RunFinished"
    downloaded = [e for e in events if isinstance(e, ArtifactDownloaded)]
    assert len(downloaded) == 1 and downloaded[0].path.is_file()
    final = events[-1]
    assert isinstance(final, RunFinished) and final.run.output == m.RunOutput.FULL


class _Recording(httpx.HTTPTransport):
    """A real transport that notes each request's method and path."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(f"{request.method} {request.url.path}")
        return super().handle_request(request)


def test_one_injected_transport_carries_upload_and_downloads(server: LocalPlatform,
                                                             tmp_path: Path) -> None:
    slide = tmp_path / "slide.tiff"
    slide.write_bytes(bytes(range(256)) * 64)
    transport = _Recording()
    with PlatformClient(server.api_root, server.token, transport=transport) as client:
        run_id = submit_slides(client, "lifecycle", "1.0.0",
                               [(slide, {"checksum_base64_crc32c": crc32c_base64(slide)})])
        events = list(follow_run(client, run_id, tmp_path / "results", interval=0.1))
    assert isinstance(events[-1], RunFinished)
    puts = [r for r in transport.seen if r.startswith("PUT /bucket/")]
    files = [r for r in transport.seen if r.startswith("GET /files/")]
    assert len(puts) == 1 and puts[0].endswith("/slide.tiff")
    assert len(files) == 1  # the artifact's bytes came through the injected transport too
    downloaded = [e for e in events if isinstance(e, ArtifactDownloaded)]
    assert json.loads(downloaded[0].path.read_text())["bytes"] == slide.stat().st_size


# --- faults the real server cannot produce ---------------------------------------------------


DATA = bytes(range(256)) * 4096  # 1 MiB


def _artifact(checksum: str) -> m.OutputArtifactResultReadResponse:
    return m.OutputArtifactResultReadResponse(
        output_artifact_id="a1", name="cells:parquet", state=m.ArtifactState.TERMINATED,
        output=m.ArtifactOutput.AVAILABLE,
        metadata={"checksum_base64_crc32c": checksum, "media_type": "application/json"},
    )


def _api(
    files: Callable[[httpx.Request], httpx.Response], location: str = "https://files.example/a1"
) -> PlatformClient:
    """A client whose one transport answers the API (a redirect) and the file host (``files``)."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "files.example":
            return files(request)
        assert request.headers["authorization"] == "Bearer t"
        return httpx.Response(307, headers={"Location": location})

    return PlatformClient("https://api.example", "t", transport=httpx.MockTransport(handler),
                          sleep=lambda _s: None)


class _Broken(httpx.SyncByteStream):
    def __init__(self, data: bytes) -> None:
        self.data = data

    def __iter__(self) -> Iterator[bytes]:
        yield self.data[: len(self.data) // 3]
        raise httpx.ReadError("connection reset")


def test_download_resumes_with_range_after_a_reset(tmp_path: Path) -> None:
    seen: list[dict[str, Any]] = []

    def files(request: httpx.Request) -> httpx.Response:
        assert "authorization" not in request.headers
        seen.append(dict(request.headers))
        if "range" not in request.headers:
            return httpx.Response(200, stream=_Broken(DATA))
        start = int(request.headers["range"].split("=")[1].rstrip("-"))
        return httpx.Response(206, content=DATA[start:])

    target = tmp_path / "a.json"
    size, skipped = download_artifact(_api(files), "r", _artifact(crc32c_base64_bytes(DATA)),
                                      target)
    assert (size, skipped) == (len(DATA), False)
    assert target.read_bytes() == DATA and not (tmp_path / "a.json.part").exists()
    assert seen[1]["range"] == f"bytes={len(DATA) // 3}-"
    assert download_artifact(_api(files), "r", _artifact(crc32c_base64_bytes(DATA)),
                             target) == (len(DATA), True)


def test_checksum_mismatch_leaves_no_file(tmp_path: Path) -> None:
    target = tmp_path / "a.json"
    with pytest.raises(ChecksumMismatchError, match="CRC32C"):
        download_artifact(_api(lambda request: httpx.Response(200, content=DATA)), "r",
                          _artifact("AAAAAA=="), target)
    assert list(tmp_path.iterdir()) == []


def test_expired_link_is_a_clear_error(tmp_path: Path) -> None:
    api = _api(lambda request: httpx.Response(403, text="expired"))
    with pytest.raises(PlatformError, match="expired"):
        download_artifact(api, "r", _artifact("AAAAAA=="), tmp_path / "a.json")


@pytest.mark.parametrize("external_id", ["../../evil", "/etc/passwd", "a\x00b", "..", "CON", "C:\\x"])
def test_untrusted_external_ids_stay_inside(tmp_path: Path, external_id: str) -> None:
    folder = item_folder(tmp_path, "run", external_id)
    assert folder.resolve().is_relative_to(tmp_path.resolve())
    assert folder.parent.name == "run"
