"""A self-contained HTML report of a cohort: provenance, figures and thumbnails inline (base64
PNG), the table; a colleague opens it in any browser without napari."""

from __future__ import annotations

import base64
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import jinja2
from matplotlib.figure import Figure

from ..slides.reader import open_slide
from ..slides.slide_errors import SlideError
from .cohort import FIXED_COLUMNS, CohortTable
from .cohort_figures import draw_classes, draw_overlay, draw_scatter, figure_png, read_cell_points
from .cohort_thumbnails import thumbnail
from .phenotype import PHENOTYPE_COLORS

__all__ = ["render_report", "write_report"]

TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Cohort report {{ run_id }}</title>
<style>
body { font-family: sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; font-size: 12px; }
th, td { border: 1px solid #ccc; padding: 2px 6px; text-align: right; }
th { background: #f0f0f0; position: sticky; top: 0; }
td.text { text-align: left; }
.figures img { max-width: 48%; margin: 0.5em; border: 1px solid #ddd; }
.slides { display: flex; flex-wrap: wrap; gap: 12px; }
.slide { width: 260px; font-size: 12px; }
.slide img { width: 256px; border: 1px solid #ddd; }
.swatch { display: inline-block; width: 10px; height: 10px; margin-right: 4px; }
.scroll { overflow-x: auto; max-height: 40em; }
</style></head><body>
<h1>Cohort report</h1>
<table class="provenance">
{% for key, value in provenance %}<tr><th>{{ key }}</th><td class="text">{{ value }}</td></tr>
{% endfor %}</table>
<h2>Figures</h2>
<div class="figures">{% for title, png in figures %}
<img alt="{{ title }}" title="{{ title }}" src="data:image/png;base64,{{ png }}">{% endfor %}
</div>
<h2>Slides ({{ rows|length }})</h2>
<div class="scroll"><table class="cohort">
<tr>{% for column in columns %}<th>{{ column }}</th>{% endfor %}</tr>
{% for row in rows %}<tr>{% for value, is_text in row.cells %}
<td{% if is_text %} class="text"{% endif %}>{% if loop.index0 == phenotype_at %}<span class="swatch" style="background: {{ row.colour }}"></span>{% endif %}{{ value }}</td>{% endfor %}</tr>
{% endfor %}</table></div>
<h2>Slides with cells</h2>
<div class="slides">{% for card in cards %}
<div class="slide"><img alt="{{ card.name }}" src="data:image/png;base64,{{ card.png }}"><br>
<b>{{ card.name }}</b> — {{ card.state }}{% if card.message %}: {{ card.message }}{% endif %}</div>{% endfor %}
</div>
</body></html>
"""


@dataclass
class _Row:
    cells: list[tuple[str, bool]]
    colour: str


@dataclass
class _Card:
    name: str
    state: str
    message: str
    png: str


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _text(value: str | float | None) -> str:
    if value is None:
        return ""
    return f"{value:.4g}" if isinstance(value, float) else value


def _figures(table: CohortTable) -> list[tuple[str, str]]:
    figures = []
    for title, draw in (
        ("Tumour-immune phenotype", lambda f: draw_scatter(f, table)),
        ("Cells per class", lambda f: draw_classes(f, table, "CELL_COUNT_", "bar")),
        (
            "Lymphocyte and other densities",
            lambda f: draw_classes(f, table, "CELL_DENSITY_", "box"),
        ),
    ):
        figure = Figure(figsize=(6.4, 4.4))
        draw(figure)
        figure.suptitle(title, fontsize=10)
        figures.append((title, _b64(figure_png(figure))))
    return figures


def _card_png(table: CohortTable, index: int, cache: Path | None) -> bytes | None:
    row = table.rows[index]
    path = row.slide_path
    if path is None:
        return None
    try:
        image = thumbnail(path, cache=cache)
        with open_slide(path) as slide:
            scale = image.shape[1] / slide.width
    except (SlideError, OSError, ValueError):
        return None
    points, classes = read_cell_points(row.folder) if row.folder else (None, [])
    figure = Figure(figsize=(image.shape[1] / 100, image.shape[0] / 100))
    if points is None:
        figure.figimage(image)
    else:
        draw_overlay(figure, image, scale, points, classes)
    return figure_png(figure)


def render_report(table: CohortTable, thumbnails: bool = True, cache: Path | None = None) -> str:
    """The report's HTML text."""
    columns = table.columns
    rows = []
    for i in range(len(table.rows)):
        values = [table.value(i, c) for c in columns]
        rows.append(
            _Row(
                [(_text(v), c in FIXED_COLUMNS[:3]) for v, c in zip(values, columns, strict=True)],
                PHENOTYPE_COLORS[table.phenotype(table.rows[i])],
            )
        )
    cards = []
    for i, row in enumerate(table.rows):
        png = _card_png(table, i, cache) if thumbnails else None
        if png is not None:
            cards.append(_Card(row.name, row.state, row.message, _b64(png)))
    rule = table.rule
    provenance = [
        ("run", table.run_id),
        ("application", f"{table.application_id} {table.version_number}".strip()),
        ("run state", table.run_state),
        ("slides", str(len(table.rows))),
        (
            "phenotype rule",
            f"lymphocyte {rule.measure}: inflamed when in carcinoma ≥ {rule.carcinoma_threshold:g}, "
            f"else excluded when in stroma ≥ {rule.stroma_threshold:g}, else desert",
        ),
        ("made", datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")),
    ]
    environment = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    return environment.from_string(TEMPLATE).render(
        run_id=table.run_id,
        provenance=provenance,
        figures=_figures(table),
        columns=columns,
        rows=rows,
        phenotype_at=columns.index("phenotype"),
        cards=cards,
    )


def write_report(
    table: CohortTable, path: Path, thumbnails: bool = True, cache: Path | None = None
) -> Path:
    """Write the report to ``path`` atomically."""
    html = render_report(table, thumbnails, cache)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(html)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path
