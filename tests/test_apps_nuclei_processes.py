"""Nuclei tiles of one slide in worker processes: the same cells as in threads, kept workers, a
clean stop, and no worker left when the parent is killed."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from napari_aignostics.apps.nuclei import TILE, Cells, detect_cells
from napari_aignostics.slides.reader import open_slide

pytestmark = pytest.mark.slow

DOWNSAMPLE = 16


def _four_tiles(slide_width: int, slide_height: int) -> np.ndarray:
    """A tissue mask that keeps the top-left 2 x 2 tiles of the slide."""
    mask = np.zeros((slide_height // DOWNSAMPLE + 1, slide_width // DOWNSAMPLE + 1), bool)
    mask[: 2 * TILE // DOWNSAMPLE - 1, : 2 * TILE // DOWNSAMPLE - 1] = True
    return mask


def _rows(cells: Cells) -> list[tuple[float, float, str, float]]:
    return sorted(zip(cells.centroid_x, cells.centroid_y, cells.class_name,
                      cells.measurements["area_um2"], strict=True))


def test_processes_find_the_same_cells_as_threads(cmu_slide: Path) -> None:
    with open_slide(cmu_slide) as slide:
        mask, mpp = _four_tiles(slide.width, slide.height), float(slide.mpp or 0.5)
        in_threads = detect_cells(slide, mpp, mask, DOWNSAMPLE, threads=1)
        fractions: list[float] = []
        in_processes = detect_cells(slide, mpp, mask, DOWNSAMPLE, processes=2,
                                    progress=fractions.append)
    assert len(in_threads) > 500
    assert _rows(in_processes) == _rows(in_threads)
    assert [p.wkb for p in in_processes.polygons] == [p.wkb for p in in_threads.polygons]
    assert fractions == [0.25, 0.5, 0.75, 1.0]
    workers = {p.pid for p in multiprocessing.active_children()}
    assert len(workers) == 2 and os.getpid() not in workers
    with open_slide(cmu_slide) as slide:  # the next slide reuses the started workers
        again = detect_cells(slide, mpp, mask, DOWNSAMPLE, processes=2)
    assert _rows(again) == _rows(in_threads)
    assert {p.pid for p in multiprocessing.active_children()} == workers


def test_cancel_returns_at_once(cmu_slide: Path) -> None:
    start = time.monotonic()
    with open_slide(cmu_slide) as slide:
        mask = _four_tiles(slide.width, slide.height)
        cells = detect_cells(slide, float(slide.mpp or 0.5), mask, DOWNSAMPLE, processes=2,
                             cancelled=lambda: time.monotonic() - start > 0.2)
        assert time.monotonic() - start < 10  # not after the tiles (each takes seconds here)
    assert len(cells) == 0


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_tile_workers_exit_when_their_parent_is_killed(cmu_slide: Path, tmp_path: Path) -> None:
    """A server killed mid-slide (SIGKILL, no clean shutdown) leaves no tile worker running, even
    one busy with a long tile (without the watch it would run on for 10 minutes)."""
    pids = tmp_path / "pids"
    script = f"""
import multiprocessing, os, time
from pathlib import Path
from napari_aignostics.apps import nuclei

if __name__ == "__main__":
    pool = nuclei._process_pool(2)
    [f.result() for f in [pool.submit(os.getpid) for _ in range(4)]]  # workers started
    futures = [pool.submit(time.sleep, 600) for _ in range(2)]  # a very long tile each
    Path({str(pids)!r}).write_text(" ".join(str(p.pid) for p in multiprocessing.active_children()))
    time.sleep(600)
"""
    parent = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.monotonic() + 120
        while not pids.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        workers = [int(p) for p in pids.read_text().split()]
        assert len(workers) == 2
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait()
    deadline = time.monotonic() + 120  # a worker still importing exits once it has started
    alive = workers
    while alive and time.monotonic() < deadline:
        time.sleep(0.2)
        alive = [p for p in workers if _running(p)]
    assert alive == []


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(") ")[-1][0] != "Z"
    except FileNotFoundError:
        return False
