"""Slide metadata for the platform: the one function every submission path uses."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .checksum import crc32c_base64
from .slide_errors import SlideError
from .slide_ref import SlideRef

if TYPE_CHECKING:
    from napari.layers import Layer


def media_type_for(path: str | Path) -> str:
    """The platform's ``media_type`` for a slide file, by extension (as the official SDK decides)."""
    suffix = Path(path).suffix.lower()
    if suffix in (".tif", ".tiff"):
        return "image/tiff"
    if suffix == ".dcm":
        return "application/dicom"
    if suffix == ".zip":
        return "application/zip"
    return "application/octet-stream"


@dataclass(frozen=True)
class SlideMetadata:
    """What the platform needs to know about one input slide."""

    path: Path
    width_px: int
    height_px: int
    resolution_mpp: float | None
    media_type: str
    checksum_base64_crc32c: str
    size_bytes: int

    def ref(self, layer: Layer | None = None) -> SlideRef:
        """The slide reference that travels with the run (shown in ``layer`` if given)."""
        return SlideRef(
            self.path,
            (self.width_px, self.height_px),
            self.resolution_mpp,
            self.checksum_base64_crc32c or None,
            layer,
        )

    def submission_problems(self) -> list[str]:
        """What makes this slide unfit for analysis before any schema is consulted (empty if fit)."""
        if self.resolution_mpp is None:
            return [
                "no pixel size (µm/px) in the file: the analysis cannot measure cells; "
                "export the slide with its resolution from the scanner software"
            ]
        return []

    def as_artifact_metadata(self) -> dict[str, Any]:
        """The input artifact ``metadata`` (keys as in the platform's input schemas)."""
        data = asdict(self)
        for key in ("path", "size_bytes"):
            data.pop(key)
        return data


def slide_metadata(path: str | Path, *, checksum: bool = True) -> SlideMetadata:
    """Dimensions, level-0 mpp, media type and CRC32C of a slide file.

    Raises :class:`SlideError` when the file is not a readable slide, including one whose
    coarsest level cannot be decoded (it would be analysed as a black image).
    """
    from .reader import open_slide, probe_pixels  # dask: not when the dock imports the session

    path = Path(path)
    if path.is_dir():
        raise SlideError(
            path, "is a folder; submit the slide file itself (zip a DICOM series folder first)."
        )
    with open_slide(path, strict=True) as slide:
        width, height = slide.level_dimensions[0]
        mpp = slide.mpp
        probe_pixels(slide)
    return SlideMetadata(
        path=path,
        width_px=int(width),
        height_px=int(height),
        resolution_mpp=mpp,
        media_type=media_type_for(path),
        checksum_base64_crc32c=crc32c_base64(path) if checksum else "",
        size_bytes=path.stat().st_size,
    )
