"""Objects from results (cells, tissue regions) as columns, with class colours."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely

__all__ = ["ObjectTable", "palette_color"]


def palette_color(name: str) -> tuple[int, int, int]:
    """A stable, clearly visible colour for a class without one (same name → same colour)."""
    import colorsys

    digest = hashlib.sha256(name.encode()).digest()
    hue = digest[0] / 255.0
    r, g, b = colorsys.hsv_to_rgb(hue, 0.75, 0.95)
    return int(r * 255), int(g * 255), int(b * 255)


@dataclass
class ObjectTable:
    """N objects: polygons (level-0 px), centroids, class, confidence and measurements."""

    polygons: np.ndarray
    """shapely Polygons (object array)."""
    classes: np.ndarray
    """Class name per object (str array)."""
    colors: dict[str, tuple[int, int, int]]
    ids: np.ndarray
    confidence: np.ndarray | None = None
    measurements: dict[str, np.ndarray] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    """What was skipped or repaired while reading, for the user."""
    _centroids: np.ndarray | None = field(default=None, repr=False)
    _tree: Any = field(default=None, repr=False)
    _class_index: np.ndarray | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.polygons)

    @property
    def centroids(self) -> np.ndarray:
        """(N, 2) level-0 (x, y)."""
        if self._centroids is None:
            points = shapely.centroid(self.polygons)
            self._centroids = np.column_stack([shapely.get_x(points), shapely.get_y(points)])
        return self._centroids

    @property
    def tree(self) -> shapely.STRtree:
        """Spatial index over the polygons."""
        if self._tree is None:
            self._tree = shapely.STRtree(self.polygons)
        return self._tree

    @property
    def class_names(self) -> list[str]:
        """Classes in colour-table order."""
        return list(self.colors)

    def class_index(self) -> np.ndarray:
        """1-based class index per object (0 is background), computed once."""
        if self._class_index is None or len(self._class_index) != len(self):
            lookup = {name: i + 1 for i, name in enumerate(self.colors)}
            self._class_index = np.fromiter(
                (lookup[c] for c in self.classes), dtype=np.uint16, count=len(self)
            )
        return self._class_index

    def bounds(self) -> tuple[float, float, float, float]:
        """(minx, miny, maxx, maxy) of all objects."""
        if not len(self):
            return (0.0, 0.0, 0.0, 0.0)
        b = shapely.total_bounds(self.polygons)
        return float(b[0]), float(b[1]), float(b[2]), float(b[3])

    def features(self) -> dict[str, np.ndarray]:
        """Per-object columns for a napari ``features`` table."""
        columns: dict[str, np.ndarray] = {"id": self.ids, "class": self.classes}
        if self.confidence is not None:
            columns["confidence"] = self.confidence
        columns.update(self.measurements)
        return columns

    def subset(self, keep: np.ndarray) -> ObjectTable:
        """Only the rows where ``keep`` is true."""
        return ObjectTable(
            polygons=self.polygons[keep],
            classes=self.classes[keep],
            colors=dict(self.colors),
            ids=self.ids[keep],
            confidence=None if self.confidence is None else self.confidence[keep],
            measurements={k: v[keep] for k, v in self.measurements.items()},
            problems=list(self.problems),
        )
