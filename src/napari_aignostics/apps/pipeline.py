"""The analysis steps shared by the built-in applications."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from ..slides.reader import Slide, open_slide
from ..slides.slide_errors import SlideError
from .base import AnalysisCancelled, AnalysisContext, ProducedArtifact, UserInputError
from .nuclei import CELL_CLASSES, MEASUREMENTS, Cells, detect_cells
from .overview import Overview, read_overview
from .polygons import class_polygons
from .tissue import QC_CLASSES, SEGMENTATION_CLASSES, TissueMaps, analyse_tissue
from .writers import (
    write_class_csv,
    write_geojson,
    write_parquet,
    write_segmentation_map,
    write_table_csv,
)

__all__ = ["open_input", "readable_input", "tissue_artifacts", "cell_artifacts"]


@contextmanager
def readable_input(ctx: AnalysisContext) -> Iterator[None]:
    """A slide found unreadable while it is analysed is the user's input error, with the reader's
    message (input slides are opened strict: an undecodable tile is never analysed as black)."""
    try:
        yield
    except SlideError as exc:
        raise UserInputError(
            f"{ctx.slide_path.name}: {exc.problem} {exc.hint}".strip(), "INPUT.UNREADABLE_SLIDE"
        ) from None


def open_input(
    ctx: AnalysisContext, mpp_range: tuple[float, float], max_px: int
) -> tuple[Slide, float]:
    """Open the input slide and check it can be analysed; ``UserInputError`` otherwise."""
    name = ctx.slide_path.name
    try:
        slide = open_slide(ctx.slide_path, strict=True)
    except SlideError as exc:
        raise UserInputError(f"{name}: {exc.problem}", "INPUT.NOT_A_SLIDE") from None
    mpp = slide.mpp or ctx.input_metadata.get("resolution_mpp")
    if mpp is None:
        slide.close()
        raise UserInputError(
            f"{name}: the slide does not say how many µm a pixel is; this application needs "
            "slides with a known resolution",
            "INPUT.MPP_MISSING",
        )
    low, high = mpp_range
    if not low <= float(mpp) <= high:
        slide.close()
        raise UserInputError(
            f"{name}: {float(mpp):.3f} µm/px is outside the supported {low}–{high} µm/px",
            "INPUT.MPP_OUT_OF_RANGE",
        )
    if max(slide.width, slide.height) > max_px:
        slide.close()
        raise UserInputError(
            f"{name}: {slide.width} x {slide.height} px is larger than {max_px} px",
            "INPUT.TOO_LARGE",
        )
    return slide, float(mpp)


def _check(ctx: AnalysisContext) -> None:
    if ctx.cancelled():
        raise AnalysisCancelled()


def tissue_artifacts(
    ctx: AnalysisContext, slide: Slide, mpp: float
) -> tuple[list[ProducedArtifact], Overview, TissueMaps]:
    """The six tissue QC and segmentation artifacts."""
    ctx.progress(0.02, "reading the overview")
    overview = read_overview(slide, mpp)
    _check(ctx)
    ctx.progress(0.08, "tissue QC and segmentation")
    maps = analyse_tissue(overview.rgb, overview.mpp)
    out: list[ProducedArtifact] = []
    for stage, labels, classes, object_type in (
        ("tissue_qc", maps.qc, QC_CLASSES, "annotation"),
        ("tissue_segmentation", maps.segmentation, SEGMENTATION_CLASSES, "annotation"),
    ):
        out.append(
            write_segmentation_map(
                ctx.output_dir, f"{stage}:segmentation_map_image", labels, overview.mpp, classes
            )
        )
        names = list(classes)
        shapes = list(class_polygons(labels, overview.downsample))
        out.append(
            write_geojson(
                ctx.output_dir,
                f"{stage}:geojson_polygons",
                [p for _, p in shapes],
                [names[c] for c, _ in shapes],
                classes,
                [{"area_um2": round(p.area * mpp * mpp, 1)} for _, p in shapes],
                object_type=object_type,
                polygon_mpp=mpp,
            )
        )
        out.append(write_class_csv(ctx.output_dir, f"{stage}:csv_class_information", classes))
    return out, overview, maps


def _column_name(text: str) -> str:
    return re.sub(r"[^A-Z0-9]+", "_", text.upper()).strip("_")


def cell_artifacts(
    ctx: AnalysisContext,
    slide: Slide,
    mpp: float,
    overview: Overview,
    maps: TissueMaps,
    preamble: str,
) -> list[ProducedArtifact]:
    """Cell GeoJSON and Parquet, and the slide and cell readouts."""
    import shapely

    cells = detect_cells(
        slide,
        mpp,
        maps.tissue,
        overview.downsample,
        progress=lambda f: ctx.progress(0.15 + 0.7 * f, "detecting cells"),
        cancelled=ctx.cancelled,
        threads=ctx.threads,
        processes=ctx.processes,
    )
    _check(ctx)
    ctx.progress(0.87, f"writing {len(cells)} cells")
    ids = [f"cell-{i:07d}" for i in range(len(cells))]
    measurements = [
        {
            **{name: round(cells.measurements[name][i], 4) for name in MEASUREMENTS},
            "confidence": round(cells.confidence[i], 3),
            "centroid_x": round(cells.centroid_x[i], 2),
            "centroid_y": round(cells.centroid_y[i], 2),
        }
        for i in range(len(cells))
    ]
    out = [
        write_geojson(
            ctx.output_dir,
            "cell_classification:geojson_polygons",
            cells.polygons,
            cells.class_name,
            CELL_CLASSES,
            measurements,
            object_type="detection",
            polygon_mpp=mpp,
        )
    ]
    hex_colors = {k: "#{:02x}{:02x}{:02x}".format(*v) for k, v in CELL_CLASSES.items()}
    columns: dict[str, Any] = {
        "id": ids,
        "geometry": list(shapely.to_wkb(np.asarray(cells.polygons, dtype=object)))
        if len(cells)
        else [],
        "class_name": cells.class_name,
        "class_color": [hex_colors[c] for c in cells.class_name],
        "confidence": np.asarray(cells.confidence, dtype=np.float32),
        "centroid_x": np.asarray(cells.centroid_x, dtype=np.float64),
        "centroid_y": np.asarray(cells.centroid_y, dtype=np.float64),
        **{name: np.asarray(cells.measurements[name], dtype=np.float32) for name in MEASUREMENTS},
    }
    out.append(
        write_parquet(
            ctx.output_dir, "cell_classification:parquet_polygons", columns, polygon_mpp=mpp
        )
    )
    out += _readouts(ctx, cells, ids, maps, overview, mpp, preamble)
    return out


def _readouts(
    ctx: AnalysisContext,
    cells: Cells,
    ids: list[str],
    maps: TissueMaps,
    overview: Overview,
    mpp: float,
    preamble: str,
) -> list[ProducedArtifact]:
    regions = [r for r in SEGMENTATION_CLASSES if r != "BACKGROUND"]
    seg = maps.segmentation
    rows = np.clip(
        (np.asarray(cells.centroid_y) / overview.downsample).astype(int), 0, seg.shape[0] - 1
    )
    cols = np.clip(
        (np.asarray(cells.centroid_x) / overview.downsample).astype(int), 0, seg.shape[1] - 1
    )
    cell_region = seg[rows, cols] if len(cells) else np.zeros(0, dtype=np.uint8)
    header = [
        "CELL_ID",
        "CELL_CLASS",
        "CENTROID_X",
        "CENTROID_Y",
        "AREA_UM2",
        "CONFIDENCE",
        *[f"IN_{_column_name(r)}" for r in regions],
    ]
    # IN_<REGION> flags as text, one table look-up for all cells
    membership = cell_region[:, None] == np.arange(1, len(regions) + 1)
    flags = np.asarray(["False", "True"])[membership.astype(np.intp)].tolist()
    cell_rows = (
        [
            ids[i],
            cells.class_name[i],
            round(cells.centroid_x[i], 2),
            round(cells.centroid_y[i], 2),
            round(cells.measurements["area_um2"][i], 2),
            round(cells.confidence[i], 3),
            *flags[i],
        ]
        for i in range(len(cells))
    )
    out = [
        write_table_csv(
            ctx.output_dir, "readout_generation:cell_readouts", preamble, header, cell_rows
        )
    ]
    pixel_mm2 = (overview.mpp / 1000.0) ** 2
    valid = float(maps.tissue.sum()) * pixel_mm2
    names = np.asarray(cells.class_name)
    slide: dict[str, Any] = {
        "RELATIVE_AREA_VALID_TISSUE": round(
            valid / max(float((maps.qc > 0).sum()) * pixel_mm2, 1e-12), 4
        )
    }
    from scipy import ndimage as ndi

    for cell_class in CELL_CLASSES:
        slide[f"CELL_COUNT_{cell_class}"] = int((names == cell_class).sum())
    for k, region in enumerate(regions, start=1):
        key = _column_name(region)
        area = float((seg == k).sum()) * pixel_mm2
        in_region = cell_region == k
        slide[f"ABSOLUTE_AREA_{key}"] = round(area, 4)
        slide[f"RELATIVE_AREA_{key}"] = round(area / valid, 4) if valid else 0.0
        slide[f"REGION_COUNT_{key}"] = int(ndi.label(seg == k)[1])
        total = int(in_region.sum())
        for cell_class in CELL_CLASSES:
            count = int((in_region & (names == cell_class)).sum())
            slide[f"CELL_DENSITY_{cell_class}_{key}"] = round(count / area, 2) if area else 0.0
            slide[f"CELL_PERCENTAGE_{cell_class}_{key}"] = (
                round(100.0 * count / total, 2) if total else 0.0
            )
    slide["CELL_COUNT_TOTAL"] = len(cells)
    slide["SLIDE_MPP"] = mpp
    out.append(
        write_table_csv(
            ctx.output_dir,
            "readout_generation:slide_readouts",
            preamble,
            list(slide),
            [list(slide.values())],
        )
    )
    return out
