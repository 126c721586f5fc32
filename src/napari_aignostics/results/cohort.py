"""A run of many slides as one table: a row per item with its state, message and slide readouts.

Rows come from a results folder (its manifest, see :mod:`..platform.results_layout`) or arrive one
by one while a run is followed (:meth:`CohortTable.update`). Readouts are the numeric columns of the
item's slide readout CSV; derived columns are the tumour-immune phenotype and ratios of two readouts.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..platform import models as m
from ..platform.results_layout import (
    MANIFEST_NAME,
    ArtifactMetadata,
    RunManifest,
    artifact_metadata,
    read_manifest,
)
from .phenotype import Phenotype, PhenotypeRule
from .readouts import count_rows, find_readouts, read_readout

__all__ = [
    "FIXED_COLUMNS",
    "CohortRow",
    "CohortTable",
    "find_run_folder",
]

FIXED_COLUMNS = ("slide", "state", "message", "cells", "phenotype")
Value = str | float | None


@dataclass
class CohortRow:
    """One item (slide) of the run."""

    external_id: str
    state: str
    message: str = ""
    folder: Path | None = None
    readouts: dict[str, float] = field(default_factory=dict)
    cells: int | None = None
    artifacts: dict[str, ArtifactMetadata] = field(default_factory=dict)
    """Artifact metadata by file name (how the results of the item are read)."""

    @property
    def name(self) -> str:
        """The slide's file name."""
        return Path(self.external_id).name or self.external_id

    @property
    def slide_path(self) -> Path | None:
        """The slide file when the external id is a path that exists here."""
        path = Path(self.external_id)
        return path if path.is_file() else None


def _state(state: str, reason: str | None) -> str:
    """``SUCCEEDED``, ``USER_ERROR``, ``SYSTEM_ERROR``, ``SKIPPED`` once ended, else the state."""
    text = (reason or state or "").rsplit(".", 1)[-1]
    return text.upper()


def _numbers(values: dict[str, str]) -> dict[str, float]:
    found = {}
    for key, text in values.items():
        try:
            number = float(text)
        except ValueError:
            continue
        if math.isfinite(number):
            found[key] = number
    return found


def read_item_readouts(folder: Path) -> tuple[dict[str, float], int | None]:
    """(numeric slide readouts, cell count) of an item folder; empty when it has none.

    The readouts are loose CSVs or a zip bundle (:func:`.readouts.find_readouts`). The cell count
    is ``CELL_COUNT_TOTAL`` when the slide readouts have it, else the rows of the cell readouts.
    A damaged table or bundle raises :class:`ValueError` naming it.
    """
    slide, cell = find_readouts(folder)
    readouts = _numbers(read_readout(slide).as_dict()) if slide is not None else {}
    if "CELL_COUNT_TOTAL" in readouts:
        return readouts, int(readouts["CELL_COUNT_TOTAL"])
    return readouts, count_rows(cell) if cell is not None else None


def find_run_folder(folder: Path) -> Path:
    """The run folder holding ``manifest.json``: ``folder`` itself or its only run subfolder."""
    if (folder / MANIFEST_NAME).is_file():
        return folder
    runs = [p.parent for p in sorted(folder.glob(f"*/{MANIFEST_NAME}"))]
    if len(runs) == 1:
        return runs[0]
    if not runs:
        raise ValueError(
            f"{folder}: no run manifest here; pick a run's results folder "
            "(napari-aignostics run result download RUN_ID FOLDER makes one)"
        )
    raise ValueError(
        f"{folder}: holds {len(runs)} runs; pick one of {', '.join(p.name for p in runs)}"
    )


