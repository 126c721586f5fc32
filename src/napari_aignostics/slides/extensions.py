"""The file extensions of the slide formats this plugin opens (no imports: the reader's choice is fast)."""

from __future__ import annotations

TIFF_EXTENSIONS = (".svs", ".tif", ".tiff", ".ndpi", ".scn", ".bif")
DICOM_EXTENSIONS = (".dcm",)
SUPPORTED_EXTENSIONS = TIFF_EXTENSIONS + DICOM_EXTENSIONS
