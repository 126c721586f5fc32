"""Opening a slide never freezes a shown napari window: the reader hands the work to a worker and
the layer arrives later; without a shown window it stays synchronous. pint's registry survives a
stale shared cache."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from napari_aignostics.slides.prepare import first_view_level
from napari_aignostics.slides.sample import real_sample_path


def test_the_first_view_level_is_napari_s_choice_for_the_whole_slide() -> None:
    shapes = [(16000, 20000), (4000, 5000), (1000, 1250)]
    assert first_view_level(shapes, (951, 1312)) == 1  # level 2 is narrower than the canvas
    assert first_view_level(shapes, (800, 1200)) == 2
    assert first_view_level([(2967, 2220)], (951, 1312)) == 0


@pytest.mark.gui
def test_hidden_viewers_and_viewer_models_open_synchronously(make_napari_viewer: Any) -> None:
    from napari.components import ViewerModel

    hidden = make_napari_viewer()  # registers the plugin; its window is not shown
    for viewer in (hidden, ViewerModel()):
        (layer,) = viewer.open(str(real_sample_path()), plugin="napari-aignostics")
        assert layer.multiscale and layer.rgb and layer in viewer.layers
        assert tuple(layer.scale) == pytest.approx((0.499, 0.499))
        assert layer.data[0].shape == (2967, 2220, 3)


@pytest.mark.gui
def test_a_shown_viewer_opens_the_sample_in_a_worker(
    make_napari_viewer: Any, qtbot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qtpy.QtCore import QTimer

    from napari_aignostics.slides.reader import open_slide
    from napari_aignostics.widgets import slide_opener

    threads: list[bool] = []
    prepare = slide_opener.prepare_slide

    def recorded(*args: Any, **kwargs: Any) -> Any:
        threads.append(threading.current_thread() is threading.main_thread())
        return prepare(*args, **kwargs)

    monkeypatch.setattr(slide_opener, "prepare_slide", recorded)
    viewer = make_napari_viewer(show=True)
    path = real_sample_path()
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()
    reader = slide_opener.get_reader(str(path))
    assert reader is not None
    assert reader(str(path)) == [(None,)]  # napari's "read, nothing to add": no reader dialog
    returned = time.perf_counter()
    assert len(viewer.layers) == 0
    qtbot.waitUntil(lambda: len(viewer.layers) == 1, timeout=120_000)
    arrived = time.perf_counter()
    timer.stop()
    assert threads == [False]  # imports, headers, decoding and pint ran in the worker
    assert sum(returned < t < arrived for t in ticks) > 0  # the event loop ran meanwhile
    layer = viewer.layers[0]
    assert layer.name == "CMU-1-Small-Region" and layer.multiscale and layer.rgb
    assert layer.source.path == str(path) and layer.source.reader_plugin == "napari-aignostics"
    assert tuple(layer.scale) == pytest.approx((0.499, 0.499))
    assert [str(u) for u in layer.units] == ["micrometer", "micrometer"]
    assert viewer.scale_bar.visible
    assert isinstance(layer.data[0], np.ndarray)  # the first view is a memory read
    with open_slide(path) as slide:
        expected = slide.read_region(0, 1500, 1000, 256, 256)
    assert np.array_equal(layer.data[0][1000:1256, 1500:1756], expected)
    assert expected.std() > 10  # tissue, not glass


@pytest.mark.gui
def test_viewer_open_of_a_shown_viewer_returns_at_once_and_callers_get_the_layer(
    make_napari_viewer: Any, qtbot: Any, tmp_path: Path
) -> None:
    from napari.utils.notifications import notification_manager

    from napari_aignostics.widgets.slide_opener import open_slide_in

    viewer = make_napari_viewer(show=True)
    assert viewer.open(str(real_sample_path()), plugin="napari-aignostics") == []
    qtbot.waitUntil(lambda: len(viewer.layers) == 1, timeout=120_000)

    got: list[object] = []
    open_slide_in(viewer, real_sample_path(), then=got.append)
    qtbot.waitUntil(lambda: bool(got), timeout=120_000)
    assert got[0] is viewer.layers[-1] and len(viewer.layers) == 2

    errors: list[str] = []
    notification_manager.notification_ready.connect(lambda n: errors.append(str(n.message)))
    broken = tmp_path / "broken.svs"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))
    failed: list[object] = []
    open_slide_in(viewer, broken, then=failed.append)
    qtbot.waitUntil(lambda: bool(failed), timeout=60_000)
    assert failed == [None] and len(viewer.layers) == 2  # nothing half-added
    assert any(m.startswith("broken.svs:") and "PNG" in m for m in errors), errors


STALE = """
import pint
pint.UnitRegistry(cache_folder=":auto:")  # pint's shared cache, written by this (doomed) install
"""

UNITS = """
import json, pint
from napari_aignostics.slides.warmup import unit_cache_folder, use_cached_unit_registry
try:
    pint.UnitRegistry(cache_folder=":auto:")
    shared = "works"
except OSError as error:
    shared = type(error).__name__
installed = use_cached_unit_registry()
registry = pint.get_application_registry().get()
print(json.dumps({
    "shared": shared, "installed": installed, "folder": str(registry.cache_folder),
    "ours": str(unit_cache_folder()), "um_in_mm": (1 * registry.Unit("µm")).to("mm").magnitude,
}))
"""


@pytest.mark.slow
def test_a_stale_shared_pint_cache_does_not_slow_or_break_units(tmp_path: Path) -> None:
    """pint's shared cache written by a deleted environment (a recreated venv) breaks
    ``UnitRegistry(cache_folder=":auto:")``; the plugin's own cache is unaffected, and a damaged
    cache of its own is written again."""
    import pint

    gone = tmp_path / "deleted-env"
    shutil.copytree(Path(pint.__file__).parent, gone / "pint")
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    subprocess.run([sys.executable, "-c", STALE], check=True, timeout=180,
                   env={**env, "PYTHONPATH": str(gone)})
    shutil.rmtree(gone)

    def run() -> dict[str, Any]:
        done = subprocess.run([sys.executable, "-c", UNITS], capture_output=True, text=True,
                              timeout=180, check=True, env=env)
        return dict(json.loads(done.stdout.strip().splitlines()[-1]))

    got = run()
    assert got["shared"] == "FileNotFoundError"  # the failure users hit with pint's own cache
    assert got["installed"] and got["folder"] == got["ours"]
    assert got["um_in_mm"] == pytest.approx(0.001)
    ours = Path(got["ours"])
    for stale in (tmp_path / "cache" / "pint").iterdir():  # the foreign entries, now in ours
        shutil.copy(stale, ours / stale.name)
    for entry in ours.glob("*.pickle"):
        entry.write_bytes(b"not a pickle")
    again = run()
    assert again["installed"] and again["folder"] == again["ours"]
    assert again["um_in_mm"] == pytest.approx(0.001)
