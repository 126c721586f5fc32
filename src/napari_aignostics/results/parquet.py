"""Cell Parquet (polygons in level-0 px, class, colour, confidence, measurements).

The geometry is WKB (what the applications write) or native GeoArrow (GeoParquet); both are
decoded straight into flat coordinate arrays (:mod:`.geoarrow`), and classes come out as
dictionary codes, so no Python or shapely object is made per cell. WKB the vectorised decoder
does not cover (big-endian, Z, SRID, other geometry types) is read by shapely for that batch.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial as partial_call
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import shapely

from .geoarrow import UnsupportedWkb, polygons_of_column
from .geometry import Polygons
from .tables import ObjectTable, palette_color

__all__ = ["iter_cells_parquet", "read_cells_parquet"]

RESERVED = {"id", "class_name", "class_color"}
FIRST_BATCH = 8_000
"""Rows of the first batch when the cells read so far are shown: the first overview comes early."""


def _rgb(value: object) -> tuple[int, int, int] | None:
    text = str(value).lstrip("#")
    if len(text) != 6:
        return None
    try:
        return int(text[0:2], 16), int(text[2:4], 16), int(text[4:6], 16)
    except ValueError:
        return None


def _shapely_polygons(column: pa.Array) -> tuple[Polygons, np.ndarray]:
    """Any WKB (shapely): polygons (MultiPolygons exploded) and their rows; the rest dropped."""
    values = column.to_numpy(zero_copy_only=False)
    geometries = shapely.from_wkb(values, on_invalid="ignore")
    keep = np.flatnonzero(np.isin(shapely.get_type_id(geometries), (3, 6)))
    parts, rows = shapely.get_parts(geometries[keep], return_index=True)
    parts = shapely.force_2d(parts)
    nonempty = ~shapely.is_empty(parts)
    return Polygons.from_shapely(parts[nonempty]), keep[rows[nonempty]]


def _geometry_column(schema: pa.Schema, path: Path) -> str:
    """The GeoParquet primary column, else ``geometry``."""
    geo = (schema.metadata or {}).get(b"geo")
    if geo:
        try:
            name = json.loads(geo).get("primary_column")
        except (ValueError, AttributeError):
            name = None
        if isinstance(name, str) and name in schema.names:
            return name
    if "geometry" not in schema.names:
        raise ValueError(
            f"{path.name}: no 'geometry' column (expected WKB or GeoArrow polygons per cell)"
        )
    return "geometry"


def _vertex_bound(source: pq.ParquetFile, column: str) -> int:
    """More vertices than the geometry column can hold (its uncompressed bytes / 16), or 0."""
    meta = source.metadata
    index = source.schema_arrow.get_field_index(column)
    total = 0
    for g in range(meta.num_row_groups):
        group = meta.row_group(g)
        for c in range(group.num_columns):
            chunk = group.column(c)
            if chunk.path_in_schema.split(".")[0] == column or (
                index >= 0 and chunk.path_in_schema == column
            ):
                total += chunk.total_uncompressed_size
    return total // 16 + 1


@dataclass
class _Decoded:
    """One record batch with its polygons decoded (scaled), their rows, centroids and boxes."""

    record: pa.RecordBatch
    polygons: Polygons
    rows: np.ndarray
    centroids: np.ndarray
    boxes: np.ndarray


def _decode(record: pa.RecordBatch, geometry: str, scale: float) -> _Decoded:
    column = record.column(geometry)
    try:
        polygons, rows = polygons_of_column(column)
    except UnsupportedWkb:
        polygons, rows = _shapely_polygons(column)
    if scale != 1.0:
        polygons = Polygons(polygons.coords * scale, polygons.ring_offsets, polygons.geom_offsets)
    return _Decoded(record, polygons, rows, polygons.centroids(), polygons.bounds())


def _first_small(batches: Iterator[pa.RecordBatch], rows: int) -> Iterator[pa.RecordBatch]:
    """``batches`` with the first one split after ``rows`` rows (slices share its buffers)."""
    first = next(batches, None)
    if first is None:
        return
    if first.num_rows > rows:
        yield first.slice(0, rows)
        first = first.slice(rows)
    yield first
    yield from batches


def _read_ahead(
    batches: Iterator[pa.RecordBatch], decode: Callable[[pa.RecordBatch], _Decoded]
) -> Iterator[_Decoded]:
    """The batches decoded, each next one read and decoded by a thread while this one is used
    (Arrow reads and numpy computes mostly without holding the interpreter lock)."""

    def step() -> _Decoded | None:
        record = next(batches, None)
        return None if record is None else decode(record)

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="parquet-read") as reader:
        pending = reader.submit(step)
        while (decoded := pending.result()) is not None:
            pending = reader.submit(step)
            yield decoded


class _Rows:
    """Rows appended batch by batch into one array, with no concatenation per table.

    The array is reserved at an upper bound (untouched pages cost no memory) and grows only if
    the bound was wrong (dictionary-encoded or multi-part geometry). Tables made on the way hold
    views of it.
    """

    def __init__(
        self, capacity: int, shape: tuple[int, ...] = (), dtype: type = np.float64
    ) -> None:
        self._data: np.ndarray = np.empty((max(capacity, 1), *shape), dtype=dtype)
        self._size = 0

    def append(self, block: np.ndarray) -> None:
        end = self._size + len(block)
        if end > len(self._data):
            grown = np.empty(
                (max(end, 2 * len(self._data)), *self._data.shape[1:]), self._data.dtype
            )
            grown[: self._size] = self._data[: self._size]
            self._data = grown
        self._data[self._size : end] = block
        self._size = end

    def array(self) -> np.ndarray:
        """The rows so far."""
        return self._data[: self._size]


class _Classes:
    """Class names as codes in first-seen order across batches, with the first valid colour."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.codes: dict[str, int] = {}
        self.colors: dict[str, tuple[int, int, int]] = {}

    def encode(self, names: pa.Array | None, colors: pa.Array | None, n: int) -> np.ndarray:
        """Code per row of a batch."""
        if names is None:
            return np.full(n, self._code("Unclassified"), dtype=np.int32)
        encoded = pc.dictionary_encode(names.cast(pa.string()).fill_null("Unclassified"))
        local = encoded.indices.to_numpy(zero_copy_only=False)
        dictionary = encoded.dictionary.to_pylist()
        _, first = np.unique(local, return_index=True)
        lookup = np.zeros(len(dictionary), dtype=np.int32)
        for k in sorted(range(len(dictionary)), key=lambda k: first[k]):
            lookup[k] = self._code(dictionary[k])
            name = dictionary[k]
            if colors is not None and name not in self.colors:
                rgb = _rgb(colors[int(first[k])].as_py())
                if rgb is not None:
                    self.colors[name] = rgb
        return lookup[local]

    def _code(self, name: str) -> int:
        if name not in self.codes:
            self.codes[name] = len(self.names)
            self.names.append(name)
        return self.codes[name]


