"""A generated cohort: a run folder with a manifest and per-item readout CSVs (slide and cells).

``write_cohort(folder, n)`` makes ``n`` items named like real slides, with he-tme style slide
readouts (counts, densities and percentages per class and region) and a cell readout CSV; every
tenth item failed with a message and has no files, like a real run's failed items.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

CLASSES = ("LYMPHOCYTE", "CARCINOMA_CELL", "FIBROBLAST", "OTHER")
REGIONS = ("CARCINOMA", "STROMA")


def slide_readouts(rng: np.random.Generator) -> dict[str, float]:
    """One slide's readouts with he-tme style names."""
    values: dict[str, float] = {"RELATIVE_AREA_VALID_TISSUE": round(float(rng.uniform(0.5, 1)), 4)}
    total = 0
    for cls in CLASSES:
        count = int(rng.integers(100, 5000))
        values[f"CELL_COUNT_{cls}"] = count
        total += count
    for region in REGIONS:
        values[f"ABSOLUTE_AREA_{region}"] = round(float(rng.uniform(1, 20)), 3)
        for cls in CLASSES:
            values[f"CELL_DENSITY_{cls}_{region}"] = round(float(rng.gamma(2.0, 150.0)), 2)
            values[f"CELL_PERCENTAGE_{cls}_{region}"] = round(float(rng.uniform(0, 60)), 2)
    values["CELL_COUNT_TOTAL"] = total
    return values


def write_item(folder: Path, rng: np.random.Generator, cells: int) -> None:
    """An item folder with slide and cell readout CSVs (preamble line, header, rows)."""
    folder.mkdir(parents=True, exist_ok=True)
    readouts = slide_readouts(rng)
    with (folder / "readout_generation_slide_readouts.csv").open("w", newline="") as handle:
        handle.write("# generated cohort readouts v1\n")
        writer = csv.writer(handle)
        writer.writerow(list(readouts))
        writer.writerow(list(readouts.values()))
    xy = rng.uniform(0, 4000, size=(cells, 2))
    classes = rng.choice(CLASSES, size=cells)
    with (folder / "readout_generation_cell_readouts.csv").open("w", newline="") as handle:
        handle.write("# generated cohort readouts v1\n")
        writer = csv.writer(handle)
        writer.writerow(["CELL_ID", "CELL_CLASS", "CENTROID_X", "CENTROID_Y"])
        writer.writerows(
            [i, classes[i], f"{xy[i, 0]:.2f}", f"{xy[i, 1]:.2f}"] for i in range(cells)
        )


def write_cohort(root: Path, n: int, cells: int = 200, seed: int = 0,
                 slide: Path | None = None) -> Path:
    """A run folder of ``n`` items under ``root``; external ids are ``slide`` (when given) or names."""
    rng = np.random.default_rng(seed)
    run = root / "run-generated"
    items = []
    for k in range(n):
        external = str(slide) if slide is not None and k == 0 else f"/slides/slide-{k:04d}.svs"
        name = f"slide-{k:04d}"
        failed = k % 10 == 9
        if not failed:
            write_item(run / name, rng, cells)
        artifacts = [] if failed else [
            {"name": f"readout_generation:{kind}", "file": f"{name}/readout_generation_{kind}.csv",
             "media_type": "text/csv", "checksum_base64_crc32c": None,
             "metadata": {"media_type": "text/csv"}}
            for kind in ("slide_readouts", "cell_readouts")
        ]
        items.append({
            "external_id": external, "folder": name, "state": "TERMINATED",
            "termination_reason": "USER_ERROR" if failed else "SUCCEEDED",
            "error_message": "the slide is blurred" if failed else None, "artifacts": artifacts,
        })
    manifest = {"run_id": "run-generated", "application_id": "he-tme", "version_number": "1.2.0",
                "state": "TERMINATED", "items": items}
    (run / "manifest.json").write_text(json.dumps(manifest))
    return run
