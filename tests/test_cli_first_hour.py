"""CLI outcomes a newcomer meets first: an invalid slide in a folder, a deleted run's download."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from napari_aignostics.cli import main
from napari_aignostics.platform.client import PlatformClient
from napari_aignostics.server.embedded import LocalPlatform
from server_helpers import LIFECYCLE_APP, Api, slide_bytes


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LocalPlatform]:
    with LocalPlatform(tmp_path / "platform", "tok", applications=[LIFECYCLE_APP],
                       builtin=False) as platform:
        yield platform


def cli(server: LocalPlatform, *args: str) -> int:
    return main(["--api-root", server.api_root, "--token", "tok", *args])


def test_one_invalid_slide_is_skipped_only_when_asked(
        server: LocalPlatform, wsi_dir: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "slides"
    folder.mkdir()
    shutil.copy(wsi_dir / "CMU-1-Small-Region.svs", folder)
    shutil.copy(wsi_dir.parent / "wsi_edge_cases" / "unreadable.svs", folder)
    (folder / "truncated.svs").write_bytes((wsi_dir / "CMU-1-Small-Region.svs").read_bytes()[:5000])

    assert cli(server, "run", "submit", "lifecycle", str(folder)) == 1
    err = capsys.readouterr().err
    assert "2 of 3 slide(s) cannot be submitted, nothing was uploaded" in err
    assert "unreadable.svs" in err and "truncated.svs" in err and "--skip-invalid" in err
    with PlatformClient(server.api_root, "tok") as client:
        assert list(client.list_runs()) == []

    assert cli(server, "run", "submit", "lifecycle", str(folder), "--skip-invalid") == 0
    captured = capsys.readouterr()
    assert "skipped 2 invalid slide(s)" in captured.err and "unreadable.svs" in captured.err
    run_id = captured.out.strip().splitlines()[-1]
    with PlatformClient(server.api_root, "tok") as client:
        (item,) = client.list_items(run_id)
    assert item.external_id.endswith("CMU-1-Small-Region.svs")


def test_a_slide_without_pixel_size_is_flagged_before_upload(
        server: LocalPlatform, wsi_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(server, "run", "submit", "lifecycle",
               str(wsi_dir / "tcga-cr-7395-01a-01-ts1.svs")) == 1
    assert "no pixel size" in capsys.readouterr().err


def test_download_of_deleted_results_fails_clearly(
        server: LocalPlatform, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    api = Api(server.api_root, "tok")
    run_id = api.submit([{"external_id": "a", "data": slide_bytes()}])
    api.wait(run_id)
    assert cli(server, "run", "delete", run_id) == 0
    capsys.readouterr()
    out = tmp_path / "out"
    assert cli(server, "run", "result", "download", run_id, str(out)) == 1
    err = capsys.readouterr().err
    assert f"the results of run {run_id} were deleted" in err
    assert not [p for p in out.rglob("*") if p.is_dir() and not any(p.iterdir())]  # no empty folders
