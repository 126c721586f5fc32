"""Slides to napari layer data, synchronously: the sample-data contributions and viewers without a
window on screen (scripts, tests). The npe2 reader (``widgets/slide_opener.py``) opens slides in a
worker when the viewer is shown."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .extensions import DICOM_EXTENSIONS, SUPPORTED_EXTENSIONS
from .layers import LayerData
from .prepare import PreparedSlide, prepare_slide
from .warmup import install_unit_registry

if TYPE_CHECKING:
    from napari import Viewer


def notify_read_error(path: Path, error: BaseException) -> None:
    """napari's notification for the first tile of a slide that cannot be decoded."""
    from napari.utils.notifications import show_error

    show_error(
        f"{path.name}: a tile of this slide could not be decoded ({type(error).__name__}: {error}). "
        "It is shown black; the file may be damaged — re-export or re-scan it."
    )


def slide_path(path: str | list[str]) -> Path | None:
    """The slide file or DICOM series folder napari asks about; None if it is not one."""
    if isinstance(path, list):
        if len(path) != 1:
            return None
        path = path[0]
    p = Path(path)
    if p.is_dir():
        try:
            has_dicom = any(child.suffix.lower() in DICOM_EXTENSIONS for child in p.iterdir())
        except OSError:
            return None
        return p if has_dicom else None
    return p if p.suffix.lower() in SUPPORTED_EXTENSIONS else None


def read_slide(path: str | list[str]) -> list[LayerData]:
    """Open the slide lazily and return one multiscale RGB image layer (on this thread)."""
    p = slide_path(path)
    if p is None:
        raise ValueError(f"not a slide: {path}")
    prepared = prepare_slide(p, read_errors=notify_read_error)
    return [show_prepared(prepared, current_viewer_of_napari())]


def show_prepared(prepared: PreparedSlide, viewer: object | None) -> LayerData:
    """The main thread's part of opening a slide: pint's registry, the warnings, the scale bar;
    the layer data to add."""
    from napari.utils.notifications import show_warning

    if prepared.units is not None:
        install_unit_registry(prepared.units)
    for warning in prepared.warnings:
        show_warning(warning)
    scale_bar = getattr(viewer, "scale_bar", None)
    if scale_bar is not None and prepared.physical:
        scale_bar.visible = True
    return prepared.layer


def current_viewer_of_napari() -> Viewer | None:
    """napari's current viewer, None without one (headless use)."""
    try:
        import napari

        return napari.current_viewer()
    except Exception:  # noqa: BLE001 - no viewer (e.g. headless use) is fine
        return None


def real_sample_slide() -> list[LayerData]:
    """The real H&E sample: CMU-1-Small-Region (CC0, OpenSlide test data), shipped with the plugin."""
    from .sample import real_sample_path

    return read_slide(str(real_sample_path()))


def sample_slide() -> list[LayerData]:
    """The large H&E-like sample slide for scale (generated into the user cache on first use)."""
    from napari.utils import progress
    from napari.utils.notifications import show_info

    from .sample import sample_slide_path

    with progress(total=100, desc="Preparing the sample slide") as bar:

        def report(fraction: float, message: str) -> None:
            bar.n = int(fraction * 100)
            bar.set_description(f"Sample slide: {message}")
            bar.refresh()

        path = sample_slide_path(progress=report)
    show_info(f"Sample slide: {path.name} (20000 x 16000 px, 0.25 µm/px)")
    return read_slide(str(path))
