"""Property-based fuzzing of the served OpenAPI with schemathesis: no 5xx, no schema violation."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from napari_aignostics.server.embedded import LocalPlatform
from server_helpers import LIFECYCLE_APP, Api, slide_bytes

CHECKS = (
    "not_a_server_error,response_schema_conformance,status_code_conformance,"
    "content_type_conformance"
)


@pytest.mark.slow
def test_schemathesis_finds_no_server_error_or_schema_violation(tmp_path: Path) -> None:
    cli = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    if cli is None:
        pytest.skip("schemathesis is not installed")
    with LocalPlatform(
        tmp_path / "platform", "fuzz-token", applications=[LIFECYCLE_APP], builtin=False
    ) as platform:
        api = Api(platform.api_root, platform.token)
        api.wait(api.submit([{"external_id": "seed", "data": slide_bytes()}]))
        result = subprocess.run(
            [cli, "run", f"{platform.api_root}/api/v1/openapi.json",
             "-H", f"Authorization: Bearer {platform.token}",
             "--max-examples", "6", "--checks", CHECKS, "--phases", "coverage,fuzzing",
             "--seed", "1", "--no-color"],
            capture_output=True, text=True, timeout=300,
        )
    assert result.returncode == 0, result.stdout[-4000:]
    assert "26/26" in result.stdout


@pytest.mark.slow
def test_schemathesis_with_the_published_contract_finds_nothing(tmp_path: Path) -> None:
    from conftest import SPEC_PATH
    from fuzz_helpers import fuzz, schemathesis_cli

    if schemathesis_cli() is None:
        pytest.skip("schemathesis is not installed")
    if not SPEC_PATH.is_file():
        pytest.skip("published OpenAPI spec not available")
    result = fuzz(tmp_path, spec=SPEC_PATH, max_examples=3)
    assert result.returncode == 0, result.output[-6000:]
    assert "26/26" in result.output
