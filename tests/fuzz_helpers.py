"""Schemathesis with the published contract against the real local platform.

Used by ``test_server_fuzz.py`` (few examples, inside the CI budget) and by
``benchmarks/bench_contract_fuzz.py`` (a longer run).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from napari_aignostics.server.embedded import LocalPlatform
from server_helpers import LIFECYCLE_APP, Api, slide_bytes

# Statuses the published contract's text gives for data its schemas cannot rule out: schema
# errors in input metadata (400), quotas (402), dates in the past (422), non-viewer grants (422),
# stale checksums (412), deleted results (410), a sort field that is not among the listed
# "Available fields", or not a field of the listed objects (422). Everything else keeps schemathesis' defaults.
DEFAULT_ACCEPTED = ["2xx", "3xx", "401", "403", "404", "409", "429"]
BUSINESS_STATUSES = {
    ("POST", "/v1/runs"): ["400", "402", "422"],
    ("GET", "/v1/applications"): ["422"],
    ("GET", "/v1/runs"): ["422"],
    ("GET", "/v1/runs/{run_id}/items"): ["422"],
    ("GET", "/v1/access/grants"): ["422"],
    ("GET", "/v1/access/share-tokens"): ["422"],
    ("POST", "/v1/access/grants"): ["422"],
    ("POST", "/v1/access/share-tokens"): ["422"],
    ("PUT", "/v1/runs/{run_id}/custom-metadata"): ["412"],
    ("PUT", "/v1/runs/{run_id}/items/{external_id}/custom-metadata"): ["412"],
    ("DELETE", "/v1/runs/{run_id}/artifacts"): ["410"],
    ("GET", "/v1/runs/{run_id}/artifacts/{artifact_id}/file"): ["410"],
}


@dataclass
class FuzzResult:
    """What one schemathesis run reported."""

    returncode: int
    output: str
    seconds: float


def schemathesis_cli() -> str | None:
    """The schemathesis executable of this environment, if installed."""
    return shutil.which("schemathesis", path=str(Path(sys.executable).parent))


def _config(run_id: str, artifact_id: str) -> str:
    lines = [
        "[parameters]",
        f'"path.run_id" = "{run_id}"',
        '"path.external_id" = "seed"',
        f'"path.artifact_id" = "{artifact_id}"',
        "",
    ]
    for (method, path), extra in BUSINESS_STATUSES.items():
        statuses = ", ".join(f'"{s}"' for s in DEFAULT_ACCEPTED + extra)
        lines += [
            "[[operations]]",
            f'include-name = "{method} {path}"',  # one operation (method and path filters OR)
            f"checks.positive_data_acceptance.expected-statuses = [{statuses}]",
            "",
        ]
    return "\n".join(lines)


def fuzz(
    workdir: Path,
    *,
    spec: Path,
    max_examples: int,
    seed: int = 1,
    timeout: float = 600,
) -> FuzzResult:
    """Start a platform with one finished run and fuzz it with every check of schemathesis."""
    cli = schemathesis_cli()
    assert cli is not None, "schemathesis is not installed"
    with LocalPlatform(
        workdir / "platform", "fuzz-token", applications=[LIFECYCLE_APP], builtin=False
    ) as platform:
        api = Api(platform.api_root, platform.token)
        run_id = api.submit([{"external_id": "seed", "data": slide_bytes()}])
        api.wait(run_id)
        artifact_id = api.items(run_id)[0]["output_artifacts"][0]["output_artifact_id"]
        config = workdir / "schemathesis.toml"
        config.write_text(_config(run_id, artifact_id))
        target = [str(spec), "--url", f"{platform.api_root}/api"]
        start = time.perf_counter()
        result = subprocess.run(
            [cli, "--config-file", str(config), "run", *target,
             "-H", f"Authorization: Bearer {platform.token}",
             "--checks", "all", "--max-examples", str(max_examples),
             "--phases", "coverage,fuzzing", "--seed", str(seed), "--no-color"],
            capture_output=True, text=True, timeout=timeout, cwd=workdir,
        )
    return FuzzResult(result.returncode, result.stdout + result.stderr,
                      time.perf_counter() - start)
