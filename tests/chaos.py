"""The chaos scenario: CLI submissions with ``--download`` through the fault proxy, then a census.

Shared by the short CI test and ``benchmarks/bench_chaos.py``. Every run is
``napari-aignostics run submit APP SLIDE --download DIR`` against the proxy; afterwards the real
platform is asked directly (not through the proxy) which runs exist, to count orphans and duplicates.
"""

from __future__ import annotations

import io
import json
import time
from collections import Counter
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path

from fault_proxy import FaultProxy
from napari_aignostics.apps.base import ApplicationSpec
from napari_aignostics.cli import main
from napari_aignostics.platform.client import SUBMISSION_KEY, PlatformClient
from napari_aignostics.server.embedded import LocalPlatform
from napari_aignostics.slides.checksum import crc32c_base64


@dataclass
class ChaosReport:
    """What happened to ``runs`` submissions at ``rate`` injected faults."""

    runs: int
    completed: int = 0
    files_verified: int = 0
    corrupt: int = 0
    partial_files: int = 0
    orphans: int = 0
    duplicates: int = 0
    requests: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)
    reconnects: int = 0


def _verify(folder: Path, run_id: str, report: ChaosReport) -> bool:
    manifest_path = folder / run_id / "manifest.json"
    if not manifest_path.is_file():
        report.failures.append(f"{run_id}: no manifest")
        return False
    manifest = json.loads(manifest_path.read_text())
    complete = manifest["state"] == "TERMINATED" and all(
        item["termination_reason"] == "SUCCEEDED" and item["artifacts"]
        for item in manifest["items"]
    )
    for item in manifest["items"]:
        for artifact in item["artifacts"]:
            path = folder / run_id / artifact["file"]
            if path.is_file() and crc32c_base64(path) == artifact["checksum_base64_crc32c"]:
                report.files_verified += 1
            else:
                report.corrupt += 1
                complete = False
    return complete


def run_chaos(
    slide: Path,
    work: Path,
    *,
    runs: int,
    rate: float,
    seed: int,
    application: str = "test-app",
    applications: list[ApplicationSpec] | None = None,
    interval: float = 0.3,
) -> ChaosReport:
    """Submit ``runs`` runs through a proxy injecting faults into ``rate`` of all requests."""
    report = ChaosReport(runs=runs)
    started = time.perf_counter()
    with (
        LocalPlatform(
            work / "platform", "chaos-token", applications=applications, builtin=not applications
        ) as platform,
        FaultProxy(platform.api_root, rate=rate, seed=seed) as proxy,
    ):
        reported: set[str] = set()
        for index in range(runs):
            folder = work / f"results-{index}"
            out, err = io.StringIO(), io.StringIO()
            argv = ["--api-root", proxy.url, "--token", platform.token, "run", "submit",
                    application, str(slide), "--download", str(folder),
                    "--interval", str(interval), "--patience", "120"]  # fmt: skip
            with redirect_stdout(out), redirect_stderr(err):
                code = main(argv)
            report.reconnects += err.getvalue().count("reconnecting")
            lines = out.getvalue().split()
            run_id = lines[-1] if lines else ""
            if run_id:
                reported.add(run_id)
            if code == 0 and run_id and _verify(folder, run_id, report):
                report.completed += 1
            else:
                tail = err.getvalue().strip().splitlines()[-1:] or ["(no output)"]
                report.failures.append(f"run {index}: exit {code}: {tail[0]}")
        report.requests = proxy.requests
        report.faults = proxy.faults
        with PlatformClient(platform.api_root, platform.token) as client:
            existing = list(client.list_runs())
        stamps = Counter(
            str(((run.custom_metadata or {}).get(SUBMISSION_KEY) or {}).get("submission_id"))
            for run in existing
        )
        report.duplicates = sum(count - 1 for count in stamps.values())
        report.orphans = sum(1 for run in existing if run.run_id not in reported)
    report.partial_files = len(list(work.glob("results-*/**/*.part")))
    report.seconds = time.perf_counter() - started
    return report
