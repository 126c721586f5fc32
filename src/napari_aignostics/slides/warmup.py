"""Import the slide-reading stack in a background thread, once, before the first slide is opened.

Opening the first slide imports tiffslide, tifffile, its codecs, zarr and dask (and dask imports
``distributed`` on its first compute when that is installed): over a second on the main thread.
When the dock is created these imports start in a daemon thread instead, so that the first slide
the user opens finds them loaded, and so do the results put on it (napari's layer modules). The
results loader made for File → Open warms up only the layer modules. (Started from the slide reader,
the thread slowed the first slide open: it competed with napari's first slice for the interpreter.)

pint's unit registry, which napari's µm scale bar and layer units load on first use, parses pint's
unit definitions (over a second; its lazy loading is not safe from a second thread):
:func:`use_cached_unit_registry` gives pint a registry that keeps the parsed definitions in pint's
disk cache, so every later start loads them in a fraction of that.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import threading

__all__ = ["LAYER_MODULES", "SLIDE_MODULES", "use_cached_unit_registry", "warm_up"]

log = logging.getLogger(__name__)

SLIDE_MODULES = ("tifffile", "imagecodecs", "zarr", "tiffslide", "dask.array", "distributed")
"""What opening and showing a slide imports, in import order (missing optional ones are skipped)."""
LAYER_MODULES = ("scipy.ndimage", "skimage.color")
"""What napari imports when it makes the first image thumbnail and the first Labels layer's colours
(over a second together): results' layers find them loaded."""

_threads: dict[tuple[str, ...], threading.Thread] = {}


def warm_up(modules: tuple[str, ...] = (*SLIDE_MODULES, *LAYER_MODULES)) -> threading.Thread:
    """Start importing ``modules`` (by default :data:`SLIDE_MODULES`, then :data:`LAYER_MODULES`)
    in a daemon thread, once per process and set of modules; the thread."""
    thread = _threads.get(modules)
    if thread is None:
        thread = threading.Thread(
            target=_import_all, args=(modules,), name="import-warm-up", daemon=True
        )
        _threads[modules] = thread
        thread.start()
    return thread


def _import_all(modules: tuple[str, ...]) -> None:
    for name in modules:
        try:
            if importlib.util.find_spec(name.split(".")[0]) is not None:
                importlib.import_module(name)
        except Exception as error:  # noqa: BLE001 - the real open reports a missing dependency
            log.debug("warm-up import of %s failed: %s", name, error)


def use_cached_unit_registry() -> bool:
    """Make pint's application registry one with pint's disk cache (``cache_folder=":auto:"``),
    unless pint's registry is in use already; True if it was installed now.

    Call on the main thread before napari first uses units (the scale bar, a layer's units).
    """
    import pint

    current = pint.get_application_registry().get()
    if not isinstance(current, pint.LazyRegistry):  # built already: quantities hold it
        return False
    try:
        registry: pint.UnitRegistry = pint.UnitRegistry(cache_folder=":auto:", on_redefinition="raise")
    except OSError as error:  # no writable cache folder: pint's own registry loads as before
        log.debug("pint's disk cache is not available: %s", error)
        return False
    pint.set_application_registry(registry)
    return True
