"""The examples run end to end: the quickstart notebook (nbclient, the project's kernel) and script."""

from __future__ import annotations

import base64
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

pytestmark = pytest.mark.slow


def _env() -> dict[str, str]:
    return {**os.environ, "MPLBACKEND": "Agg"}


@pytest.fixture
def cmu_slide() -> Path:
    """The real H&E sample the examples use: shipped in the package, so they run on a fresh clone."""
    from napari_aignostics.slides.sample import real_sample_path

    return real_sample_path()


def _cells(text: str) -> int:
    found = re.search(r"^(\d+) cells:", text, re.MULTILINE)
    assert found, text
    return int(found.group(1))


def test_quickstart_notebook_runs(cmu_slide: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import nbformat
    from nbclient import NotebookClient

    for key, value in _env().items():
        monkeypatch.setenv(key, value)
    notebook = nbformat.read(EXAMPLES / "quickstart.ipynb", as_version=4)
    assert all(not c.get("outputs") for c in notebook.cells if c.cell_type == "code")
    NotebookClient(
        notebook, timeout=240, kernel_name="python3", resources={"metadata": {"path": str(EXAMPLES)}}
    ).execute()
    outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert cmu_slide.name in text
    assert re.search(r"^run \S+ TERMINATED$", text, re.MULTILINE), text
    assert _cells(text) > 1000
    images = [o.data["image/png"] for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) == 1
    assert base64.b64decode(images[0]).startswith(PNG_MAGIC)


def test_quickstart_script_runs(cmu_slide: Path, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "quickstart.py"), str(tmp_path)],
        capture_output=True, text=True, timeout=240, env=_env(), check=False,
    )
    assert done.returncode == 0, done.stderr
    assert f"slide: {cmu_slide.name}" in done.stdout
    assert re.search(r"^run \S+: TERMINATED$", done.stdout, re.MULTILINE), done.stdout
    assert _cells(done.stdout) > 1000
    plot = tmp_path / "cells_per_class.png"
    assert plot.read_bytes().startswith(PNG_MAGIC) and plot.stat().st_size > 5000
    assert any((tmp_path / "results").rglob("*.parquet"))