def read_cells_parquet(path: Path, *, scale: float = 1.0, batch: int = 200_000) -> ObjectTable:
    """The cell table of a ``*_parquet_polygons.parquet`` file (read a batch of rows at a time)."""
    [(table, _done)] = iter_cells_parquet(path, scale=scale, batch=batch)  # the whole table only
    return table


def iter_cells_parquet(
    path: Path, *, scale: float = 1.0, batch: int = 200_000, partial: bool = False
) -> Iterator[tuple[ObjectTable, float]]:
    """The cell table of a Parquet file and the fraction of rows read, the whole table last (1.0).

    With ``partial``, also the cells read so far after the first batch and each time they
    doubled (so making them costs about one more pass over the cells in all); the first batch
    is then only :data:`FIRST_BATCH` rows, so the first overview comes soon.
    """
    source = pq.ParquetFile(path)
    schema = source.schema_arrow
    geometry_name = _geometry_column(schema, path)
    numeric = [
        name
        for name in schema.names
        if name not in RESERVED | {geometry_name, "centroid_x", "centroid_y"}
        and (
            pa.types.is_floating(schema.field(name).type)
            or pa.types.is_integer(schema.field(name).type)
        )
    ]
    has_names = "class_name" in schema.names
    has_colors = "class_color" in schema.names
    parts = _Parts(_vertex_bound(source, geometry_name), source.metadata.num_rows, numeric)
    classes = _Classes()
    total = max(source.metadata.num_rows, 1)
    start = 0
    shown = 0
    decode = partial_call(_decode, geometry=geometry_name, scale=scale)
    # shown as they come: Arrow's own thread pool took 0.1-0.2 s to start the first batch and
    # saves little beside the read-ahead thread
    batches = source.iter_batches(batch_size=batch, use_threads=not partial)
    if partial:
        batches = _first_small(batches, FIRST_BATCH)
    for decoded in _read_ahead(batches, decode):
        record = decoded.record
        n = record.num_rows
        code = classes.encode(
            record.column("class_name") if has_names else None,
            record.column("class_color") if has_colors else None,
            n,
        )
        if "id" in schema.names:
            batch_ids = (
                pc.cast(record.column("id"), pa.string())
                .fill_null("")
                .to_numpy(zero_copy_only=False)
            )
        else:
            batch_ids = np.char.add("object-", (start + np.arange(n)).astype(str)).astype(object)
        columns = {
            name: record.column(name)
            .cast(pa.float32())
            .fill_null(float("nan"))
            .to_numpy(zero_copy_only=False)
            for name in numeric
        }
        parts.append(decoded, code, np.asarray(batch_ids, dtype=object), columns)
        start += n
        if partial and start < total and start >= 2 * shown:
            shown = start
            yield parts.table(classes), start / total
    yield parts.table(classes), 1.0