class CohortTable:
    """Rows per item, readout columns in first-seen order, phenotype and ratio columns."""

    def __init__(
        self,
        run_id: str = "",
        application_id: str = "",
        version_number: str = "",
        run_state: str = "",
        rule: PhenotypeRule | None = None,
    ) -> None:
        self.run_id = run_id
        self.application_id = application_id
        self.version_number = version_number
        self.run_state = run_state
        self.rule = rule or PhenotypeRule()
        self.rows: list[CohortRow] = []
        self.ratios: dict[str, tuple[str, str]] = {}
        self._index: dict[str, int] = {}
        self._readout_columns: dict[str, None] = {}

    # --- building --------------------------------------------------------------------------------

    @classmethod
    def from_manifest(cls, run_folder: Path, manifest: RunManifest) -> CohortTable:
        """Rows for every item of a downloaded run (readouts read from each item folder)."""
        table = cls(
            manifest.run_id, manifest.application_id, manifest.version_number, manifest.state
        )
        for item in manifest.items:
            item_dir = run_folder / item.folder if item.folder else None
            if item_dir is not None and item_dir.resolve().parent != run_folder.resolve():
                item_dir = None  # a manifest entry pointing outside the run folder is not read
            row = _row(
                item.external_id,
                _state(item.state, item.termination_reason),
                item.error_message,
                item_dir if item_dir is not None and item_dir.is_dir() else None,
            )
            row.artifacts = item.metadata_by_file()
            table.set_row(row)
        return table

    @classmethod
    def from_folder(cls, folder: Path) -> CohortTable:
        """The cohort of a results folder (a run folder or a folder holding one run folder)."""
        run_folder = find_run_folder(folder)
        return cls.from_manifest(run_folder, read_manifest(run_folder / MANIFEST_NAME))

    def update(self, item: m.ItemResultReadResponse, folder: Path | None) -> int:
        """Add or replace an item's row from a followed run's event; its row index."""
        reason = str(item.termination_reason) if item.termination_reason else None
        row = _row(item.external_id, _state(str(item.state), reason), item.error_message, folder)
        row.artifacts = artifact_metadata(item)
        return self.set_row(row)

    def set_row(self, row: CohortRow) -> int:
        """Add a row or replace the row of the same item; its index."""
        for key in row.readouts:
            self._readout_columns.setdefault(key, None)
        index = self._index.get(row.external_id)
        if index is None:
            index = len(self.rows)
            self._index[row.external_id] = index
            self.rows.append(row)
        else:
            self.rows[index] = row
        return index

    def index_of(self, external_id: str) -> int | None:
        """The row of an item."""
        return self._index.get(external_id)

    # --- columns ---------------------------------------------------------------------------------

    @property
    def readout_columns(self) -> list[str]:
        """Every numeric readout column seen, in first-seen order."""
        return list(self._readout_columns)

    @property
    def columns(self) -> list[str]:
        """Fixed columns, ratio columns, then readout columns."""
        return [*FIXED_COLUMNS, *self.ratios, *self.readout_columns]

    def add_ratio(self, numerator: str, denominator: str) -> str:
        """A derived column ``numerator / denominator`` (empty where the denominator is 0)."""
        for name in (numerator, denominator):
            if name not in self._readout_columns:
                raise ValueError(f"no readout column {name!r} in this cohort")
        name = f"{numerator} / {denominator}"
        self.ratios[name] = (numerator, denominator)
        return name

    def phenotype(self, row: CohortRow) -> Phenotype:
        """The row's phenotype under :attr:`rule`."""
        return self.rule.of(row.readouts)

    def value(self, index: int, column: str) -> Value:
        """The cell at (row, column): text for fixed columns, a number or ``None`` otherwise."""
        row = self.rows[index]
        if column == "slide":
            return row.name
        if column == "state":
            return row.state
        if column == "message":
            return row.message
        if column == "cells":
            return None if row.cells is None else float(row.cells)
        if column == "phenotype":
            return str(self.phenotype(row))
        if column in self.ratios:
            numerator, denominator = self.ratios[column]
            top, bottom = row.readouts.get(numerator), row.readouts.get(denominator)
            return None if top is None or not bottom else top / bottom
        return row.readouts.get(column)

    def numbers(self, column: str) -> list[float | None]:
        """A numeric column down the rows (``None`` where missing)."""
        values = [self.value(i, column) for i in range(len(self.rows))]
        return [v if isinstance(v, float) else None for v in values]

    def sorted_indices(self, column: str, descending: bool = False) -> list[int]:
        """Row indices ordered by ``column``; missing values last either way."""
        values = [self.value(i, column) for i in range(len(self.rows))]
        present = [i for i, v in enumerate(values) if v is not None and v != ""]
        missing = [i for i, v in enumerate(values) if v is None or v == ""]
        numeric = all(isinstance(values[i], float) for i in present)

        def key(i: int) -> float | str:
            value = values[i]
            return value if numeric and isinstance(value, float) else str(value).lower()

        return sorted(present, key=key, reverse=descending) + missing

    # --- export ----------------------------------------------------------------------------------

    def write_csv(self, path: Path, columns: Iterable[str] | None = None) -> Path:
        """The table as CSV (one row per item), written atomically."""
        from .export import atomic_write

        names = list(columns) if columns is not None else self.columns

        def text(value: Value) -> str:
            return "" if value is None else (f"{value:.6g}" if isinstance(value, float) else value)

        lines = [["external_id", *names]] + [
            [row.external_id, *(text(self.value(i, c)) for c in names)]
            for i, row in enumerate(self.rows)
        ]
        return atomic_write(path, lambda w: csv.writer(w).writerows(lines), text=True)


def _row(external_id: str, state: str, message: str | None, folder: Path | None) -> CohortRow:
    readouts: dict[str, float] = {}
    cells: int | None = None
    note = message or ""
    if folder is not None:
        try:
            readouts, cells = read_item_readouts(folder)
        except (OSError, ValueError) as exc:
            note = f"{note} {exc}".strip()
    return CohortRow(external_id, state, note, folder, readouts, cells)
