"""Nuclei at level 0: colour deconvolution, threshold, distance-transform watershed, rules.

Tiles of 1024 px with 64 px overlap are analysed only where the tissue map has tissue; a nucleus
belongs to the tile whose core holds its centroid, so nothing is counted twice. Tiles run in a
thread pool, or with ``processes`` > 1 in worker processes (kept for the next slides): about half
of a tile's CPU time is Python-level work that holds the GIL (``regionprops_table``, the
polygons), so threads alone do not use a second core. Inside a daemonic process (a dask
worker of ``serve --cluster``) no pool of processes can be started and the tiles stay in threads;
there the cores are used by analysing more items at once. See ``benchmarks/bench_cluster.py``.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field

import edt
import numpy as np
import shapely
from skimage import color, filters, measure, segmentation

from ..slides.reader import Slide, open_slide
from .label_measures import label_convex_areas, label_perimeters
from .morph import fill_holes, open_disk, remove_small, remove_small_labels
from .peaks import object_peaks
from .polygons import object_polygons

__all__ = ["CELL_CLASSES", "Cells", "detect_cells"]

TILE = 1024
OVERLAP = 64
CELL_CLASSES: dict[str, tuple[int, int, int]] = {
    "EPITHELIAL": (220, 50, 50),
    "LYMPHOCYTE": (40, 90, 230),
    "FIBROBLAST": (60, 170, 80),
    "OTHER": (230, 170, 30),
}
MEASUREMENTS = (
    "area_um2",
    "perimeter_um",
    "eccentricity",
    "solidity",
    "hematoxylin_mean",
    "eosin_mean",
)


@dataclass
class Cells:
    """Detected cells as columns (one row per cell)."""

    polygons: list[shapely.Polygon] = field(default_factory=list)
    centroid_x: list[float] = field(default_factory=list)
    centroid_y: list[float] = field(default_factory=list)
    class_name: list[str] = field(default_factory=list)
    confidence: list[float] = field(default_factory=list)
    measurements: dict[str, list[float]] = field(
        default_factory=lambda: {name: [] for name in MEASUREMENTS}
    )

    def __len__(self) -> int:
        return len(self.polygons)

    def extend(self, other: Cells) -> None:
        """Append another tile's cells."""
        self.polygons += other.polygons
        self.centroid_x += other.centroid_x
        self.centroid_y += other.centroid_y
        self.class_name += other.class_name
        self.confidence += other.confidence
        for name in MEASUREMENTS:
            self.measurements[name] += other.measurements[name]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def classify(area: np.ndarray, ecc: np.ndarray, hema: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rule-based classes and a confidence in [0, 1] from how clearly a rule applies."""
    lymph = (
        _sigmoid((38 - area) / 8) * _sigmoid((0.75 - ecc) / 0.08) * _sigmoid((hema - 0.06) / 0.02)
    )
    fibro = _sigmoid((ecc - 0.88) / 0.04) * _sigmoid((70 - area) / 15)
    epi = _sigmoid((area - 55) / 12) * _sigmoid((0.9 - ecc) / 0.05)
    scores = np.stack([epi, lymph, fibro, np.full_like(area, 0.35)])
    best = scores.argmax(axis=0)
    names = np.asarray(list(CELL_CLASSES))[best]
    confidence = np.clip(scores.max(axis=0), 0.0, 1.0)
    return names, confidence.astype(np.float32)


def _stain_tables() -> np.ndarray:
    """(2, 3, 256): what each 8-bit value of R, G and B adds to hematoxylin and to eosin.

    ``rgb2hed`` is linear in each channel's optical density; the densities of all 256 values come
    from scikit-image itself (``separate_stains`` with the identity matrix).
    """
    levels = np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, axis=1)[None]
    density = color.separate_stains(levels, np.eye(3))[0]  # (256, 3)
    return np.ascontiguousarray((density[:, :, None] * color.hed_from_rgb[None, :, :2]).T)


_STAINS = _stain_tables()


def hematoxylin_eosin(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The hematoxylin and eosin channels of ``color.rgb2hed`` of an 8-bit RGB tile, by table
    look-up (no logarithm per pixel, no DAB channel)."""
    if rgb.dtype != np.uint8:
        hed = color.rgb2hed(rgb)
        return hed[..., 0], hed[..., 1]
    channels = [np.ascontiguousarray(rgb[..., k]) for k in range(3)]
    stains = []
    for table in _STAINS:
        stain = table[0].take(channels[0])
        stain += table[1].take(channels[1])
        stain += table[2].take(channels[2])
        stains.append(np.maximum(stain, 0, out=stain))
    return stains[0], stains[1]


def _tile_cells(
    rgb: np.ndarray, x0: int, y0: int, core: tuple[int, int, int, int], mpp: float
) -> Cells:
    """Cells of one tile whose centroids fall inside ``core`` (level-0 x0, y0, x1, y1)."""
    cells = Cells()
    hema, eosin = hematoxylin_eosin(rgb)
    if hema.max() <= 0.02:
        return cells
    clipped = np.clip(hema, 0, np.percentile(hema, 99.5))  # stain deposits must not set it
    threshold = max(float(filters.threshold_otsu(clipped)), 0.06)
    mask = hema > threshold
    min_px = max(4, int(8 / (mpp * mpp)))  # nuclei are at least ~8 µm²
    mask = open_disk(mask, max(1, round(0.8 / mpp)))
    mask = remove_small(mask, min_px)
    mask = fill_holes(mask)
    if not mask.any():
        return cells
    # squared distances (exact integers): the same order, so the same peaks and basins as
    # scipy's distance_transform_edt, several times faster
    distance = edt.edtsq(mask, black_border=False, parallel=1)
    peaks = object_peaks(distance, measure.label(mask), max(2, round(2.5 / mpp)))
    markers = np.zeros(mask.shape, dtype=np.int32)
    markers[tuple(peaks.T)] = np.arange(1, len(peaks) + 1)
    labels = segmentation.watershed(-distance, markers, mask=mask)
    labels = remove_small_labels(labels, min_px)
    if labels.max() == 0:
        return cells
    shape = _label_shape(labels, hema, eosin)
    cx = shape.col + x0 + 0.5
    cy = shape.row + y0 + 0.5
    keep = (shape.area > 0) & (cx >= core[0]) & (cx < core[2]) & (cy >= core[1]) & (cy < core[3])
    area_um2 = shape.area * mpp * mpp
    keep &= area_um2 <= 400  # clumps larger than ~20 µm across are not single nuclei
    if not keep.any():
        return cells
    kept = np.flatnonzero(keep)
    # outline-based measures (skimage's definitions) only for the nuclei this tile keeps
    perimeter, border = label_perimeters(labels)
    solidity = shape.area[kept] / label_convex_areas(labels, border, kept + 1)
    polygons = object_polygons(labels, kept + 1, x0, y0)
    names, confidence = classify(area_um2[kept], shape.eccentricity[kept], shape.hema[kept])
    for j, i in enumerate(kept):
        polygon = polygons[j]
        if polygon is None:
            continue
        cells.polygons.append(polygon)
        cells.centroid_x.append(float(cx[i]))
        cells.centroid_y.append(float(cy[i]))
        cells.class_name.append(str(names[j]))
        cells.confidence.append(float(confidence[j]))
        values = {
            "area_um2": float(area_um2[i]),
            "perimeter_um": float(perimeter[i + 1] * mpp),
            "eccentricity": float(shape.eccentricity[i]),
            "solidity": float(solidity[j]),
            "hematoxylin_mean": float(shape.hema[i]),
            "eosin_mean": float(shape.eosin[i]),
        }
        for name in MEASUREMENTS:
            cells.measurements[name].append(values[name])
    return cells


@dataclass(frozen=True)
class _Shapes:
    """Per label ``1..n`` (index ``label - 1``): pixel count, centroid, eccentricity, stain means."""

    area: np.ndarray
    row: np.ndarray
    col: np.ndarray
    eccentricity: np.ndarray
    hema: np.ndarray
    eosin: np.ndarray


def _label_shape(labels: np.ndarray, hema: np.ndarray, eosin: np.ndarray) -> _Shapes:
    """Moment-based measures of every label at once (sums per label, as ``regionprops`` defines
    them: eccentricity from the eigenvalues of the inertia tensor); absent labels have area 0."""
    flat = labels.ravel()
    pixels = np.flatnonzero(flat)
    index = flat[pixels]
    n = int(labels.max()) + 1
    rows, cols = np.divmod(pixels, labels.shape[1])
    rows, cols = rows.astype(np.float64), cols.astype(np.float64)

    def total(weights: np.ndarray | None = None) -> np.ndarray:
        return np.bincount(index, weights=weights, minlength=n)[1:]

    area = total()
    with np.errstate(invalid="ignore", divide="ignore"):
        row, col = total(rows) / area, total(cols) / area
        dr, dc = rows - row[index - 1], cols - col[index - 1]  # two passes: no cancellation
        var_r, var_c, cov = total(dr * dr) / area, total(dc * dc) / area, total(dr * dc) / area
        half = (var_r + var_c) / 2
        spread = np.sqrt(((var_r - var_c) / 2) ** 2 + cov * cov)
        major, minor = half + spread, np.clip(half - spread, 0, None)
        eccentricity = np.where(major > 0, np.sqrt(np.clip(1 - minor / major, 0, 1)), 0.0)
        hema_mean = total(hema.ravel()[pixels]) / area
        eosin_mean = total(eosin.ravel()[pixels]) / area
    return _Shapes(area, row, col, eccentricity, hema_mean, eosin_mean)


def _tiles(
    width: int, height: int, tissue: np.ndarray, downsample: float
) -> Iterator[tuple[int, int, int, int]]:
    """Core rectangles (x0, y0, x1, y1) of level-0 tiles that touch tissue."""
    for y in range(0, height, TILE):
        for x in range(0, width, TILE):
            x1, y1 = min(x + TILE, width), min(y + TILE, height)
            r0, r1 = int(y / downsample), max(int(y / downsample) + 1, math.ceil(y1 / downsample))
            c0, c1 = int(x / downsample), max(int(x / downsample) + 1, math.ceil(x1 / downsample))
            if tissue[r0:r1, c0:c1].any():
                yield x, y, x1, y1


_pool: ProcessPoolExecutor | None = None
_pool_size = 0
_pool_lock = threading.Lock()


def _start_worker(parent: int) -> None:
    """Tile worker start: exit as soon as the parent process is gone (a killed server leaves no
    worker behind, even in the middle of a tile)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="tile-worker-parent-watch", daemon=True).start()


def _slide_tile(slide: Slide, core: tuple[int, int, int, int], mpp: float) -> Cells:
    width, height = slide.width, slide.height
    x0, y0 = max(0, core[0] - OVERLAP), max(0, core[1] - OVERLAP)
    x1, y1 = min(width, core[2] + OVERLAP), min(height, core[3] + OVERLAP)
    rgb = slide.read_region(0, x0, y0, x1 - x0, y1 - y0)[..., :3]
    return _tile_cells(rgb, x0, y0, core, mpp)


def _worker_tile(path: str, core: tuple[int, int, int, int], mpp: float) -> Cells:
    """One tile in a worker process. The slide is opened per tile (milliseconds against the
    tile's second), so no worker keeps an item's input open after its slide is done."""
    with open_slide(path) as slide:
        return _slide_tile(slide, core, mpp)


def _process_pool(processes: int) -> ProcessPoolExecutor:
    """The tile worker processes, started once and kept for the next slides (a process start
    costs seconds of imports); started again if their number changes or one died."""
    global _pool, _pool_size
    with _pool_lock:
        if _pool is None or _pool_size != processes or getattr(_pool, "_broken", False):
            if _pool is not None:
                _pool.shutdown(wait=False, cancel_futures=True)
            _pool = ProcessPoolExecutor(
                max_workers=processes,
                mp_context=multiprocessing.get_context("spawn"),  # the caller may run threads
                initializer=_start_worker,
                initargs=(os.getpid(),),
            )
            _pool_size = processes
        return _pool


def _use_processes(tiles: int, processes: int) -> bool:
    """Worker processes when asked for, useful (at least two tiles each) and possible (not inside
    a daemonic process, such as a dask worker)."""
    return processes > 1 and tiles >= 2 * processes and not multiprocessing.current_process().daemon


def detect_cells(
    slide: Slide,
    mpp: float,
    tissue: np.ndarray,
    downsample: float,
    *,
    progress: Callable[[float], None] = lambda f: None,
    cancelled: Callable[[], bool] = lambda: False,
    threads: int = 2,
    processes: int = 0,
) -> Cells:
    """All cells of the slide's tissue; ``tissue`` is a mask at ``downsample`` × level 0.

    Tiles run in ``threads`` threads, or in ``processes`` worker processes when that is > 1.
    """
    cores = list(_tiles(slide.width, slide.height, tissue, downsample))
    result = Cells()
    threaded: ThreadPoolExecutor | None = None
    if _use_processes(len(cores), processes):
        pool: Executor = _process_pool(processes)
        futures = [pool.submit(_worker_tile, str(slide.path), core, mpp) for core in cores]
    else:
        pool = threaded = ThreadPoolExecutor(max_workers=max(1, threads))
        futures = [pool.submit(_slide_tile, slide, core, mpp) for core in cores]
    try:
        for done, future in enumerate(futures, start=1):
            while True:
                if cancelled():
                    return Cells()
                try:
                    cells = future.result(timeout=0.5)
                    break
                except TimeoutError:
                    continue
            result.extend(cells)
            progress(done / max(1, len(cores)))
    finally:
        for future in futures:
            future.cancel()  # the tiles not started yet, when cancelled or failed
        if threaded is not None:
            threaded.shutdown(wait=True)
    return result
