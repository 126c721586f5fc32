"""Finding and loading the results of a run, an item folder or a single artifact file."""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from ..platform.results_layout import MANIFEST_NAME, read_manifest
from .cellcache import Steps, iter_cached_table
from .geojson_stream import iter_geojson
from .heatmap import TileHeatmap, read_heatmap_tiff, read_tile_csv
from .parquet import iter_cells_parquet
from .provenance import Provenance, provenance_of
from .readouts import Readout, read_readout
from .result_layers import (
    ARTIFACT_KEY,
    LayerData,
    cell_layers,
    class_map_layer,
    heatmap_layer,
    layer_name,
    overview_layer,
    region_layer,
)
from .review import ReviewModel
from .segmap import ClassMap, read_segmentation_map
from .tables import ObjectTable

__all__ = [
    "Partial",
    "ResultSet",
    "find_item_folders",
    "iter_results",
    "load_results",
    "loads_progressively",
    "looks_like_results",
]

CELL_GEOJSON = "cell_classification_geojson_polygons.json"
CELL_PARQUET = "cell_classification_parquet_polygons.parquet"
BATCH = 200_000
"""Rows of a Parquet cell file read at a time."""
PROGRESSIVE_BATCH = 50_000
PROGRESSIVE_BYTES = 8 * 1024 * 1024
"""GeoJSON files from this size on are shown while they are read."""
"""The same when the cells are shown as they come: the first ones are drawn sooner."""


@dataclass
class ResultSet:
    """Everything of one item (slide), ready to become layers."""

    name: str
    slide_mpp: float | None
    slide_size: tuple[int, int] | None
    cells: ObjectTable | None = None
    cells_source: str | None = None
    regions: list[tuple[str, ObjectTable]] = field(default_factory=list)
    maps: list[tuple[str, ClassMap]] = field(default_factory=list)
    heatmaps: list[tuple[str, TileHeatmap]] = field(default_factory=list)
    readouts: dict[str, Readout] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    review: ReviewModel | None = None
    provenance: Provenance = field(default_factory=Provenance)

    def layer_data(self) -> list[LayerData]:
        """Layers, bottom to top: maps, regions, heatmaps, cells (each carries the provenance)."""
        layers = self._layer_data()
        for _data, kwargs, _kind in layers:
            kwargs.setdefault("metadata", {})["provenance"] = self.provenance.as_dict()
        return layers

    def _layer_data(self) -> list[LayerData]:
        layers: list[LayerData] = []
        for stem, classes in self.maps:
            name = layer_name(self.name, stem)
            layer = class_map_layer(name, classes, self.slide_mpp, self.slide_size)
            layer[1]["visible"] = stem.startswith("tissue_segmentation")
            layer[1]["metadata"][ARTIFACT_KEY] = stem
            layers.append(layer)
        for stem, table in self.regions:
            layer = region_layer(layer_name(self.name, stem), table, self.slide_mpp)
            layer[1]["visible"] = False
            layer[1]["metadata"][ARTIFACT_KEY] = stem
            layers.append(layer)
        for stem, heatmap in self.heatmaps:
            for key in heatmap.grids:
                layer = heatmap_layer(stem, heatmap, key, self.slide_mpp)
                layer[1]["name"] = layer_name(self.name, layer[1]["name"])
                layer[1]["metadata"] = {ARTIFACT_KEY: stem}
                layers.append(layer)
        if self.cells is not None and self.review is not None:
            size = self.slide_size or _extent(self.cells)
            layers.extend(
                cell_layers(
                    layer_name(self.name, "cells"),
                    self.review,
                    self.slide_mpp,
                    size,
                    self.cells_source,
                )
            )
        return layers


def _extent(table: ObjectTable) -> tuple[int, int]:
    _, _, maxx, maxy = table.bounds()
    return int(maxx) + 1, int(maxy) + 1


def looks_like_results(folder: Path) -> bool:
    """A run folder (manifest) or an item folder holding artifact files."""
    if (folder / MANIFEST_NAME).is_file():
        return True
    names = {p.name for p in folder.iterdir()} if folder.is_dir() else set()
    return any(
        n.endswith(
            ("_geojson_polygons.json", "_parquet_polygons.parquet", "_segmentation_map_image.tiff")
        )
        for n in names
    )


