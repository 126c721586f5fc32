"""The dock's warm-up imports the slide stack in a background thread, once."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

CODE = """
import json, sys, threading
from napari_aignostics.slides.warmup import SLIDE_MODULES, warm_up
before = [m for m in ("tiffslide", "zarr", "dask.array") if m in sys.modules]
thread = warm_up()
again = warm_up()
thread.join(120)
print(json.dumps({
    "before": before,
    "daemon": thread.daemon,
    "same": thread is again,
    "not_main": thread is not threading.main_thread(),
    "loaded": [m for m in ("tifffile", "tiffslide", "zarr", "dask.array") if m in sys.modules],
}))
"""


@pytest.mark.slow
def test_warm_up_imports_the_slide_stack_off_the_main_thread() -> None:
    done = subprocess.run(
        [sys.executable, "-c", CODE], capture_output=True, text=True, timeout=180, check=True
    )
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got["before"] == []  # importing the module itself loads none of them
    assert got["daemon"] and got["same"] and got["not_main"]
    assert got["loaded"] == ["tifffile", "tiffslide", "zarr", "dask.array"]
