"""Readout CSVs (a preamble line, then a header): slide summaries and per-cell tables."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Readout", "read_readout"]


@dataclass
class Readout:
    """A table: its preamble, columns and rows (strings)."""

    preamble: str
    columns: list[str]
    rows: list[list[str]]

    def as_dict(self) -> dict[str, str]:
        """The first row by column (slide readouts have one row)."""
        return dict(zip(self.columns, self.rows[0], strict=False)) if self.rows else {}

    def numbers(self, prefix: str) -> dict[str, float]:
        """Numeric columns of the first row starting with ``prefix``, prefix removed."""
        values = {}
        for key, value in self.as_dict().items():
            if key.startswith(prefix):
                try:
                    values[key.removeprefix(prefix)] = float(value)
                except ValueError:
                    continue
        return values


def read_readout(path: Path) -> Readout:
    """Parse a readout CSV whose first line may be a preamble."""
    with path.open(newline="") as handle:
        first = handle.readline()
        preamble = ""
        if first.startswith("#") or "," not in first:
            preamble = first.lstrip("#").strip()
        else:
            handle.seek(0)
        reader = csv.reader(handle)
        columns = next(reader, [])
        rows = [row for row in reader if row]
    return Readout(preamble, columns, rows)