class _Parts:
    """What the batches gave so far, each column in one reserved array (:class:`_Rows`).

    Centroids and bounding boxes are computed per batch as it lands, so the tables made on the
    way and the whole one share them instead of computing them again for all cells so far.
    """

    def __init__(self, vertices: int, rows: int, numeric: list[str]) -> None:
        self.coords = _Rows(vertices, (2,))
        self.ring_offsets = _Rows(rows + 1, (), np.int64)
        self.geom_offsets = _Rows(rows + 1, (), np.int64)
        for offsets in (self.ring_offsets, self.geom_offsets):
            offsets.append(np.zeros(1, np.int64))
        self.centroids = _Rows(rows, (2,))
        self.boxes = _Rows(rows, (4,))
        self.codes = _Rows(rows, (), np.int32)
        self.ids = _Rows(rows, (), object)
        self.values = {name: _Rows(rows, (), np.float32) for name in numeric}
        self.appended = False

    def append(
        self, decoded: _Decoded, codes: np.ndarray, ids: np.ndarray, columns: dict[str, np.ndarray]
    ) -> None:
        """A batch's polygons and the columns of its rows (per row of the record batch)."""
        polygons, rows = decoded.polygons, decoded.rows
        if len(rows) != len(codes) or not np.array_equal(rows, np.arange(len(rows))):
            codes, ids = codes[rows], ids[rows]  # some rows dropped or exploded
            columns = {name: column[rows] for name, column in columns.items()}
        self.appended = True
        first = len(self.coords.array())
        rings, geoms = polygons.ring_offsets, polygons.geom_offsets
        self.coords.append(polygons.coords[rings[0] : rings[-1]])
        self.ring_offsets.append(rings[1:] - rings[0] + first)
        self.geom_offsets.append(
            geoms[1:] - geoms[0] + (len(self.ring_offsets.array()) - len(rings))
        )
        self.centroids.append(decoded.centroids)
        self.boxes.append(decoded.boxes)
        self.codes.append(codes)
        self.ids.append(ids)
        for name, column in columns.items():
            self.values[name].append(column)

    def table(self, classes: _Classes) -> ObjectTable:
        """The cells so far (their arrays are views of the reserved ones)."""
        geometry = Polygons(
            self.coords.array(), self.ring_offsets.array(), self.geom_offsets.array()
        )
        all_codes = self.codes.array()
        # colour-table order is first-seen order, so the 1-based class index is the code + 1
        colors = {name: classes.colors.get(name) or palette_color(name) for name in classes.names}
        names = np.array(classes.names, dtype=object)
        measurements = {n: r.array() for n, r in self.values.items() if self.appended}
        confidence = measurements.pop("confidence", None)
        return ObjectTable(
            geometry=geometry,
            classes=names[all_codes],
            colors=colors,
            ids=self.ids.array(),
            confidence=confidence,
            measurements=measurements,
            _centroids=self.centroids.array(),
            _boxes=self.boxes.array(),
            _class_index=(all_codes + 1).astype(np.uint16),
        )
