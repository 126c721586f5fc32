"""The review model the dock drives: class visibility, colours, confidence, counts, lookup.

Classes are read through one array the model owns, :attr:`ReviewModel.class_codes` (1-based
index into ``table.class_names`` per object, 0 = not a cell). Corrections change it only with
:meth:`ReviewModel.set_classes`, which tells every derived view (counts, raster colours, density
maps, colour-by) through :attr:`ReviewModel.on_classes_changed`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import shapely

from .measure_colors import MeasureColors
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
    class_codes: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint16), repr=False)
    """Class per object (1-based into ``table.class_names``; 0 = not a cell): the one source."""
    on_classes_changed: list[Callable[[np.ndarray], None]] = field(default_factory=list, repr=False)
    """Called with the indices whose class changed, after :meth:`set_classes`."""
    color_by: MeasureColors | None = None
    """Colour by a measurement instead of by class (None: class colours)."""
    _codes: np.ndarray | None = field(default=None, repr=False)
    _tally: tuple[float, np.ndarray, np.ndarray] | None = field(default=None, repr=False)
    """(threshold, cells per code, cells at or above the threshold per code), kept per edit."""

    def __post_init__(self) -> None:
        for name, rgb in self.table.colors.items():
            self.styles.setdefault(name, ClassStyle(rgb))
        if len(self.class_codes) != len(self.table):
            self.class_codes = self.table.class_index().astype(np.uint16, copy=True)

    @property
    def class_names(self) -> list[str]:
        """Class names; code ``i`` is ``class_names[i - 1]``."""
        return list(self.styles)

    def class_code(self, name: str, rgb: tuple[int, int, int] | None = None) -> int:
        """The code of class ``name``, adding the class (with ``rgb`` or a palette colour) if new."""
        if name not in self.styles:
            from .tables import palette_color

            if len(self.styles) + 1 > self._max_classes():
                raise ValueError(f"cannot add class {name!r}: at most {self._max_classes()}")
            self.styles[name] = ClassStyle(rgb or palette_color(name))
        return list(self.styles).index(name) + 1

    def set_classes(self, indices: np.ndarray, code: int) -> None:
        """Give the objects at ``indices`` class ``code`` (0: not a cell) and tell the listeners.

        The overview raster codes are updated in place (a listener then redraws only the
        tiles those objects touch); everything else reads :attr:`class_codes` when asked.
        """
        if not 0 <= code <= len(self.styles):
            raise ValueError(f"class code {code} is not one of 0…{len(self.styles)}")
        indices = np.asarray(indices, dtype=np.int64)
        self._count_change(np.unique(indices), code)
        self.class_codes[indices] = code
        if self._codes is not None:
            self._codes[indices] = self._raster_code(indices)
        for listener in list(self.on_classes_changed):
            listener(indices)

    def classes_of(self, indices: np.ndarray | None = None) -> np.ndarray:
        """Class names of the objects at ``indices`` (all by default), as corrected."""
        names = np.array(["", *self.styles], dtype=object)
        codes = self.class_codes if indices is None else self.class_codes[indices]
        return names[codes]

    def class_name(self, index: int) -> str | None:
        """The (corrected) class of one object; None when it is not a cell."""
        return str(self.classes_of(np.array([index]))[0]) or None

    def set_visible(self, name: str, visible: bool) -> None:
        """Show or hide a class."""
        self.styles[name].visible = visible

    def set_color(self, name: str, rgb: tuple[int, int, int]) -> None:
        """Recolour a class."""
        self.styles[name].color = rgb

    def shown(self, indices: np.ndarray | None = None) -> np.ndarray:
        """Boolean mask of the objects (of ``indices``) that pass the filters."""
        by_class = np.array([False] + [style.visible for style in self.styles.values()], dtype=bool)
        visible = by_class[self.class_codes if indices is None else self.class_codes[indices]]
        confident = self._confident(indices)
        return visible if confident is None else visible & confident

    def _confident(self, indices: np.ndarray | None = None) -> np.ndarray | None:
        """Which objects (of ``indices``) reach the confidence threshold; None: all of them."""
        if self.table.confidence is None or self.min_confidence <= 0:
            return None
        values = self.table.confidence if indices is None else self.table.confidence[indices]
        return np.asarray(np.nan_to_num(values, nan=1.0) >= self.min_confidence)

    def counts(self, shown: np.ndarray | None = None) -> dict[str, tuple[int, int]]:
        """Per class: (shown, total).

        Without ``shown``, from tallies kept up to date by each edit (no pass over the cells
        unless the threshold moved); with it, counted from that mask.
        """
        if shown is None:
            totals, confident = self._class_tally()
            visible = [
                confident[i] if s.visible else 0 for i, s in enumerate(self.styles.values(), 1)
            ]
            return {
                name: (int(visible[i - 1]), int(totals[i])) for i, name in enumerate(self.styles, 1)
            }
        size = len(self.styles) + 1
        totals = np.bincount(self.class_codes, minlength=size)
        shown_per_class = np.bincount(self.class_codes[shown], minlength=size)
        return {
            name: (int(shown_per_class[i]), int(totals[i]))
            for i, name in enumerate(self.styles, start=1)
        }

    def _class_tally(self) -> tuple[np.ndarray, np.ndarray]:
        """Cells per code and cells at or above the threshold per code (codes 0…classes)."""
        size = len(self.styles) + 1
        if self._tally is None or self._tally[0] != self.min_confidence:
            totals = np.bincount(self.class_codes, minlength=size).astype(np.int64)
            confident = self._confident()
            above = (
                totals.copy()
                if confident is None
                else np.bincount(self.class_codes[confident], minlength=size).astype(np.int64)
            )
            self._tally = (self.min_confidence, totals, above)
        threshold, totals, above = self._tally
        if len(totals) < size:  # a class was added since
            grow = size - len(totals)
            totals, above = np.pad(totals, (0, grow)), np.pad(above, (0, grow))
            self._tally = (threshold, totals, above)
        return totals, above

    def _count_change(self, indices: np.ndarray, code: int) -> None:
        """Move the (unique) ``indices`` from their codes to ``code`` in the tallies."""
        if self._tally is None or self._tally[0] != self.min_confidence:
            return  # counted afresh when next asked
        totals, above = self._class_tally()
        old = self.class_codes[indices]
        totals -= np.bincount(old, minlength=len(totals))[: len(totals)]
        totals[code] += len(indices)
        confident = self._confident(indices)
        moved = old if confident is None else old[confident]
        above -= np.bincount(moved, minlength=len(above))[: len(above)]
        above[code] += len(moved)

    def face_colors(self, indices: np.ndarray | None = None) -> np.ndarray:
        """(N, 4) RGBA in [0, 1] per object (of ``indices``): by class or by the measurement."""
        if self.color_by is not None:
            return self.color_by.colors(indices)
        table = np.zeros((len(self.styles) + 1, 4), dtype=np.float32)
        for i, style in enumerate(self.styles.values(), start=1):
            table[i] = np.array([*style.color, 255], dtype=np.float32) / 255
        return table[self.class_codes if indices is None else self.class_codes[indices]]

    def overview_values(self, out: np.ndarray | None = None) -> np.ndarray:
        """float32 per object for the colour-by overview: the measurement, NaN where not shown.

        Written into ``out`` when given (the array a value raster reads), else a new array.
        """
        assert self.color_by is not None, "not colouring by a measurement"
        values = np.where(self.shown(), self.color_by.values, np.float32(np.nan))
        if out is None:
            return values.astype(np.float32)
        out[:] = values
        return out

    @property
    def bins(self) -> int:
        """Confidence steps the overview raster can filter by colour alone (1: no confidence)."""
        return CONFIDENCE_STEPS + 1 if self.table.confidence is not None else 1

    def raster_codes(self) -> np.ndarray:
        """Overview label per object: class and confidence step together (0 is background).

        Class toggles and the confidence threshold then only change the raster's colours
        (:meth:`rgba_lut`), never its pixels: they act at once on a million cells.
        """
        if self._codes is None:
            dtype = np.uint16 if self._max_classes() * self.bins < 2**16 else np.uint32
            self._codes = self._raster_code(np.arange(len(self.table))).astype(dtype)
        return self._codes

    def _max_classes(self) -> int:
        """Classes the raster codes can hold (uint16 codes unless the file brings more)."""
        fits = (2**16 - 1) // self.bins
        return fits if len(self.table.colors) <= fits else (2**31 - 1) // self.bins

    def _raster_code(self, indices: np.ndarray) -> np.ndarray:
        """Raster codes of some objects (0 for objects that are not cells)."""
        index = self.class_codes[indices].astype(np.int64)
        step = np.zeros(len(index), dtype=np.int64)
        if self.table.confidence is not None:
            confidence = np.nan_to_num(self.table.confidence[indices].astype(np.float64), nan=1.0)
            step = np.floor(np.clip(confidence, 0, 1) * CONFIDENCE_STEPS + 1e-5).astype(np.int64)
            step = np.clip(step, 0, CONFIDENCE_STEPS)
        return np.where(index > 0, (index - 1) * self.bins + step + 1, 0)

    def rgba_lut(self) -> np.ndarray:
        """(codes, 4) uint8 colour of each overview code: hidden classes and steps transparent."""
        first_step = (
            math.ceil(self.min_confidence * CONFIDENCE_STEPS - 1e-6) if self.bins > 1 else 0
        )
        lut = np.zeros((len(self.styles) * self.bins + 1, 4), dtype=np.uint8)
        steps = np.arange(self.bins)
        for index, style in enumerate(self.styles.values()):
            rows = lut[index * self.bins + 1 : (index + 1) * self.bins + 1]
            rows[:, :3] = style.color
            rows[:, 3] = np.where(style.visible & (steps >= first_step), 255, 0)
        return lut

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

    def properties(self, index: int, mpp: float | None = None) -> dict[str, object]:
        """Everything known about one object; with ``mpp``, centroid in µm and area in µm²."""
        props: dict[str, object] = {
            "id": self.table.ids[index],
            "class": self.class_name(index) or "not a cell",
        }
        if self.table.confidence is not None:
            props["confidence"] = float(self.table.confidence[index])
        for name, values in self.table.measurements.items():
            props[name] = float(values[index])
        x, y = self.table.centroids[index]
        area = float(self.table.geometry.take(np.array([index])).areas()[0])
        if mpp:
            props["centroid x (µm)"], props["centroid y (µm)"] = float(x) * mpp, float(y) * mpp
            props.setdefault("area (µm²)", area * mpp * mpp)
        else:
            props["centroid_x"], props["centroid_y"] = float(x), float(y)
            props.setdefault("area (px²)", area)
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
