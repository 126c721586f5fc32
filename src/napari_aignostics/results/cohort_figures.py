"""Cohort figures drawn on a matplotlib ``Figure`` (no pyplot): the dock embeds them, the report
saves them as PNG with the Agg canvas."""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .cohort import CohortTable
from .phenotype import PHENOTYPE_COLORS, Phenotype
from .readouts import find_readouts, read_readout

if TYPE_CHECKING:  # matplotlib is imported when a figure is drawn, not with the dock
    from matplotlib.figure import Figure

__all__ = [
    "CLASS_PREFIXES",
    "class_columns",
    "draw_classes",
    "draw_overlay",
    "draw_scatter",
    "figure_png",
    "phenotype_axes",
    "read_cell_points",
]

CLASS_PREFIXES = ("CELL_COUNT_", "CELL_DENSITY_", "CELL_PERCENTAGE_")
MAX_POINTS = 20000


def figure_png(figure: Figure, dpi: int = 100) -> bytes:
    """The figure as PNG bytes (Agg)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(figure)
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=dpi, bbox_inches="tight")
    return out.getvalue()


def phenotype_axes(table: CohortTable) -> tuple[str | None, str | None]:
    """(x, y) readout columns of the phenotype plot: lymphocytes in carcinoma and in stroma."""
    return table.rule.columns(table.readout_columns)


def draw_scatter(
    figure: Figure, table: CohortTable, x: str | None = None, y: str | None = None
) -> list[int]:
    """Scatter of two columns, one point per slide coloured by phenotype; the points' row indices.

    Without columns it is the phenotype plot, with the two thresholds as lines.
    """
    default_x, default_y = phenotype_axes(table)
    x, y = x or default_x, y or default_y
    axes = figure.add_subplot(111)
    if x is None or y is None:
        axes.text(0.5, 0.5, "no lymphocyte readouts in this cohort", ha="center", va="center")
        axes.set_axis_off()
        return []
    xs = np.array([np.nan if v is None else v for v in table.numbers(x)], dtype=float)
    ys = np.array([np.nan if v is None else v for v in table.numbers(y)], dtype=float)
    rows = [i for i in range(len(table.rows)) if np.isfinite(xs[i]) and np.isfinite(ys[i])]
    for phenotype in Phenotype:
        chosen = [i for i in rows if table.phenotype(table.rows[i]) == phenotype]
        if chosen:
            axes.scatter(
                xs[chosen],
                ys[chosen],
                c=PHENOTYPE_COLORS[phenotype],
                label=f"{phenotype} ({len(chosen)})",
                s=36,
                edgecolors="black",
                linewidths=0.4,
            )
    order = [i for p in Phenotype for i in rows if table.phenotype(table.rows[i]) == p]
    if (x, y) == (default_x, default_y):
        axes.axvline(table.rule.carcinoma_threshold, color="grey", linestyle="--", linewidth=1)
        axes.axhline(table.rule.stroma_threshold, color="grey", linestyle="--", linewidth=1)
    axes.set_xlabel(x, fontsize=8)
    axes.set_ylabel(y, fontsize=8)
    if rows:
        axes.legend(fontsize=8, loc="best")
    axes.set_title(f"{len(rows)} slides", fontsize=9)
    return order


def class_columns(table: CohortTable, prefix: str = "CELL_COUNT_") -> list[str]:
    """Per-class readout columns with ``prefix`` (totals left out)."""
    return [c for c in table.readout_columns if c.startswith(prefix) and not c.endswith("_TOTAL")]


def draw_classes(
    figure: Figure, table: CohortTable, prefix: str = "CELL_COUNT_", kind: str = "bar"
) -> None:
    """Per-class values across slides: stacked bars per slide, or one box per class."""
    columns = class_columns(table, prefix)
    axes = figure.add_subplot(111)
    if not columns:
        axes.text(0.5, 0.5, f"no {prefix}* readouts in this cohort", ha="center", va="center")
        axes.set_axis_off()
        return
    labels = [c.removeprefix(prefix) for c in columns]
    values = np.array([[v if v is not None else np.nan for v in table.numbers(c)] for c in columns])
    if kind == "box":
        data = [col[np.isfinite(col)] for col in values]
        axes.boxplot(data, tick_labels=labels)
        axes.tick_params(axis="x", labelrotation=45, labelsize=7)
    else:
        names = [row.name for row in table.rows]
        bottom = np.zeros(len(names))
        for label, col in zip(labels, values, strict=True):
            heights = np.nan_to_num(col)
            axes.bar(range(len(names)), heights, bottom=bottom, label=label)
            bottom += heights
        axes.set_xticks(range(len(names)), names if len(names) <= 30 else [""] * len(names))
        axes.tick_params(axis="x", labelrotation=45, labelsize=7)
        axes.legend(fontsize=7)
    axes.set_ylabel(prefix.strip("_").lower().replace("_", " "), fontsize=8)


def read_cell_points(folder: Path, limit: int = MAX_POINTS) -> tuple[np.ndarray, list[str]]:
    """Level-0 centroids (n, 2: x, y) and classes from an item's cell readout CSV (evenly thinned)."""
    try:
        source = find_readouts(folder)[1]
        table = read_readout(source) if source is not None else None
    except (OSError, ValueError):  # a damaged cell table: the thumbnail goes without cells
        table = None
    if table is None:
        return np.zeros((0, 2)), []
    try:
        ix, iy = table.columns.index("CENTROID_X"), table.columns.index("CENTROID_Y")
    except ValueError:
        return np.zeros((0, 2)), []
    ic = table.columns.index("CELL_CLASS") if "CELL_CLASS" in table.columns else None
    rows = table.rows[:: max(1, len(table.rows) // limit)] if table.rows else []
    try:
        points = np.array([[float(r[ix]), float(r[iy])] for r in rows]).reshape(-1, 2)
    except (ValueError, IndexError):  # a damaged cell table: the thumbnail goes without cells
        return np.zeros((0, 2)), []
    classes = [r[ic] if ic is not None and ic < len(r) else "cell" for r in rows]
    return points, classes


def draw_overlay(
    figure: Figure, image: np.ndarray, scale: float, points: np.ndarray, classes: list[str]
) -> None:
    """A thumbnail with cell centroids (level-0 pixels × ``scale``) coloured by class."""
    axes = figure.add_axes((0.0, 0.0, 1.0, 1.0))
    axes.imshow(image)
    axes.set_axis_off()
    names = sorted(set(classes))
    colours = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b")
    labels = np.asarray(classes)
    for k, name in enumerate(names):
        chosen = points[labels == name] * scale
        axes.scatter(chosen[:, 0], chosen[:, 1], s=1, c=colours[k % len(colours)], label=name)
    axes.set_xlim(0, image.shape[1])
    axes.set_ylim(image.shape[0], 0)
