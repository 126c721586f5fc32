"""Nuclei tiles of one slide in worker processes: the same cells as in threads, and a clean stop."""

from __future__ import annotations

import multiprocessing
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
    assert multiprocessing.active_children() == []  # the worker processes are gone


def test_cancel_stops_the_worker_processes(cmu_slide: Path) -> None:
    start = time.monotonic()
    with open_slide(cmu_slide) as slide:
        mask = _four_tiles(slide.width, slide.height)
        cells = detect_cells(slide, float(slide.mpp or 0.5), mask, DOWNSAMPLE, processes=2,
                             cancelled=lambda: time.monotonic() - start > 0.2)
    assert len(cells) == 0
    assert multiprocessing.active_children() == []
