"""A reviewer's walk through the Review, Edit and Table tabs on the real viewer, one picture a step.

Used by ``napari-aignostics demo --auto --screenshot … --review-screenshots DIR`` for the pictures of
``docs/review.md``: cells coloured by area with the colour bar, a density map of lymphocytes (or the
first immune class) within stroma with its hotspots, an ROI with its statistics after a
reclassification, and the cell table.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..results.coords import to_data
from .camera import camera_of
from .demo import pump, wait_until

if TYPE_CHECKING:
    from napari.viewer import Viewer

    from .dock import AignosticsWidget

ROI_HALF_PX = 300
"""Half the side of the walk's square ROI, in level-0 pixels (the view's centre)."""


def _pick(items: list[str], *wanted: str) -> int:
    """Index of the first item containing one of ``wanted`` (in that order), else 0."""
    for word in wanted:
        for index, item in enumerate(items):
            if word in item.lower():
                return index
    return 0


def save_review_screenshots(viewer: Viewer, widget: AignosticsWidget, folder: Path) -> list[Path]:
    """Walk the review of the loaded results; one JPEG of the window per step into ``folder``."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    saved: list[Path] = []

    def shot(name: str) -> None:
        pump(1.5)
        image = viewer.screenshot(canvas_only=False, flash=False)
        target = folder / name
        Image.fromarray(image[..., :3]).save(target, quality=82)
        saved.append(target)
        print(f"screenshot saved to {target}")

    review, edit, table = widget.review, widget.edit, widget.cell_table
    result = review.result
    if result is None or review.review is None:
        raise RuntimeError("no results with cells are loaded")
    widget.tabs.setCurrentWidget(review)
    names = [review.color_by.itemText(i) for i in range(review.color_by.count())]
    if "area_um2" in names:
        review.color_by.setCurrentText("area_um2")
        wait_until(lambda: review.measure_layer is not None, 120, "the cells coloured by area")
    shot("review-colour-by-area.jpg")

    density = review.density
    classes = [density.cell_class.itemText(i) for i in range(density.cell_class.count())]
    density.cell_class.setCurrentIndex(_pick(classes, "lymph", "inflam", "immune"))
    regions = [density.region.itemText(i) for i in range(density.region.count())]
    density.region.setCurrentIndex(_pick(regions, "stroma"))
    density.grid.setValue(50.0)  # the sample is ~1.5 mm across: small windows find hotspots
    density.window_um.setValue(250.0)
    density.map_button.click()
    wait_until(lambda: density.map is not None, 120, "the density map")
    density.hotspot_button.click()
    wait_until(lambda: density.hotspot_layer is not None, 120, "the hotspots")
    shot("review-density-hotspots.jpg")

    widget.tabs.setCurrentWidget(edit)
    mpp = result.slide_mpp or 1.0
    cy, cx = camera_of(viewer).center[-2:]
    x, y = cx / mpp + 0.5, cy / mpp + 0.5
    square = np.array(
        [
            [x - ROI_HALF_PX, y - ROI_HALF_PX],
            [x + ROI_HALF_PX, y - ROI_HALF_PX],
            [x + ROI_HALF_PX, y + ROI_HALF_PX],
            [x - ROI_HALF_PX, y + ROI_HALF_PX],
        ]
    )
    shown: list[int] = []
    edit.stats_shown.connect(lambda: shown.append(1))
    rois = edit.rois_layer
    assert rois is not None
    rois.add_rectangles([to_data(square)])
    wait_until(lambda: len(shown) > 0, 120, "the ROI's statistics")
    rois.selected_data = {len(rois.data) - 1}
    edit.select_shown_in_roi()
    targets = [edit.target_class.itemText(i) for i in range(edit.target_class.count())]
    edit.target_class.setCurrentIndex(_pick(targets, "lymph", "inflam"))
    before = len(shown)
    edit.assign.click()
    wait_until(lambda: len(shown) > before, 120, "the ROI's statistics after the correction")
    shot("review-edit-roi.jpg")

    widget.tabs.setCurrentWidget(table)
    wait_until(lambda: table.model is not None and table.model.rowCount() > 0, 60, "the cell table")
    shot("review-cell-table.jpg")
    widget.tabs.setCurrentWidget(review)
    return saved