def loads_progressively(path: Path) -> bool:
    """Whether :func:`iter_results` reads cells from ``path`` in batches (a Parquet cell file, or
    a big GeoJSON one without a Parquet twin)."""
    if path.is_file():
        return path.suffix.lower() == ".parquet" or _progressive_geojson(path)
    try:
        files = [p for p in path.iterdir() if p.is_file()]
    except OSError:
        return False
    return any(p.suffix.lower() == ".parquet" for p in files) or any(
        _progressive_geojson(p) for p in files
    )


def _progressive_geojson(path: Path) -> bool:
    """A GeoJSON file big enough to be shown while it is read, and not of tissue regions."""
    name = path.name.lower()
    if not name.endswith((".json", ".geojson")) or name.startswith(("tissue", "area")):
        return False
    try:
        return path.stat().st_size >= PROGRESSIVE_BYTES
    except OSError:
        return False


def find_item_folders(folder: Path) -> list[tuple[str, Path, dict[str, Any]]]:
    """(external id, folder, artifact metadata by file name) for every item of a results folder."""
    manifest = folder / MANIFEST_NAME
    if manifest.is_file():
        found = []
        for item in read_manifest(manifest).items:
            item_dir = folder / item.folder
            if not item_dir.is_dir() or item_dir.resolve().parent != folder.resolve():
                continue
            found.append((item.external_id, item_dir, item.metadata_by_file()))
        return found
    if looks_like_results(folder):
        parent_manifest = folder.parent / MANIFEST_NAME
        if parent_manifest.is_file():
            for external_id, item_dir, meta in find_item_folders(folder.parent):
                if item_dir.resolve() == folder.resolve():
                    return [(external_id, item_dir, meta)]
        return [(folder.name, folder, {})]
    return [
        entry
        for child in sorted(p for p in folder.iterdir() if p.is_dir())
        for entry in find_item_folders(child)
    ]


def _scale(meta: dict[str, Any], slide_mpp: float | None) -> float:
    polygon_mpp = meta.get("polygon_mpp")
    if polygon_mpp and slide_mpp:
        return float(polygon_mpp) / slide_mpp
    return 1.0


@dataclass
class Partial:
    """The cells read so far while a big cell file loads: their overview layer, how far it got."""

    name: str
    cells: int
    done: float
    """Fraction of the cell file read."""
    overview: LayerData


def load_results(
    path: Path,
    slide_mpp: float | None = None,
    slide_size: tuple[int, int] | None = None,
    *,
    name: str | None = None,
    metadata: dict[str, dict[str, Any]] | None = None,
) -> ResultSet:
    """Load an item folder or a single artifact file (GeoJSON, Parquet, TIFF map, tile CSV)."""
    steps = iter_results(
        path, slide_mpp, slide_size, name=name, metadata=metadata, progressive=False
    )
    while True:
        try:
            next(steps)
        except StopIteration as finished:
            result: ResultSet = finished.value
            return result


