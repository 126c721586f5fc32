"""The official Aignostics SDK (from PyPI, unmodified) signs in and runs a lifecycle locally.

The SDK is installed into a throw-away virtual environment, never into ours; it is kept in the
user cache folder between runs (``NAPARI_AIGNOSTICS_SDK_VENV`` overrides where). Without a
package index the test skips.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from napari_aignostics.server.embedded import LocalPlatform
from napari_aignostics.server.sdk_env import sdk_environment
from server_helpers import LIFECYCLE_APP, Api, slide_bytes

SDK_REQUIREMENT = "aignostics>=1.6,<2"
HERE = Path(__file__).parent


def _venv_dir() -> Path:
    override = os.environ.get("NAPARI_AIGNOSTICS_SDK_VENV")
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_cache_dir("napari-aignostics")) / "official-sdk-venv"


def _python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _install(venv: Path) -> Path | None:
    """The SDK venv's interpreter, installing the SDK the first time; None if impossible."""
    python = _python(venv)
    check = [str(python), "-c", "import importlib.metadata as m; m.version('aignostics')"]
    if python.exists() and subprocess.run(check, capture_output=True, timeout=300).returncode == 0:
        return python
    shutil.rmtree(venv, ignore_errors=True)
    uv = shutil.which("uv") or shutil.which("uv", path=str(HERE.parent / ".uv-bootstrap/bin"))
    try:
        if uv:
            steps = [[uv, "venv", "--python", sys.executable, str(venv)],
                     [uv, "pip", "install", "--python", str(python), SDK_REQUIREMENT]]
        else:
            steps = [[sys.executable, "-m", "venv", str(venv)],
                     [str(python), "-m", "pip", "install", "-q", SDK_REQUIREMENT]]
        for command in steps:
            if subprocess.run(command, capture_output=True, timeout=600).returncode != 0:
                return None
        ok = subprocess.run(check, capture_output=True, timeout=300).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return None
    return python if ok else None


@pytest.fixture(scope="module")
def sdk_python() -> Iterator[Path]:
    python = _install(_venv_dir())
    if python is None:
        pytest.skip(f"the official SDK ({SDK_REQUIREMENT}) cannot be installed here")
    yield python


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_official_sdk_signs_in_and_runs_a_lifecycle(sdk_python: Path, tmp_path: Path) -> None:
    with LocalPlatform(
        tmp_path / "platform", "sdk-test", applications=[LIFECYCLE_APP], builtin=False,
        auto_approve_device=True,
    ) as server:
        data = slide_bytes()
        download_url = Api(server.api_root, server.token).upload(data)
        from napari_aignostics.slides.checksum import crc32c_base64_bytes

        env = {
            key: value for key, value in os.environ.items()
            if not key.startswith(("AIGNOSTICS_", "VIRTUAL_ENV", "PYTHON"))
        }
        env.update(sdk_environment(server.api_root))
        env.update({
            "HOME": str(tmp_path / "home"),
            "AIGNOSTICS_CACHE_DIR": str(tmp_path / "sdk-cache"),
            "AIGNOSTICS_ENV_FILE": str(tmp_path / "none.env"),
            "BROWSER": "",
            "NO_COLOR": "1",
        })
        result = subprocess.run(
            [str(sdk_python), str(HERE / "official_sdk_lifecycle.py"), download_url,
             crc32c_base64_bytes(data), str(tmp_path / "results")],
            capture_output=True, text=True, timeout=540, env=env, cwd=tmp_path,
        )
    steps = [line[3:] for line in result.stdout.splitlines() if line.startswith("OK ")]
    assert result.returncode == 0, (steps, result.stdout[-3000:], result.stderr[-3000:])
    assert steps == ["login", "me", "applications", "submit", "download", "custom-metadata",
                     "share-token", "delete", "cancel", "list", "cli whoami"]
    token_file = tmp_path / "sdk-cache" / ".token"
    assert token_file.is_file()
