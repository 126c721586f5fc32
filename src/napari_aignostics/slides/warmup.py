"""Import the slide-reading stack in a background thread, once, before the first slide is opened.

Opening the first slide imports tiffslide, tifffile, its codecs, zarr and dask (and dask imports
``distributed`` on its first compute when that is installed): over a second on the main thread.
When the dock is created these imports start in a daemon thread instead, so that the first slide
the user opens finds them loaded. (pint's unit registry, which napari's µm scale bar loads on
first use, is not warmed up here: its lazy loading is not safe from a second thread.)
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import threading

__all__ = ["SLIDE_MODULES", "warm_up"]

log = logging.getLogger(__name__)

SLIDE_MODULES = ("tifffile", "imagecodecs", "zarr", "tiffslide", "dask.array", "distributed")
"""What opening and showing a slide imports, in import order (missing optional ones are skipped)."""

_thread: threading.Thread | None = None


def warm_up() -> threading.Thread:
    """Start importing :data:`SLIDE_MODULES` in a daemon thread (once per process); the thread."""
    global _thread
    if _thread is None:
        _thread = threading.Thread(target=_import_all, name="slide-import-warm-up", daemon=True)
        _thread.start()
    return _thread


def _import_all() -> None:
    for name in SLIDE_MODULES:
        try:
            if importlib.util.find_spec(name.split(".")[0]) is not None:
                importlib.import_module(name)
        except Exception as error:  # noqa: BLE001 - the real open reports a missing dependency
            log.debug("warm-up import of %s failed: %s", name, error)