def iter_results(
    path: Path,
    slide_mpp: float | None = None,
    slide_size: tuple[int, int] | None = None,
    *,
    name: str | None = None,
    metadata: dict[str, dict[str, Any]] | None = None,
    progressive: bool = True,
) -> Generator[Partial, None, ResultSet]:
    """:func:`load_results`, giving the cells read so far while a Parquet cell file loads.

    Each :class:`Partial` (after the first batch, then each time the cells doubled) carries the
    overview of the cells so far; the whole :class:`ResultSet` is the generator's return value.
    """
    files = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
    meta = metadata or {}
    if path.is_dir() and not meta:
        entries = find_item_folders(path)
        if len(entries) == 1 and entries[0][1].resolve() == path.resolve():
            meta = entries[0][2]
    result = ResultSet(name or path.stem, slide_mpp, slide_size)
    try:
        result.provenance = provenance_of(path)
    except ValueError as exc:
        result.problems.append(str(exc))
    names = {p.name for p in files}
    for file in files:
        info = meta.get(file.name, {})
        stem = file.name.rsplit(".", 1)[0]
        lower = file.name.lower()
        try:
            if lower.endswith(".parquet"):
                if stem.startswith("cell") or result.cells is None:
                    scale = _scale(info, slide_mpp)
                    steps = iter_cached_table(
                        file,
                        partial(
                            iter_cells_parquet,
                            file,
                            scale=scale,
                            batch=PROGRESSIVE_BATCH if progressive else BATCH,
                            partial=progressive,
                        ),
                        how=f"parquet scale={scale!r}",
                        derive=_overview_codes,
                    )
                    table = yield from _partials(steps, result, file)
                    _set_cells(result, table, file)
            elif lower.endswith((".json", ".geojson")):
                if file.name == CELL_GEOJSON and CELL_PARQUET in names:
                    continue  # the Parquet twin is faster and holds the same cells
                scale = _scale(info, slide_mpp)
                steps = iter_cached_table(
                    file,
                    partial(
                        iter_geojson,
                        file,
                        scale=scale,
                        slide_size=slide_size,
                        partial=progressive and _progressive_geojson(file),
                    ),
                    how=f"geojson scale={scale!r} slide={slide_size!r}",
                    derive=_overview_codes,
                )
                table = yield from _partials(steps, result, file)
                result.problems += [f"{file.name}: {p}" for p in table.problems]
                if _are_cells(stem, table):
                    _set_cells(result, table, file)
                else:
                    result.regions.append((stem, table))
            elif lower.endswith((".tif", ".tiff")) and "segmentation_map" in lower:
                csv_twin = file.with_name(
                    stem.replace("segmentation_map_image", "csv_class_information") + ".csv"
                )
                result.maps.append((stem, read_segmentation_map(file, info, csv_twin)))
            elif lower.endswith((".tif", ".tiff")):
                result.heatmaps.append((stem, read_heatmap_tiff(file, slide_size)))
            elif lower.endswith(".csv") and "readout" in lower:
                result.readouts[stem] = read_readout(file)
            elif lower.endswith(".csv") and "class_information" not in lower:
                header = file.open().readline()
                if header.startswith("minx,miny,width,height"):
                    result.heatmaps.append((stem, read_tile_csv(file)))
        except (ValueError, KeyError, OSError) as exc:
            message = str(exc)
            named = message.startswith((file.name, str(file)))
            result.problems.append(message if named else f"{file.name}: {message}")
        except RecursionError:
            result.problems.append(f"{file.name}: nested too deeply to be a result file; skipped")
        except MemoryError:
            result.problems.append(f"{file.name}: too large to load into memory; skipped")
    if result.cells is not None:
        result.review = _review(result.cells)
        # computed here, in the loading thread, not in the GUI thread when layers are made
        _ = result.cells.index, result.cells.centroid_grid
    return result


def _partials(steps: Steps, result: ResultSet, file: Path) -> Generator[Partial, None, ObjectTable]:
    """The overview of each partial table; the whole table is the return value."""
    for table, done in steps:
        if done >= 1.0:
            return table
        review = _review(table)
        _ = table.index, table.centroid_grid  # here, not when the GUI thread draws
        size = result.slide_size or _extent(table)
        name = layer_name(result.name, "cells")
        layer = overview_layer(name, review, result.slide_mpp, size, str(file))
        yield Partial(result.name, len(table), done, layer)
    raise ValueError(f"{file.name}: no cells were read")


def _overview_codes(table: ObjectTable) -> dict[str, np.ndarray]:
    """The review's overview raster codes, computed once and kept by the reopen cache."""
    return {"raster_codes": ReviewModel(table).raster_codes()}


def _review(table: ObjectTable) -> ReviewModel:
    """The review of a cell table, with the overview codes the cache kept when it has them."""
    codes = table.derived.get("raster_codes")
    if codes is not None and len(codes) == len(table):
        return ReviewModel(table, _codes=codes)
    review = ReviewModel(table)
    review.raster_codes()
    return review


def _are_cells(stem: str, table: ObjectTable) -> bool:
    if stem.startswith("cell"):
        return True
    if stem.startswith(("tissue", "area")):
        return False
    if len(table) > 500:
        return True
    minx, _, maxx, _ = table.bounds()
    return len(table) > 50 and maxx > minx and "Unclassified" not in table.colors


def _set_cells(result: ResultSet, table: ObjectTable, file: Path) -> None:
    if result.cells is None:
        result.cells, result.cells_source = table, str(file)
        return
    result.cells = ObjectTable.concat([result.cells, table])  # several cell files (tiles)
