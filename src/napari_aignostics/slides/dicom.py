"""DICOM whole-slide images through wsidicom (the optional ``dicom`` extra)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .mpp import plausible_mpp
from .slide_errors import SlideError


class _DicomLevel:
    """Array-like (H, W, 3) over one wsidicom level, read by region."""

    def __init__(self, wsi: Any, level: int, width: int, height: int, lock: threading.Lock) -> None:
        self._wsi = wsi
        self._level = level
        self.shape = (height, width, 3)
        self.dtype = np.dtype(np.uint8)
        self.ndim = 3
        self._lock = lock

    def __getitem__(self, key: Any) -> np.ndarray:
        ys, xs = key[0], key[1]
        y0, y1, _ = ys.indices(self.shape[0])
        x0, x1, _ = xs.indices(self.shape[1])
        if y1 <= y0 or x1 <= x0:
            return np.zeros((max(y1 - y0, 0), max(x1 - x0, 0), 3), np.uint8)
        with self._lock:
            image = self._wsi.read_region((x0, y0), self._level, (x1 - x0, y1 - y0))
        array = np.asarray(image.convert("RGB"))
        rest = key[2] if len(key) > 2 else slice(None)
        return array[:, :, rest]


def _fallback_or_missing_extra(path: Path, fallback: Callable[[Path], Any]) -> Any:
    """Without wsidicom: the file as a TIFF when its pixels decode, else name the missing extra."""
    from .reader import open_slide, probe_pixels

    try:
        with open_slide(path, strict=True, tiff_only=True) as probe:
            probe_pixels(probe)
    except SlideError as error:
        raise SlideError(
            path,
            "is a DICOM whole-slide image whose tiles only wsidicom can decode "
            f"({error.problem.rstrip('.')}).",
            "Install the DICOM extra: pip install 'napari-aignostics[dicom]', then open it again.",
        ) from None
    return fallback(path)


def open_dicom(path: Path, fallback: Callable[[Path], Any]) -> Any:
    """Open a ``.dcm`` file or a folder holding one series; dual-personality TIFFs fall back."""
    from .reader import Slide, lazy_level

    try:
        import wsidicom
    except ImportError:
        if path.is_file():
            return _fallback_or_missing_extra(path, fallback)
        raise SlideError(
            path,
            "is a DICOM folder, which needs wsidicom.",
            "Install: pip install 'napari-aignostics[dicom]'.",
        ) from None
    if path.is_dir() and not any(p.suffix.lower() == ".dcm" for p in path.iterdir()):
        raise SlideError(path, "is a folder without DICOM (.dcm) files.")
    try:
        wsi = wsidicom.WsiDicom.open(path if path.is_dir() else [path])
    except Exception as error:  # noqa: BLE001 - wsidicom raises many types
        if path.is_file():
            try:
                return fallback(path)
            except SlideError:
                pass
        raise SlideError(
            path,
            f"is not a readable DICOM whole-slide series ({type(error).__name__}: {error}).",
            "Open the folder that holds all files of the series (VOLUME instances).",
        ) from None
    lock = threading.Lock()
    reported = threading.Event()
    levels, dims, downs = [], [], []
    base_width = wsi.size.width
    for index, level in enumerate(wsi.levels):
        width, height = level.size.width, level.size.height
        tile = level.tile_size
        source = _DicomLevel(wsi, index, width, height, lock)
        levels.append(lazy_level(source, (tile.height, tile.width, 3), path, index, reported))
        dims.append((width, height))
        downs.append(base_width / width)
    mpp = plausible_mpp(wsi.mpp.width) if wsi.mpp is not None else None
    return Slide(
        path=path,
        levels=levels,
        level_dimensions=dims,
        level_downsamples=downs,
        mpp=mpp,
        vendor="dicom",
        properties={"napari_aignostics.mpp-source": "dicom" if mpp else None},
        warnings=[]
        if mpp
        else [f"{path.name}: no pixel spacing in the DICOM series; showing pixel units."],
        backend="wsidicom",
        _closer=wsi.close,
    )
