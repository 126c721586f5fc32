"""Open whole-slide images as lazy pyramids: tiffslide (zarr) or wsidicom, each level a dask array.

Opening a slide reads only its headers; pixels are decoded when a chunk of a level is computed.
A tile that fails to decode is reported once per slide through :data:`read_error_handler` and
shows as black instead of breaking the viewer. Analyses open slides ``strict``: there the first
undecodable tile raises :class:`SlideError` (never a black image analysed as if it were tissue);
:func:`probe_pixels` decodes a bounded part of the coarsest level to refuse broken files early.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np

from .extensions import DICOM_EXTENSIONS, SUPPORTED_EXTENSIONS, TIFF_EXTENSIONS
from .mpp import mpp_from_ome_xml, plausible_mpp
from .slide_errors import SlideError

log = logging.getLogger(__name__)

__all__ = [
    "DICOM_EXTENSIONS",
    "SUPPORTED_EXTENSIONS",
    "TIFF_EXTENSIONS",
    "Slide",
    "lazy_level",
    "open_slide",
    "probe_pixels",
    "read_error_handler",
    "undecodable",
]


ReadErrorHandler = Callable[[Path, BaseException], None]


def _log_read_error(path: Path, error: BaseException) -> None:
    log.error("%s: a tile could not be decoded (%s); it is shown black", path.name, error)


read_error_handler: ReadErrorHandler = _log_read_error
"""Called once per slide for the first tile that fails to decode (napari glue shows a notification)."""


@dataclass
class Slide:
    """An opened slide: lazy levels plus what is known about it."""

    path: Path
    levels: list[da.Array]
    level_dimensions: list[tuple[int, int]]
    """(width, height) per level."""
    level_downsamples: list[float]
    mpp: float | None
    """Level-0 µm per pixel, or ``None`` when missing or implausible."""
    vendor: str | None = None
    objective_power: float | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    backend: str = "tiffslide"
    _closer: Callable[[], None] | None = None
    _sources: list[Any] = field(default_factory=list)
    """Per level, the array the lazy level reads (regions read from it in one call, no dask)."""

    @property
    def width(self) -> int:
        return self.level_dimensions[0][0]

    @property
    def height(self) -> int:
        return self.level_dimensions[0][1]

    def read_region(self, level: int, x: int, y: int, width: int, height: int) -> np.ndarray:
        """Pixels (height, width, 3) of ``level`` from (x, y) in that level's coordinates, clipped.

        Read in one call when the level's array is at hand (a tile that fails to decode then
        blackens the whole region, or raises when strict); otherwise chunk by chunk."""
        if self._sources:
            return np.asarray(self._sources[level][y : y + height, x : x + width])
        array = self.levels[level]
        # threads, never a distributed client: the file handle stays in this process
        return np.asarray(array[y : y + height, x : x + width].compute(scheduler="threads"))

    def best_level_for_downsample(self, downsample: float) -> int:
        """The coarsest level whose downsample does not exceed ``downsample``."""
        best = 0
        for index, value in enumerate(self.level_downsamples):
            if value <= downsample * 1.001:
                best = index
        return best

    def close(self) -> None:
        """Release file handles."""
        if self._closer is not None:
            self._closer()
            self._closer = None

    def __enter__(self) -> Slide:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _SafeLevel:
    """Array-like over one level that turns decode errors into black tiles and one report."""

    def __init__(
        self, source: Any, path: Path, reported: threading.Event, strict: bool = False
    ) -> None:
        self._source = source
        self._strict = strict
        self.shape = tuple(int(s) for s in source.shape)
        self.dtype = np.dtype(source.dtype)
        self.ndim = len(self.shape)
        self._path = path
        self._reported = reported

    def __getitem__(self, key: Any) -> np.ndarray:
        try:
            return np.asarray(self._source[key])
        except Exception as error:  # noqa: BLE001 - any codec failure becomes a black tile
            if self._strict:
                raise undecodable(self._path, error) from None
            if not self._reported.is_set():
                self._reported.set()
                read_error_handler(self._path, error)
            shape = np.empty(self.shape, dtype=bool)[key].shape
            return np.zeros(shape, dtype=self.dtype)


def undecodable(path: Path, error: BaseException) -> SlideError:
    """The error for a tile that cannot be decoded (names the file and the codec's message)."""
    return SlideError(
        path,
        f"a tile of this slide could not be decoded ({type(error).__name__}: {error}).",
        "The file may be damaged; re-export or re-scan it.",
    )


def probe_pixels(slide: Slide, max_px: int = 2048) -> None:
    """Decode the coarsest level (its top-left ``max_px`` square); raise SlideError if that fails."""
    level = len(slide.levels) - 1
    try:
        slide.read_region(level, 0, 0, max_px, max_px)
    except SlideError:
        raise
    except Exception as error:  # noqa: BLE001 - any codec failure
        raise undecodable(slide.path, error) from None


def lazy_level(
    source: Any,
    chunks: tuple[int, ...],
    path: Path,
    index: int,
    reported: threading.Event,
    strict: bool = False,
) -> da.Array:
    """One pyramid level as a dask array whose chunks read ``source`` lazily (errors reported once)."""
    return _dask_level(_SafeLevel(source, path, reported, strict), chunks, path, index, strict)


def _dask_level(
    safe: _SafeLevel, chunks: tuple[int, ...], path: Path, index: int, strict: bool
) -> da.Array:
    kind = "strict" if strict else "safe"
    name = f"napari-aignostics-{kind}-{abs(hash((str(path), path.stat().st_mtime_ns)))}-{index}"
    meta = np.empty((0,) * safe.ndim, dtype=safe.dtype)
    return da.from_array(
        safe, chunks=chunks, name=name, asarray=True, fancy=False, lock=False, meta=meta
    )


def _check_magic(path: Path) -> None:
    with open(path, "rb") as handle:
        head = handle.read(132)
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return
    if len(head) >= 132 and head[128:132] == b"DICM":
        return
    kind = (
        "a PNG image"
        if head.startswith(b"\x89PNG")
        else "a JPEG image"
        if head[:3] == b"\xff\xd8\xff"
        else ""
    )
    problem = (
        f"is {kind}, not a whole-slide image" if kind else "is not a TIFF-based whole-slide image"
    )
    raise SlideError(
        path, problem, "Open a slide scanner file (.svs, .tif, .ndpi, .scn, .bif, .dcm)."
    )


def _check_decodable(path: Path, keyframe: Any) -> None:
    import tifffile

    compression = keyframe.compression
    if not isinstance(compression, tifffile.COMPRESSION):
        raise SlideError(
            path,
            f"uses TIFF compression {int(compression)}, which no installed decoder supports.",
            "Convert the slide (e.g. with vips or bfconvert) to JPEG-compressed tiled TIFF.",
        )
    try:
        tifffile.TIFF.DECOMPRESSORS[compression]
    except (KeyError, ValueError) as error:
        raise SlideError(
            path, f"needs the {compression.name} codec, which is not installed ({error})."
        ) from None
    subsampling = getattr(keyframe, "subsampling", None)
    if (
        keyframe.photometric == tifffile.PHOTOMETRIC.YCBCR
        and compression != tifffile.COMPRESSION.JPEG
        and subsampling not in (None, (1, 1))
    ):
        raise SlideError(
            path,
            f"stores {compression.name} tiles with YCbCr chroma subsampling, which the TIFF reader cannot decode.",
            "For DICOM files install the 'dicom' extra (pip install napari-aignostics[dicom]).",
        )


def _open_tiff(path: Path, strict: bool = False) -> Slide:
    import tiffslide

    _check_magic(path)
    try:
        ts = tiffslide.TiffSlide(path)
    except Exception as error:  # noqa: BLE001 - every parser failure is a bad slide
        raise SlideError(
            path, f"cannot be opened as a slide ({type(error).__name__}: {error})."
        ) from None
    try:
        tf = ts.ts_tifffile
        series = tf.series[ts.properties.get("tiffslide.series-index") or 0]
        _check_decodable(path, series.levels[0].keyframe)
        group = ts.zarr_group
        reported = threading.Event()
        levels, sources = [], []
        for index in range(ts.level_count):
            array: Any = group[str(index)]
            sources.append(_SafeLevel(array, path, reported, strict))
            levels.append(_dask_level(sources[-1], tuple(array.chunks), path, index, strict))
        props = dict(ts.properties)
        warnings: list[str] = []
        raw_mpp = props.get("tiffslide.mpp-x")
        mpp = plausible_mpp(raw_mpp)
        source = "tiff"
        if raw_mpp is not None and mpp is None:
            warnings.append(
                f"{path.name}: the stored pixel size ({float(raw_mpp):.4g} µm/px) is not plausible for a "
                "slide scan (it comes from screen-resolution tags); showing pixel units."
            )
        if mpp is None and tf.is_ome:
            mpp = plausible_mpp(mpp_from_ome_xml(tf.ome_metadata))
            source = "ome-xml"
        if mpp is None and not warnings:
            warnings.append(
                f"{path.name}: no pixel size in the file; showing pixel units, no µm scale bar."
            )
        objective = props.get("tiffslide.objective-power")
        slide = Slide(
            path=path,
            levels=levels,
            level_dimensions=[tuple(map(int, d)) for d in ts.level_dimensions],  # type: ignore[misc]
            level_downsamples=[float(d) for d in ts.level_downsamples],
            mpp=mpp,
            vendor=props.get("tiffslide.vendor"),
            objective_power=float(objective) if objective else None,
            properties={**props, "napari_aignostics.mpp-source": source if mpp else None},
            warnings=warnings,
            backend="tiffslide",
            _closer=ts.close,
            _sources=sources,
        )
    except SlideError:
        ts.close()
        raise
    except Exception as error:  # noqa: BLE001
        ts.close()
        raise SlideError(
            path, f"cannot be read as a slide ({type(error).__name__}: {error})."
        ) from None
    return slide


def open_slide(path: str | Path, *, strict: bool = False, tiff_only: bool = False) -> Slide:
    """Open a slide file (or a DICOM series folder) lazily; raise :class:`SlideError` for bad input.

    ``strict``: a tile that cannot be decoded raises :class:`SlideError` instead of reading black.
    ``tiff_only``: read a DICOM file through its TIFF personality only.
    """
    path = Path(path)
    if not path.exists():
        raise SlideError(path, "does not exist.")
    if tiff_only and path.is_file():
        return _open_tiff(path, strict)
    if path.is_dir() or path.suffix.lower() in DICOM_EXTENSIONS:
        from .dicom import open_dicom

        return open_dicom(path, fallback=lambda p: _open_tiff(p, strict))
    if path.suffix.lower() not in TIFF_EXTENSIONS:
        raise SlideError(
            path,
            f"has the extension '{path.suffix}', which is not a supported slide format.",
            f"Supported: {', '.join(SUPPORTED_EXTENSIONS)}.",
        )
    return _open_tiff(path, strict)
