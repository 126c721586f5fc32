"""Readout tables (a preamble line, then a header): slide summaries and per-cell tables.

They arrive as loose CSVs (he-tme 1.x: ``readout_generation_slide_readouts.csv`` and
``readout_generation_cell_readouts.csv``) or bundled in one zip (he-tme 2.0:
``readout_generation_readouts_bundle.zip``). :func:`find_readouts` finds both in an item folder; a
zip member is the slide or the cell readouts by its name (``slide`` / ``cell``); when no member is
named for one of them, by its header (centroid or class columns: cells) and rows (one row: slide).
"""

from __future__ import annotations

import csv
import io
import itertools
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

__all__ = [
    "CELL_READOUTS",
    "SLIDE_READOUTS",
    "Readout",
    "ReadoutSource",
    "count_rows",
    "find_readouts",
    "read_readout",
]

SLIDE_READOUTS = "readout_generation_slide_readouts.csv"
CELL_READOUTS = "readout_generation_cell_readouts.csv"
CELL_HEADER_HINTS = ("CENTROID_X", "CENTROID_Y", "CELL_CLASS", "CELL_ID")


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


@dataclass(frozen=True)
class ReadoutSource:
    """A readout table: a CSV file, or the CSV ``member`` of a zip bundle at ``path``."""

    path: Path
    member: str | None = None

    @property
    def label(self) -> str:
        """How errors name it: the file, or ``bundle.zip:member``."""
        return f"{self.path}:{self.member}" if self.member else str(self.path)

    @contextmanager
    def open_bytes(self) -> Iterator[IO[bytes]]:
        """The table's bytes (a zip member is streamed, not extracted).

        A damaged zip raises :class:`ValueError` naming the bundle and member.
        """
        if self.member is None:
            with self.path.open("rb") as handle:
                yield handle
            return
        try:
            with zipfile.ZipFile(self.path) as bundle, bundle.open(self.member) as handle:
                yield handle
        except (zipfile.BadZipFile, zlib.error, EOFError, KeyError) as exc:
            raise ValueError(
                f"{self.label}: the zip is damaged ({exc}); download the item again"
            ) from None


def _is_preamble(first: str) -> bool:
    return first.startswith("#") or "," not in first


def _parse(handle: IO[bytes], limit: int | None = None) -> Readout:
    text = io.TextIOWrapper(handle, encoding="utf-8-sig", newline="")
    first = text.readline()
    lines: Iterator[str] = text
    preamble = ""
    if _is_preamble(first):
        preamble = first.lstrip("#").strip()
    else:
        lines = itertools.chain([first], text)
    reader = csv.reader(lines)
    columns = next(reader, [])
    rows = (row for row in reader if row)
    return Readout(preamble, columns, list(itertools.islice(rows, limit)))


def read_readout(source: Path | ReadoutSource, limit: int | None = None) -> Readout:
    """Parse a readout table whose first line may be a preamble (the first ``limit`` rows).

    A table that is not UTF-8 CSV raises :class:`ValueError` naming it.
    """
    found = source if isinstance(source, ReadoutSource) else ReadoutSource(source)
    try:
        with found.open_bytes() as handle:
            return _parse(handle, limit)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ValueError(
            f"{found.label}: not a readout CSV ({exc}); download the item again"
        ) from None


def count_rows(source: ReadoutSource) -> int:
    """Data rows of a readout table (preamble and header not counted), without parsing them."""
    with source.open_bytes() as handle:
        first = handle.readline()
        lines = 1 + sum(1 for line in handle if line.strip()) if first.strip() else 0
    return max(0, lines - (2 if _is_preamble(first.decode("utf-8", "replace")) else 1))


def _kind_by_name(source: ReadoutSource) -> str | None:
    name = PurePosixPath(source.member or source.path.name).name.lower()
    return "slide" if "slide" in name else "cell" if "cell" in name else None


def _kind_by_header(source: ReadoutSource) -> str | None:
    head = read_readout(source, limit=2)
    if any(hint in head.columns for hint in CELL_HEADER_HINTS):
        return "cell"
    return "slide" if len(head.rows) == 1 and len(head.columns) > 1 else None


def _bundle_members(bundle: Path) -> list[ReadoutSource]:
    try:
        with zipfile.ZipFile(bundle) as archive:
            names = [info.filename for info in archive.infolist() if not info.is_dir()]
    except zipfile.BadZipFile as exc:
        raise ValueError(f"{bundle}: not a readable zip ({exc}); download the item again") from None
    return [
        ReadoutSource(bundle, name)
        for name in sorted(names)
        if name.lower().endswith(".csv")
        and not name.startswith("__MACOSX/")
        and not PurePosixPath(name).name.startswith(".")
    ]


def find_readouts(folder: Path) -> tuple[ReadoutSource | None, ReadoutSource | None]:
    """(slide readouts, cell readouts) of an item folder; ``None`` for what it does not have.

    Loose CSVs come first; otherwise the CSV members of the folder's readout zip bundles. Two
    members that both look like the slide (or the cell) readouts raise :class:`ValueError`
    naming them, as does a damaged zip.
    """
    found: dict[str, ReadoutSource | None] = {"slide": None, "cell": None}
    for kind, name in (("slide", SLIDE_READOUTS), ("cell", CELL_READOUTS)):
        if (folder / name).is_file():
            found[kind] = ReadoutSource(folder / name)
    if all(found.values()):
        return found["slide"], found["cell"]
    bundles = sorted(p for p in folder.glob("*.zip") if "readout" in p.name.lower())
    members = [m for bundle in bundles for m in _bundle_members(bundle)]
    named = {m: _kind_by_name(m) for m in members}
    for kind in ("slide", "cell"):
        if found[kind] is not None:
            continue
        chosen = [m for m in members if named[m] == kind]
        if not chosen:  # no member named for it: the unnamed ones by their header
            chosen = [m for m in members if named[m] is None and _kind_by_header(m) == kind]
        if len(chosen) > 1:
            listed = ", ".join(m.member or "" for m in chosen)
            raise ValueError(
                f"{chosen[0].path}: {len(chosen)} members look like the {kind} readouts "
                f"({listed}); keep one of them in the bundle"
            )
        found[kind] = chosen[0] if chosen else None
    return found["slide"], found["cell"]
