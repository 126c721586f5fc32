"""Import the slide-reading stack in a background thread, once, before the first slide is opened.

Opening the first slide imports tiffslide, tifffile, its codecs, zarr and dask (and dask imports
``distributed`` on its first compute when that is installed): over a second on the main thread.
When the dock is created these imports start in a daemon thread instead, so that the first slide
the user opens finds them loaded, and so do the results put on it (napari's layer modules). The
results loader made for File → Open warms up only the layer modules. (Started from the slide reader,
the thread slowed the first slide open: it competed with napari's first slice for the interpreter.)

pint's unit registry, which napari's µm scale bar and layer units load on first use, parses pint's
unit definitions (over a second; its lazy loading is not safe from a second thread):
:func:`build_unit_registry` makes a complete registry (any thread) that keeps the parsed definitions
in a disk cache of this plugin's, so every later start loads them in a fraction of that, and
:func:`install_unit_registry` makes it pint's application registry (main thread). pint's shared
cache (``cache_folder=":auto:"``) is not used: its entries are keyed by the definition files'
contents but hold the absolute paths of the install that wrote them, so a cache written by another
(or a deleted) environment breaks the registry; ours is keyed by pint's version and install folder.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import importlib.util
import logging
import shutil
import threading
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pint

__all__ = [
    "LAYER_MODULES",
    "SLIDE_MODULES",
    "build_unit_registry",
    "import_now",
    "install_unit_registry",
    "unit_cache_folder",
    "unit_registry_needed",
    "use_cached_unit_registry",
    "warm_up",
]

log = logging.getLogger(__name__)

SLIDE_MODULES = ("tifffile", "imagecodecs", "zarr", "tiffslide", "dask.array", "distributed")
"""What opening and showing a slide imports, in import order (missing optional ones are skipped)."""
LAYER_MODULES = ("scipy.ndimage",)
"""What napari imports when it makes the first image, points or shapes layer (results' layers are
RGBA images, points and shapes; no Labels layer, so no ``skimage.color``): they find it loaded."""

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


def import_now(modules: tuple[str, ...] = SLIDE_MODULES) -> None:
    """Import ``modules`` in this thread (missing optional ones are skipped)."""
    _import_all(modules)


def unit_cache_folder() -> Path:
    """This plugin's cache of pint's parsed definitions, one folder per pint version and install."""
    import pint
    import platformdirs

    install = Path(pint.__file__).resolve().parent
    key = hashlib.sha256(f"{pint.__version__}\0{install}".encode()).hexdigest()[:16]
    root = Path(platformdirs.user_cache_dir("napari-aignostics"))
    return root / "pint" / f"{pint.__version__}-{key}"


def unit_registry_needed() -> bool:
    """Whether pint's application registry is still the lazy default (nothing has used it)."""
    import pint

    return isinstance(pint.get_application_registry().get(), pint.LazyRegistry)


_built: list[pint.UnitRegistry] = []
_building = threading.Lock()


def build_unit_registry() -> pint.UnitRegistry:
    """A complete pint registry, its definitions read through :func:`unit_cache_folder`; built
    once per process (later calls return it).

    Safe in any thread (it touches no shared registry). A cache that cannot be read is removed and
    written again; when no cache folder works the registry parses the definitions itself.
    """
    with _building:
        if not _built:
            _built.append(_build_unit_registry())
        return _built[0]


def _build_unit_registry() -> pint.UnitRegistry:
    import pint

    folder = unit_cache_folder()
    for attempt in range(2):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            return pint.UnitRegistry(cache_folder=folder, on_redefinition="raise")
        except Exception as error:  # noqa: BLE001 - a damaged or foreign cache, a read-only disk
            log.debug("pint cache %s unusable (%s)", folder, error)
            if attempt == 0:
                shutil.rmtree(folder, ignore_errors=True)
    return pint.UnitRegistry(on_redefinition="raise")


def install_unit_registry(registry: pint.UnitRegistry) -> bool:
    """Make ``registry`` pint's application registry unless one is in use already; True if now.

    Call on the main thread before napari first uses units (the scale bar, a layer's units).
    """
    import pint

    if not unit_registry_needed():  # built already: quantities hold it
        return False
    pint.set_application_registry(registry)
    return True


def use_cached_unit_registry() -> bool:
    """Give pint, if its application registry is still unused, a stand-in that becomes the
    registry of :func:`build_unit_registry` on its first use, and start building that registry in
    a daemon thread: instant here, and usually built before napari first uses units. True if the
    stand-in was installed now. Main thread."""
    import pint

    current = pint.get_application_registry().get()
    pending = _pending_registry_class()
    if not isinstance(current, pint.LazyRegistry) or isinstance(current, pending):
        return False
    pint.set_application_registry(pending())
    threading.Thread(target=build_unit_registry, name="unit-registry", daemon=True).start()
    return True


@functools.cache
def _pending_registry_class() -> type[pint.LazyRegistry]:
    import pint

    class PendingRegistry(pint.LazyRegistry):  # type: ignore[type-arg]
        """pint's lazy registry whose first use takes (waiting if need be) the one being built."""

        def _resolve(self) -> pint.UnitRegistry:
            registry = build_unit_registry()
            if pint.get_application_registry().get() is self:
                pint.set_application_registry(registry)
            return registry

        def __getattr__(self, item: str) -> object:
            return getattr(self._resolve(), item)

        def __setattr__(self, key: str, value: object) -> None:
            setattr(self._resolve(), key, value)

        def __getitem__(self, item: str) -> object:
            return self._resolve()[item]

        def __call__(self, text: str) -> object:
            return self._resolve()(text)

    return PendingRegistry
