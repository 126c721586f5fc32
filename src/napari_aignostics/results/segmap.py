"""Segmentation-map TIFFs (class indices) with their class names and colours."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .tables import palette_color

__all__ = ["ClassMap", "read_class_csv", "read_segmentation_map", "read_type_info"]


@dataclass
class ClassMap:
    """A low-resolution class raster."""

    labels: np.ndarray
    classes: dict[int, tuple[str, tuple[int, int, int]]]
    """index → (name, colour); index 0 is background."""
    mpp: float | None


def read_class_csv(path: Path) -> dict[int, tuple[str, tuple[int, int, int]]]:
    """``class_index,class_name,red,green,blue`` (also accepts a leading preamble line)."""
    lines = path.read_text().splitlines()
    if lines and lines[0].startswith("#"):
        lines = lines[1:]
    classes = {}
    for row in csv.DictReader(lines):
        index = int(row.get("class_index") or row.get("index") or row.get("id") or 0)
        name = row.get("class_name") or row.get("name") or f"class {index}"
        try:
            rgb = (int(row["red"]), int(row["green"]), int(row["blue"]))
        except (KeyError, TypeError, ValueError):
            rgb = palette_color(name)
        classes[index] = (name, rgb)
    return classes


def read_segmentation_map(
    path: Path, metadata: dict[str, Any] | None = None, class_csv: Path | None = None
) -> ClassMap:
    """The map, with classes from the artifact metadata, else the class CSV, else a palette."""
    import tifffile

    with tifffile.TiffFile(path) as tif:
        page = tif.pages.first
        labels = page.asarray()
        tags = page.tags
        mpp = None
        if "XResolution" in tags and "ResolutionUnit" in tags:
            num, den = tags["XResolution"].value
            unit = int(tags["ResolutionUnit"].value)
            if num and den and unit in (2, 3):
                per_unit = num / den
                mpp = (25_400.0 if unit == 2 else 10_000.0) / per_unit
    if labels.ndim != 2:
        raise ValueError(f"{path.name}: a segmentation map must be one channel of class indices")
    labels = _class_indices(path, labels)
    meta = metadata or {}
    classes: dict[int, tuple[str, tuple[int, int, int]]] = {}
    if isinstance(meta.get("class_colors"), dict):
        for index, (name, rgb) in enumerate(meta["class_colors"].items()):
            classes[index] = (str(name), (int(rgb[0]), int(rgb[1]), int(rgb[2])))
    elif class_csv is not None and class_csv.is_file():
        classes = read_class_csv(class_csv)
    for value in np.unique(labels):
        classes.setdefault(int(value), (f"class {int(value)}", palette_color(f"class {value}")))
    mpp = float(meta.get("resolution_mpp") or 0) or (mpp if mpp and 0.05 < mpp < 1000 else None)
    return ClassMap(labels.astype(np.uint8 if labels.max() < 256 else np.uint16), classes, mpp)


def _class_indices(path: Path, labels: np.ndarray) -> np.ndarray:
    """Class indices as they are, or a ValueError when they are not whole numbers 0–65535."""
    if labels.size == 0:
        raise ValueError(f"{path.name}: the segmentation map is empty")
    if labels.dtype.kind == "f":
        if not np.isfinite(labels).all() or (labels != np.round(labels)).any():
            raise ValueError(
                f"{path.name}: a segmentation map holds whole class indices;"
                " this one holds fractions or NaN (is it a probability map?)"
            )
    elif labels.dtype.kind not in "ui":
        raise ValueError(f"{path.name}: class indices of type {labels.dtype} are not supported")
    low, high = labels.min(), labels.max()
    if low < 0 or high > 65535:
        bad = int(np.count_nonzero((labels < 0) | (labels > 65535)))
        raise ValueError(
            f"{path.name}: class indices must be 0-65535; {bad} pixels hold values from"
            f" {low:g} to {high:g}, which would wrap into other classes"
        )
    return labels


def read_type_info(path: Path) -> dict[int, tuple[str, tuple[int, int, int]]]:
    """HoVer-Net's ``type_info.json``: ``{"1": ["neopla", [255, 0, 0]], ...}``."""
    import json

    data = json.loads(path.read_text())
    return {
        int(k): (str(v[0]), (int(v[1][0]), int(v[1][1]), int(v[1][2]))) for k, v in data.items()
    }
