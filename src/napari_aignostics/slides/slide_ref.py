"""The slide reference: the facts about one slide that travel from submission to its results.

Submit makes a :class:`SlideRef` once (from the computed metadata and the layer the slide is shown
in); the session keeps it with the run; the results side receives it and places the layers with
its size and mpp. :func:`slide_ref_of` reads one back from a layer this plugin opened, for a results
folder opened without a session.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from .layers import METADATA_KEY

if TYPE_CHECKING:
    from napari.layers import Layer

__all__ = ["SlideRef", "find_slide", "open_slides", "slide_ref_of"]


@dataclass(frozen=True)
class SlideRef:
    """One slide: its file, level-0 size, pixel size, checksum and the layer it is shown in."""

    path: Path
    size: tuple[int, int] | None
    """Level-0 (width, height) in pixels."""
    mpp: float | None
    """Level-0 µm per pixel, None when the slide does not say."""
    checksum: str | None = None
    """Base64 CRC32C of the file, when computed."""
    layer: Layer | None = field(default=None, compare=False, repr=False)

    @property
    def external_id(self) -> str:
        """The run item's external id for this slide (its resolved path)."""
        return str(self.path.resolve())

    def shown_in(self, layer: Layer | None) -> SlideRef:
        """The same slide, shown in ``layer``."""
        return replace(self, layer=layer)

    def matches(self, external_id: str) -> bool:
        """Whether a run item with ``external_id`` is this slide (the same resolved path)."""
        return self.external_id == str(Path(external_id).resolve())


def slide_ref_of(layer: Layer) -> SlideRef | None:
    """The reference of a slide layer opened by this plugin; None for any other layer."""
    meta = layer.metadata.get(METADATA_KEY)
    if not isinstance(meta, dict) or "path" not in meta:
        return None
    dimensions = meta.get("level_dimensions") or []
    size = (int(dimensions[0][0]), int(dimensions[0][1])) if dimensions else None
    mpp = meta.get("mpp")
    return SlideRef(Path(meta["path"]), size, float(mpp) if mpp else None, layer=layer)


def find_slide(layers: Iterable[Layer], external_id: str) -> SlideRef | None:
    """The open slide an item belongs to: the same path, else the same file name, else None.

    The one fallback for results opened without the reference their submission carried.
    """
    refs = open_slides(layers)
    exact = next((ref for ref in refs if ref.matches(external_id)), None)
    if exact is not None:
        return exact
    name = Path(external_id).name
    return next((ref for ref in refs if ref.path.name == name), None)


def open_slides(layers: Iterable[Layer]) -> list[SlideRef]:
    """References of the slide layers among ``layers``, the newest (topmost) first."""
    return [ref for layer in reversed(list(layers)) if (ref := slide_ref_of(layer)) is not None]
