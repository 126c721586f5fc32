"""The dock's warm-up imports the slide stack in a background thread, once; the dock's module
imports neither it nor matplotlib; pint's registry comes from its disk cache."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

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


DOCK_IMPORTS = """
import json, sys
import napari, napari.layers
import napari_aignostics.widgets.dock
print(json.dumps([m for m in ("dask.array", "matplotlib", "tiffslide") if m in sys.modules]))
"""


@pytest.mark.slow
def test_opening_the_dock_imports_neither_dask_nor_matplotlib() -> None:
    """The dock's module loads fast: the slide stack warms up in a thread, the plots draw later."""
    done = subprocess.run(
        [sys.executable, "-c", DOCK_IMPORTS], capture_output=True, text=True, timeout=180,
        check=True, env={**os.environ, "QT_API": "pyqt6"},
    )
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


UNITS = """
import json, sys
import pint
from napari_aignostics.slides.warmup import use_cached_unit_registry
installed = use_cached_unit_registry()
again = use_cached_unit_registry()
registry = pint.get_application_registry().get()
bar = pint.Quantity("150 pixel")  # what napari's scale bar makes
width = (2.5 * registry.Unit("µm")).to("mm")
print(json.dumps({
    "installed": installed, "again": again, "cached": registry.cache_folder is not None,
    "width_mm": width.magnitude, "bar": str(bar.units),
}))
"""


@pytest.mark.slow
def test_pint_gets_a_disk_cached_registry_once(tmp_path: Path) -> None:
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    for _ in range(2):  # the first start writes pint's cache, the second reads it
        done = subprocess.run(
            [sys.executable, "-c", UNITS], capture_output=True, text=True, timeout=180,
            check=True, env=env,
        )
        got = json.loads(done.stdout.strip().splitlines()[-1])
        assert got["installed"] and not got["again"] and got["cached"]
        assert got["width_mm"] == pytest.approx(0.0025) and got["bar"] == "pixel"
    assert list((tmp_path / "napari-aignostics" / "pint").rglob("*.pickle"))
    assert not (tmp_path / "pint").exists()  # pint's shared cache is not used


def test_a_registry_in_use_is_kept() -> None:
    import pint

    from napari_aignostics.slides.warmup import use_cached_unit_registry

    pint.get_application_registry().Unit("µm")  # in use (napari made a quantity already)
    before = pint.get_application_registry().get()
    assert not use_cached_unit_registry()
    assert pint.get_application_registry().get() is before
