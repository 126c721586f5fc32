"""Corrections of the AI's classes with undo/redo, and the review sidecar that keeps them with the ROIs.

Every edit goes through :meth:`ReviewModel.set_classes`, so counts, overlays and ROI tables follow.
The sidecar (``review/review.json`` in the item folder, see
:func:`..platform.results_layout.review_sidecar`) lists the edits in order (author, time, class,
cell rows and ids) and the ROIs; the platform's artifacts are never touched. It is written
atomically, and reopening the folder replays it.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import orjson
import shapely

from ..platform.results_layout import review_sidecar
from .export import atomic_write
from .review import NOT_A_CELL, ReviewModel
from .roi_stats import ROI_KINDS, Roi

__all__ = [
    "NOT_A_CELL_NAME",
    "SIDECAR_VERSION",
    "Corrections",
    "Edit",
    "load_review",
    "save_review",
]

SIDECAR_VERSION = 1
NOT_A_CELL_NAME = "not a cell"
"""How "not a cell" is written in the sidecar and in exports."""


@dataclass(frozen=True)
class Edit:
    """One reclassification: rows, their codes before, the code they got, who and when."""

    indices: np.ndarray
    old: np.ndarray
    new: int
    author: str
    time: str


@dataclass
class Corrections:
    """The edit history of one review (undo and redo stacks)."""

    review: ReviewModel
    author: str = field(default_factory=lambda: _user())
    done: list[Edit] = field(default_factory=list)
    undone: list[Edit] = field(default_factory=list)

    def assign(self, indices: np.ndarray, code: int) -> Edit | None:
        """Give ``indices`` class ``code`` (``NOT_A_CELL`` to drop them); None if nothing changes."""
        indices = np.unique(np.asarray(indices, dtype=np.int64))
        old = self.review.class_codes[indices]
        changing = old != code
        if not changing.any():
            return None
        now = datetime.now(UTC).isoformat(timespec="seconds")
        edit = Edit(indices[changing], old[changing].copy(), int(code), self.author, now)
        self.review.set_classes(edit.indices, edit.new)
        self.done.append(edit)
        self.undone.clear()
        return edit

    def undo(self) -> Edit | None:
        """Take back the last edit."""
        if not self.done:
            return None
        edit = self.done.pop()
        listeners = self.review.on_classes_changed
        waiting = list(listeners)
        listeners.clear()  # one notice for the whole edit, not one per former class
        try:
            for code in np.unique(edit.old):
                self.review.set_classes(edit.indices[edit.old == code], int(code))
        finally:
            listeners[:] = waiting
        for listener in waiting:
            listener(edit.indices)
        self.undone.append(edit)
        return edit

    def redo(self) -> Edit | None:
        """Do the last undone edit again."""
        if not self.undone:
            return None
        edit = self.undone.pop()
        self.review.set_classes(edit.indices, edit.new)
        self.done.append(edit)
        return edit

    def original_classes(self) -> np.ndarray:
        """The AI's class name per object (what exports keep beside the corrected class)."""
        return self.review.table.classes

    def changed(self) -> np.ndarray:
        """Indices of the objects whose class differs from the AI's."""
        return np.flatnonzero(self.review.class_codes != self.review.table.class_index())


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _code_name(review: ReviewModel, code: int) -> str:
    return review.table.class_names[code - 1] if code != NOT_A_CELL else NOT_A_CELL_NAME


def save_review(item_dir: Path, corrections: Corrections, rois: list[Roi]) -> Path:
    """Write the sidecar of ``item_dir`` (edits in order, ROIs) atomically; returns its path."""
    review = corrections.review
    ids = review.table.ids
    document = {
        "version": SIDECAR_VERSION,
        "objects": len(review.table),
        "edits": [
            {
                "author": edit.author,
                "time": edit.time,
                "class": _code_name(review, edit.new),
                "rows": edit.indices.tolist(),
                "ids": [str(ids[i]) for i in edit.indices],
            }
            for edit in corrections.done
        ],
        "rois": [
            {
                "name": roi.name,
                "kind": roi.kind,
                "classification": roi.classification,
                "wkt": shapely.to_wkt(roi.polygon, rounding_precision=2),
            }
            for roi in rois
        ],
    }
    data = orjson.dumps(document, option=orjson.OPT_INDENT_2)
    return atomic_write(review_sidecar(item_dir), lambda handle: handle.write(data))


def load_review(item_dir: Path, review: ReviewModel) -> tuple[Corrections, list[Roi], list[str]]:
    """Replay the sidecar of ``item_dir`` on ``review``: its corrections, ROIs and any problems.

    No sidecar: no corrections, no ROIs. An edit naming an unknown class, or rows whose ids no
    longer match the cells, is skipped and reported (the results changed since it was saved).
    """
    corrections = Corrections(review)
    path = review_sidecar(item_dir)
    if not path.is_file():
        return corrections, [], []
    where = f"{path.name} in {path.parent}"
    try:
        document = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        return corrections, [], [f"{where}: not readable ({exc}); the review starts empty"]
    if not isinstance(document, dict) or document.get("version") != SIDECAR_VERSION:
        return corrections, [], [f"{where}: not a version {SIDECAR_VERSION} review; ignored"]
    problems: list[str] = []
    codes = {name: i for i, name in enumerate(review.table.class_names, start=1)}
    codes[NOT_A_CELL_NAME] = NOT_A_CELL
    ids = review.table.ids
    for number, entry in enumerate(document.get("edits") or [], start=1):
        try:
            rows = np.asarray(entry["rows"], dtype=np.int64)
            code = codes[entry["class"]]
            saved_ids = np.asarray([str(i) for i in entry["ids"]], dtype=str)
            if len(rows) != len(saved_ids) or (
                len(rows) and (rows.min() < 0 or rows.max() >= len(ids))
            ):
                raise ValueError("rows outside the cells")
            if not np.array_equal(ids[rows].astype(str), saved_ids):  # one vectorised comparison
                raise ValueError("cell ids differ from the saved ones")
        except (KeyError, TypeError, ValueError) as exc:
            problems.append(f"{where}: edit {number} skipped ({exc})")
            continue
        corrections.author = str(entry.get("author") or corrections.author)
        edit = corrections.assign(rows, code)
        if edit is not None:  # keep who made it and when
            corrections.done[-1] = Edit(
                edit.indices, edit.old, edit.new, str(entry.get("author")), str(entry.get("time"))
            )
    corrections.author = _user()
    rois = []
    for number, entry in enumerate(document.get("rois") or [], start=1):
        try:
            polygon = shapely.from_wkt(entry["wkt"])
            if not isinstance(polygon, shapely.Polygon):
                raise ValueError("not a polygon")
            kind = entry.get("kind") if entry.get("kind") in ROI_KINDS else "polygon"
            rois.append(Roi(str(entry["name"]), polygon, kind, entry.get("classification")))
        except (KeyError, TypeError, ValueError, shapely.errors.GEOSException) as exc:
            problems.append(f"{where}: ROI {number} skipped ({exc})")
    return corrections, rois, problems
