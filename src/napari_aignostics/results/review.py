"""The review model the dock drives: class visibility, colours, confidence, counts, lookup."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import shapely

from .tables import ObjectTable

__all__ = ["CONFIDENCE_STEPS", "NOT_A_CELL", "ClassStyle", "ReviewModel"]

CONFIDENCE_STEPS = 100
"""The confidence threshold moves in steps of 1/100 (the dock's slider)."""
NOT_A_CELL = 0
"""The class code of an object a reviewer marked as not a cell: hidden, counted nowhere."""


@dataclass
class ClassStyle:
    """How one class is shown."""

    color: tuple[int, int, int]
    visible: bool = True


@dataclass
class ReviewModel:
    """Filters over a cell table; every view (points, raster, in-view shapes) follows it."""

    table: ObjectTable
    min_confidence: float = 0.0
    opacity: float = 0.8
    styles: dict[str, ClassStyle] = field(default_factory=dict)
    on_classes_changed: list[Callable[[np.ndarray], None]] = field(default_factory=list, repr=False)
    """Called with the indices whose class :meth:`set_classes` changed."""
    _codes: np.ndarray | None = field(default=None, repr=False)
    _classes: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        for name, rgb in self.table.colors.items():
            self.styles.setdefault(name, ClassStyle(rgb))

    def set_visible(self, name: str, visible: bool) -> None:
        """Show or hide a class."""
        self.styles[name].visible = visible

    def set_color(self, name: str, rgb: tuple[int, int, int]) -> None:
        """Recolour a class."""
        self.styles[name].color = rgb

    def class_codes(self) -> np.ndarray:
        """1-based class index per object after corrections (``NOT_A_CELL`` hides one)."""
        return self.table.class_index() if self._classes is None else self._classes

    def set_classes(self, indices: np.ndarray, code: int) -> None:
        """Give the objects at ``indices`` class ``code`` (1-based in ``table.class_names``)."""
        if not 0 <= code <= len(self.table.class_names):
            raise ValueError(
                f"class code {code} is not one of the {len(self.table.class_names)} classes"
            )
        indices = np.asarray(indices, dtype=np.int64)
        if self._classes is None:
            self._classes = self.table.class_index().copy()
        self._classes[indices] = code
        if self._codes is not None:
            self._codes[indices] = self._raster_codes(indices)
        for listener in list(self.on_classes_changed):
            listener(indices)

    def class_name(self, index: int) -> str | None:
        """The (corrected) class of one object; None when it is not a cell."""
        code = int(self.class_codes()[index])
        return self.table.class_names[code - 1] if code else None

    def shown(self) -> np.ndarray:
        """Boolean mask of the objects that pass the filters."""
        by_class = np.array(
            [False] + [self.styles[name].visible for name in self.table.class_names], dtype=bool
        )
        visible = by_class[self.class_codes()]
        if self.table.confidence is not None and self.min_confidence > 0:
            visible &= np.nan_to_num(self.table.confidence, nan=1.0) >= self.min_confidence
        return visible

    def counts(self, shown: np.ndarray | None = None) -> dict[str, tuple[int, int]]:
        """Per class: (shown, total); ``shown`` when the caller has the mask already."""
        shown = self.shown() if shown is None else shown
        index = self.class_codes()
        size = len(self.table.class_names) + 1
        totals = np.bincount(index, minlength=size)
        visible = np.bincount(index[shown], minlength=size)
        return {
            name: (int(visible[i]), int(totals[i]))
            for i, name in enumerate(self.table.class_names, start=1)
        }

    def face_colors(self) -> np.ndarray:
        """(N, 4) RGBA in [0, 1] per object."""
        if not len(self.table):
            return np.zeros((0, 4), dtype=np.float32)
        table = np.zeros((len(self.table.class_names) + 1, 4), dtype=np.float32)
        for i, name in enumerate(self.table.class_names, start=1):
            table[i] = np.array([*self.styles[name].color, 255], dtype=np.float32) / 255
        return table[self.class_codes()]

    @property
    def bins(self) -> int:
        """Confidence steps the overview raster can filter by colour alone (1: no confidence)."""
        return CONFIDENCE_STEPS + 1 if self.table.confidence is not None else 1

    def raster_codes(self) -> np.ndarray:
        """Overview label per object: class and confidence step together (0 is background).

        Class toggles and the confidence threshold then only change the raster's colours
        (:meth:`label_colors`), never its pixels: they act at once on a million cells.
        """
        if self._codes is None:
            self._codes = self._raster_codes(slice(None))
        return self._codes

    def _raster_codes(self, rows: np.ndarray | slice) -> np.ndarray:
        index = self.class_codes()[rows].astype(np.int64)
        step = np.zeros(len(index), dtype=np.int64)
        if self.table.confidence is not None:
            confidence = np.nan_to_num(self.table.confidence[rows].astype(np.float64), nan=1.0)
            step = np.floor(np.clip(confidence, 0, 1) * CONFIDENCE_STEPS + 1e-5).astype(np.int64)
            step = np.clip(step, 0, CONFIDENCE_STEPS)
        return np.where(index > 0, (index - 1) * self.bins + step + 1, 0)

    def label_colors(self) -> dict[int | None, tuple[float, float, float, float]]:
        """``DirectLabelColormap`` colours for the overview raster: hidden codes transparent."""
        colors: dict[int | None, tuple[float, float, float, float]] = {
            None: (0.0, 0.0, 0.0, 0.0),
            0: (0.0, 0.0, 0.0, 0.0),
        }
        first_step = (
            math.ceil(self.min_confidence * CONFIDENCE_STEPS - 1e-6) if self.bins > 1 else 0
        )
        for index, name in enumerate(self.table.class_names):
            style = self.styles[name]
            r, g, b = (c / 255 for c in style.color)
            for step in range(self.bins):
                alpha = 1.0 if style.visible and step >= first_step else 0.0
                colors[index * self.bins + step + 1] = (r, g, b, alpha)
        return colors

    def object_at(self, x: float, y: float, radius: float = 0.0) -> int | None:
        """Index of the shown object under level-0 (x, y) (nearest within ``radius``)."""
        hits = self.table.query((x - radius, y - radius, x + radius, y + radius))
        hits = hits[self.shown()[hits]]
        if not len(hits):
            return None
        distances = shapely.distance(self.table.geometry.to_shapely(hits), shapely.Point(x, y))
        near = distances <= radius
        if not near.any():
            return None
        return int(hits[near][int(np.argmin(distances[near]))])

    def properties(self, index: int) -> dict[str, object]:
        """Everything known about one object."""
        props: dict[str, object] = {
            "id": self.table.ids[index],
            "class": self.class_name(index) or "not a cell",
        }
        if self.table.confidence is not None:
            props["confidence"] = float(self.table.confidence[index])
        for name, values in self.table.measurements.items():
            props[name] = float(values[index])
        x, y = self.table.centroids[index]
        props["centroid_x"], props["centroid_y"] = float(x), float(y)
        return props

    def jump_target(
        self, index: int, mpp: float | None, view_um: float = 60.0
    ) -> tuple[tuple[float, float], float]:
        """Camera centre (world y, x) and zoom (screen px per world unit for ~600 px views)."""
        x, y = self.table.centroids[index]
        scale = mpp or 1.0
        return ((y - 0.5) * scale, (x - 0.5) * scale), 600.0 / (view_um if mpp else view_um / 0.5)

    def in_view(self, bounds: tuple[float, float, float, float], cap: int = 5000) -> np.ndarray:
        """Indices of shown objects intersecting level-0 ``(minx, miny, maxx, maxy)``, at most ``cap``."""
        hits = self.table.query(bounds)
        return hits[self.shown()[hits]][:cap]
