"""Objects from results (cells, tissue regions) as columns, with class colours."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import shapely

from .geometry import Polygons
from .spatial import CentroidGrid, GridIndex

__all__ = ["ObjectTable", "concat_columns", "palette_color"]


def palette_color(name: str) -> tuple[int, int, int]:
    """A stable, clearly visible colour for a class without one (same name → same colour)."""
    import colorsys

    digest = hashlib.sha256(name.encode()).digest()
    hue = digest[0] / 255.0
    r, g, b = colorsys.hsv_to_rgb(hue, 0.75, 0.95)
    return int(r * 255), int(g * 255), int(b * 255)


def _codes(names: np.ndarray, lookup: dict[str, int]) -> np.ndarray:
    """``lookup[name]`` per name, each distinct name looked up once (Arrow dictionary codes)."""
    try:
        encoded = pa.array(names, type=pa.string()).dictionary_encode()
    except (pa.ArrowException, TypeError, ValueError):  # not all str: one lookup each
        return np.fromiter((lookup[n] for n in names), dtype=np.uint16, count=len(names))
    if encoded.null_count:
        raise KeyError(None)
    table = np.array([lookup[n] for n in encoded.dictionary.to_pylist()], dtype=np.uint16)
    return table[encoded.indices.to_numpy()] if len(table) else np.zeros(len(names), np.uint16)


@dataclass
class ObjectTable:
    """N objects: polygons (level-0 px, flat arrays), class, confidence and measurements."""

    geometry: Polygons
    classes: np.ndarray
    """Class name per object (object array; a few shared strings)."""
    colors: dict[str, tuple[int, int, int]]
    ids: np.ndarray
    confidence: np.ndarray | None = None
    measurements: dict[str, np.ndarray] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    """What was skipped or repaired while reading, for the user."""
    _centroids: np.ndarray | None = field(default=None, repr=False)
    _boxes: np.ndarray | None = field(default=None, repr=False)
    _index: GridIndex | None = field(default=None, repr=False)
    _class_index: np.ndarray | None = field(default=None, repr=False)
    _grid: CentroidGrid | None = field(default=None, repr=False)
    derived: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    """Arrays other models computed from this table once (e.g. the overview's raster codes);
    the reopen cache keeps them with it."""

    def __len__(self) -> int:
        return len(self.geometry)

    @property
    def centroids(self) -> np.ndarray:
        """(N, 2) level-0 (x, y)."""
        if self._centroids is None:
            self._centroids = self.geometry.centroids()
        return self._centroids

    @property
    def boxes(self) -> np.ndarray:
        """(N, 4) bounding box per object."""
        if self._boxes is None:
            self._boxes = self.geometry.bounds()
        return self._boxes

    @property
    def index(self) -> GridIndex:
        """Spatial index over the bounding boxes."""
        if self._index is None:
            self._index = GridIndex(self.boxes)
        return self._index

    @property
    def centroid_grid(self) -> CentroidGrid:
        """Which object shows at each pixel of the coarse overview levels."""
        if self._grid is None:
            self._grid = CentroidGrid.build(self.centroids)
        return self._grid

    def query(self, window: tuple[float, float, float, float]) -> np.ndarray:
        """Indices (ascending) of objects whose box meets level-0 ``(minx, miny, maxx, maxy)``."""
        return self.index.query(window)

    def polygon(self, index: int) -> shapely.Polygon:
        """One object as a shapely Polygon."""
        return self.geometry.to_shapely(np.array([index]))[0]

    @property
    def class_names(self) -> list[str]:
        """Classes in colour-table order."""
        return list(self.colors)

    def class_index(self) -> np.ndarray:
        """1-based class index per object (0 is background), computed once."""
        if self._class_index is None or len(self._class_index) != len(self):
            lookup = {name: i + 1 for i, name in enumerate(self.colors)}
            self._class_index = _codes(self.classes, lookup)
        return self._class_index

    def bounds(self) -> tuple[float, float, float, float]:
        """(minx, miny, maxx, maxy) of all objects."""
        if not len(self):
            return (0.0, 0.0, 0.0, 0.0)
        b = self.boxes
        return (
            float(b[:, 0].min()),
            float(b[:, 1].min()),
            float(b[:, 2].max()),
            float(b[:, 3].max()),
        )

    def features(self) -> dict[str, np.ndarray]:
        """Per-object columns for a napari ``features`` table."""
        columns: dict[str, np.ndarray] = {"id": self.ids, "class": self.classes}
        if self.confidence is not None:
            columns["confidence"] = self.confidence
        columns.update(self.measurements)
        return columns

    def subset(self, keep: np.ndarray) -> ObjectTable:
        """Only the rows where ``keep`` is true."""
        rows = np.flatnonzero(keep)
        return ObjectTable(
            geometry=self.geometry.take(rows),
            classes=self.classes[rows],
            colors=dict(self.colors),
            ids=self.ids[rows],
            confidence=None if self.confidence is None else self.confidence[rows],
            measurements={k: v[rows] for k, v in self.measurements.items()},
            problems=list(self.problems),
        )

    @classmethod
    def concat(cls, tables: list[ObjectTable]) -> ObjectTable:
        """Several tables (e.g. the tiles of one slide) as one; columns missing somewhere are NaN."""
        colors: dict[str, tuple[int, int, int]] = {}
        for table in tables:
            for name, rgb in table.colors.items():
                colors.setdefault(name, rgb)
        blocks = []
        for table in tables:
            columns = dict(table.measurements)
            if table.confidence is not None:
                columns["confidence"] = table.confidence
            blocks.append((len(table), columns))
        columns = concat_columns(blocks)
        return cls(
            geometry=Polygons.concat([t.geometry for t in tables]),
            classes=np.concatenate([t.classes for t in tables]),
            colors=colors,
            ids=np.concatenate([np.asarray(t.ids, dtype=object) for t in tables]),
            confidence=columns.pop("confidence", None),
            measurements=columns,
            problems=[p for t in tables for p in t.problems],
        )


def concat_columns(parts: list[tuple[int, dict[str, np.ndarray]]]) -> dict[str, np.ndarray]:
    """Named float32 columns of consecutive row blocks ``(rows, columns)``, NaN where missing."""
    total = sum(rows for rows, _ in parts)
    out = {}
    for key in sorted({k for _, columns in parts for k in columns}):
        column = np.full(total, np.nan, dtype=np.float32)
        start = 0
        for rows, columns in parts:
            if key in columns:
                column[start : start + rows] = columns[key]
            start += rows
        out[key] = column
    return out
