"""npe2 reader and sample-data contributions for slides (napari glue)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from . import reader as _reader
from .layers import LayerData, slide_layer_data
from .reader import DICOM_EXTENSIONS, SUPPORTED_EXTENSIONS, open_slide
from .warmup import use_cached_unit_registry


def _notify_read_error(path: Path, error: BaseException) -> None:
    from napari.utils.notifications import show_error

    show_error(
        f"{path.name}: a tile of this slide could not be decoded ({type(error).__name__}: {error}). "
        "It is shown black; the file may be damaged — re-export or re-scan it."
    )


def _single_path(path: str | list[str]) -> Path | None:
    if isinstance(path, list):
        if len(path) != 1:
            return None
        path = path[0]
    return Path(path)


def get_reader(path: str | list[str]) -> Callable[[str | list[str]], list[LayerData]] | None:
    """Accept slide files and DICOM series folders; decline everything else."""
    p = _single_path(path)
    if p is None:
        return None
    if p.is_dir():
        try:
            has_dicom = any(child.suffix.lower() in DICOM_EXTENSIONS for child in p.iterdir())
        except OSError:
            return None
        return read_slide if has_dicom else None
    return read_slide if p.suffix.lower() in SUPPORTED_EXTENSIONS else None


def read_slide(path: str | list[str]) -> list[LayerData]:
    """Open the slide lazily and return one multiscale RGB image layer."""
    from napari.utils.notifications import show_warning

    p = _single_path(path)
    assert p is not None
    _reader.read_error_handler = _notify_read_error
    slide = open_slide(p)
    for warning in slide.warnings:
        show_warning(warning)
    use_cached_unit_registry()  # the µm scale bar and layer units load pint's registry
    _show_scale_bar(slide.mpp is not None)
    return [slide_layer_data(slide)]


def _show_scale_bar(physical: bool) -> None:
    try:
        import napari

        viewer = napari.current_viewer()
    except Exception:  # noqa: BLE001 - no viewer (e.g. headless use) is fine
        return
    if viewer is not None and physical:
        viewer.scale_bar.visible = True


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
