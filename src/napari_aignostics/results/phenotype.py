"""Tumour-immune phenotype of a slide from its readouts: inflamed, excluded or desert.

The rule (two editable thresholds, on lymphocyte density in cells/mm² or percentage of cells):

* **inflamed** — lymphocytes inside the carcinoma reach the carcinoma threshold;
* **excluded** — they do not, but lymphocytes in the stroma reach the stroma threshold;
* **desert** — neither;
* **unknown** — the slide has no such readout (failed item, other application).

A value equal to a threshold counts as reaching it. The readout columns are found by name: the
he-tme slide readouts (``CELL_DENSITY_LYMPHOCYTE_CARCINOMA``, also spelled
``CELL_DENSITY_LYMPHOCYTE_IN_CARCINOMA``) and the local application's regions (``CELL_DENSE`` is its
carcinoma-like region, ``STROMA`` its stroma).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

__all__ = ["PHENOTYPE_COLORS", "Phenotype", "PhenotypeRule", "readout_column"]

Measure = Literal["density", "percentage"]
CARCINOMA_REGIONS = ("CARCINOMA", "IN_CARCINOMA", "TUMOR", "IN_TUMOR", "CELL_DENSE")
STROMA_REGIONS = ("STROMA", "IN_STROMA")
LYMPHOCYTE_NAMES = ("LYMPHOCYTE", "LYMPHOCYTES")


class Phenotype(StrEnum):
    """A slide's tumour-immune phenotype."""

    INFLAMED = "inflamed"
    EXCLUDED = "excluded"
    DESERT = "desert"
    UNKNOWN = "unknown"


PHENOTYPE_COLORS: dict[Phenotype, str] = {
    Phenotype.INFLAMED: "#d62728",
    Phenotype.EXCLUDED: "#ff7f0e",
    Phenotype.DESERT: "#1f77b4",
    Phenotype.UNKNOWN: "#9e9e9e",
}


def readout_column(
    columns: Iterable[str], measure: Measure, regions: tuple[str, ...]
) -> str | None:
    """The first readout column for lymphocyte ``measure`` in one of ``regions`` that exists."""
    have = set(columns)
    kind = "DENSITY" if measure == "density" else "PERCENTAGE"
    for region in regions:
        for cell in LYMPHOCYTE_NAMES:
            name = f"CELL_{kind}_{cell}_{region}"
            if name in have:
                return name
    return None


@dataclass(frozen=True)
class PhenotypeRule:
    """Thresholds on lymphocytes in carcinoma and in stroma (cells/mm² or % of cells)."""

    carcinoma_threshold: float = 100.0
    stroma_threshold: float = 100.0
    measure: Measure = "density"

    def columns(self, available: Iterable[str]) -> tuple[str | None, str | None]:
        """(carcinoma column, stroma column) among ``available`` readout columns."""
        names = list(available)
        return (
            readout_column(names, self.measure, CARCINOMA_REGIONS),
            readout_column(names, self.measure, STROMA_REGIONS),
        )

    def classify(self, carcinoma: float | None, stroma: float | None) -> Phenotype:
        """The phenotype for the two values (``None``: no readout)."""
        if carcinoma is None or stroma is None:
            return Phenotype.UNKNOWN
        if carcinoma >= self.carcinoma_threshold:
            return Phenotype.INFLAMED
        if stroma >= self.stroma_threshold:
            return Phenotype.EXCLUDED
        return Phenotype.DESERT

    def of(self, readouts: Mapping[str, float]) -> Phenotype:
        """The phenotype of one slide's readouts."""
        carcinoma, stroma = self.columns(readouts)
        return self.classify(
            readouts.get(carcinoma) if carcinoma else None,
            readouts.get(stroma) if stroma else None,
        )
