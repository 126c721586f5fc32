"""Download of a large artifact from the local platform: our verified, resumable client vs curl.

Goal: throughput >= 0.5x curl's on the same signed URL, with flat memory. ``--size-mb`` (default 256;
1024 for the full size). The platform runs in its own process (``napari-aignostics serve``), as it
does for a user, so the server does not share the client's interpreter.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from napari_aignostics.apps.base import (
    AnalysisContext,
    ApplicationSpec,
    ProducedArtifact,
    VersionSpec,
)
from napari_aignostics.platform.client import PlatformClient
from napari_aignostics.platform.download import download_artifact
from napari_aignostics.slides.checksum import crc32c_base64

SIZE_MB = int(os.environ.get("BENCH_SIZE_MB", "256"))


def _big(ctx: AnalysisContext) -> list[ProducedArtifact]:
    out = ctx.output_dir / "big.bin"
    block = os.urandom(1 << 20)
    with out.open("wb") as handle:
        for _ in range(SIZE_MB):
            handle.write(block)
    return [ProducedArtifact("big:blob", out, {"media_type": "application/octet-stream"})]


APP = ApplicationSpec("big", "Big", "one large artifact", [], [VersionSpec(
    "1.0.0", "", datetime(2025, 1, 1, tzinfo=UTC),
    [{"name": "whole_slide_image", "mime_type": "image/tiff", "metadata_schema": {"type": "object"}}],
    [{"name": "big:blob", "mime_type": "application/octet-stream", "metadata_schema": {},
      "scope": "ITEM", "visibility": "EXTERNAL"}], _big)])


@contextlib.contextmanager
def _server(tmp: Path) -> Iterator[str]:
    """``napari-aignostics serve`` with this module's application, in another process."""
    env = {**os.environ, "BENCH_SIZE_MB": str(SIZE_MB),
           "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent),
                                          os.environ.get("PYTHONPATH", "")])}
    server = subprocess.Popen(
        [sys.executable, "-m", "napari_aignostics.cli", "serve", "--port", "0", "--data-dir",
         str(tmp / "platform"), "--token", "bench", "--workers", "1",
         "--application", "bench_platform:APP"],
        stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        if not line.startswith("local platform: "):
            raise SystemExit(f"the local platform did not start: {line!r}")
        yield line.split()[2]
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(60)


def main() -> int:
    global SIZE_MB
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mb", type=int, default=SIZE_MB)
    SIZE_MB = parser.parse_args().size_mb
    with tempfile.TemporaryDirectory() as tmp, _server(Path(tmp)) as api_root, PlatformClient(
        api_root, "bench"
    ) as client:
        from napari_aignostics.platform.submit import submit_slides

        slide = Path(tmp) / "input.tiff"
        slide.write_bytes(b"II*\x00" + b"\x00" * 64)
        run_id = submit_slides(client, "big", None, [(slide, {})])
        while client.run(run_id).state != "TERMINATED":
            time.sleep(0.5)
        item = next(client.list_items(run_id))
        artifact = item.output_artifacts[0]
        url = client.artifact_url(run_id, artifact.output_artifact_id)
        start = time.perf_counter()
        subprocess.run(["curl", "-s", "-o", str(Path(tmp) / "curl.bin"), url], check=True)
        curl_s = time.perf_counter() - start
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        target = Path(tmp) / "ours.bin"
        start = time.perf_counter()
        download_artifact(client, run_id, artifact, target)
        ours_s = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        assert crc32c_base64(target) == artifact.metadata["checksum_base64_crc32c"]
    ratio = curl_s / ours_s
    print(f"{SIZE_MB} MB artifact: curl {SIZE_MB / curl_s:.0f} MB/s, ours (with CRC32C) "
          f"{SIZE_MB / ours_s:.0f} MB/s; throughput ratio {ratio:.2f}x (goal >= 0.5x)")
    print(f"peak RSS growth during our download: {(after - before) / 1024:.0f} MB (flat = ~0)")
    return 0 if ratio >= 0.5 else 1


if __name__ == "__main__":
    sys.exit(main())
