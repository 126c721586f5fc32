"""The demo: napari with a slide, the Aignostics dock widget on the local platform, optionally unattended."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .camera import camera_of

if TYPE_CHECKING:
    from napari.viewer import Viewer

    from .dock import AignosticsWidget

DEMO_APPLICATION = "local-tme"
DEMO_FORM = {"specimen.disease": "OTHER", "specimen.tissue": "SKIN"}
"""CMU-1-Small-Region is skin."""
DEMO_FORM_LARGE = {"specimen.disease": "COLORECTAL_CANCER", "specimen.tissue": "COLON"}
"""The large synthetic slide is made from colonic glands."""


class DemoError(RuntimeError):
    """A step of the unattended demo did not complete."""


def wait_until(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    """Process Qt events until ``condition()`` is truthy; raise :class:`DemoError` after ``timeout``."""
    from qtpy.QtWidgets import QApplication

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        QApplication.processEvents()
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise DemoError(f"timed out after {timeout:.0f} s waiting for {what}")


def pump(seconds: float) -> None:
    """Process Qt events for ``seconds`` (lets workers report and the canvas draw)."""
    from qtpy.QtWidgets import QApplication

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        QApplication.processEvents()
        time.sleep(0.02)


def open_demo_viewer(
    slide: Path | None = None, large: bool = False
) -> tuple[Viewer, AignosticsWidget]:
    """A viewer with the slide (default: the real H&E sample; ``large``: the big synthetic one)
    and the dock widget, connected locally."""
    import napari

    from ..slides.sample import real_sample_path
    from .slide_opener import open_slide_in

    viewer = napari.Viewer(title="napari-aignostics demo")
    viewer.window.resize(1600, 1000)
    viewer.scale_bar.position = "bottom_left"  # notifications stack at the bottom right
    opened: list[object] = []
    if large:  # generated on first use by the sample contribution (with its progress)
        viewer.open_sample("napari-aignostics", "he_sample_slide")
        opened.append(True)
    else:  # opens in a worker while the dock comes up
        open_slide_in(viewer, slide or real_sample_path(), then=opened.append)
    _, widget = viewer.window.add_plugin_dock_widget("napari-aignostics", "Aignostics")
    wait_until(widget.is_ready, 120, "the dock's panels")
    widget.connection.local_radio.setChecked(True)
    widget.connection.connect_now()
    if wait_until(lambda: opened, 300, "the slide to open")[0] is None:
        raise DemoError(f"the slide {slide or real_sample_path()} could not be opened")
    return viewer, widget


def prepare_submission(widget: AignosticsWidget, form: dict[str, str] | None = None) -> None:
    """Connect, pick the local TME application, fill its form and add the open slide: one click left."""
    panel = widget.submit_panel
    wait_until(lambda: widget.session.info is not None, 120, "the local platform to start")
    wait_until(lambda: panel.application.count() > 0, 60, "the applications list")
    if not panel.select_application(DEMO_APPLICATION):
        raise DemoError(f"the local platform does not offer {DEMO_APPLICATION!r}")
    wait_until(
        lambda: (
            panel.version_details is not None
            and panel.application.currentData().application_id == DEMO_APPLICATION
            and panel.schema
        ),
        60,
        "the application version",
    )
    for key, value in (form or DEMO_FORM).items():
        if key in panel.editors:
            panel.set_form_value(key, value)
    if not panel.rows:
        panel.add_selected_layer()


def submit_and_wait(
    widget: AignosticsWidget, timeout: float = 900.0, form: dict[str, str] | None = None
) -> str:
    """Submit the prepared slide and wait until the run ended and its results are loaded."""
    panel = widget.submit_panel
    prepare_submission(widget, form)
    wait_until(
        lambda: panel.submit_button.isEnabled(), 300, "the slide's checksum and a valid form"
    )
    finished: dict[str, str] = {}
    widget.run_finished.connect(lambda run_id, label: finished.setdefault(run_id, label))
    submitted: list[str] = []
    panel.submitted.connect(lambda run_id, _slides: submitted.append(run_id))
    panel.submit_button.click()
    run_id = wait_until(lambda: submitted and submitted[0], 300, "the upload and submission")
    label = wait_until(
        lambda: finished.get(run_id), timeout, f"run {run_id} to finish and its results to load"
    )
    if label != "completed":
        raise DemoError(f"run {run_id} ended {label}")
    return str(run_id)


def frame_results(viewer: Viewer, widget: AignosticsWidget) -> None:
    """Show the Review tab and zoom to where the cells are dense, so outlines are drawn."""
    import numpy as np

    widget.tabs.setCurrentWidget(widget.review)
    review, result = widget.review.review, widget.review.result
    if review is None or result is None or not len(review.table):
        return
    mpp = result.slide_mpp or 1.0
    xy = review.table.centroids
    counts, xs, ys = np.histogram2d(xy[:, 0], xy[:, 1], bins=16)
    i, j = np.unravel_index(int(np.argmax(counts)), counts.shape)
    x, y = (xs[i] + xs[i + 1]) / 2, (ys[j] + ys[j + 1]) / 2
    camera = camera_of(viewer)
    camera.center = ((y - 0.5) * mpp, (x - 0.5) * mpp)
    camera.zoom = 900 / (1600 * mpp)  # ~1600 level-0 px across the canvas
    for layer in viewer.layers:
        if layer.metadata.get("artifact", "").startswith("tissue_segmentation_segmentation_map"):
            layer.opacity = 0.25
    pump(2.0)
    outlines = widget.review.outlines
    deadline = time.monotonic() + 10
    while (
        time.monotonic() < deadline
        and outlines is not None
        and not outlines.metadata.get("cells_drawn")
    ):
        pump(0.1)


def save_tab_screenshots(viewer: Viewer, widget: AignosticsWidget, folder: Path) -> list[Path]:
    """One JPEG of the whole window per dock tab (``tab-connect.jpg`` ...), for the user guide."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    saved = []
    current = widget.tabs.currentIndex()
    for index in range(widget.tabs.count()):
        widget.tabs.setCurrentIndex(index)
        if widget.tabs.widget(index) is widget.runs and widget.runs.runs:
            widget.runs.table.selectRow(0)
        pump(1.0)
        name = widget.tabs.tabText(index).lower()
        image = viewer.screenshot(canvas_only=False, flash=False)
        target = folder / f"tab-{name}.jpg"
        Image.fromarray(image[..., :3]).save(target, quality=82)
        saved.append(target)
        print(f"screenshot saved to {target}")
    widget.tabs.setCurrentIndex(current)
    return saved


def run(
    slide: Path | None = None,
    auto: bool = False,
    screenshot: Path | None = None,
    large: bool = False,
    tabs_dir: Path | None = None,
    review_dir: Path | None = None,
) -> int:
    """Run the demo; unattended with ``auto``; save ``screenshot`` (and, with ``tabs_dir``, one
    JPEG of the window per dock tab) and exit when given."""
    import napari

    try:
        viewer, widget = open_demo_viewer(slide, large)
    except DemoError as error:
        print(f"demo failed: {error}")
        return 1
    try:
        if auto:
            submit_and_wait(widget, form=DEMO_FORM_LARGE if large else DEMO_FORM)
            frame_results(viewer, widget)
        else:
            prepare_submission(widget, DEMO_FORM_LARGE if large else DEMO_FORM)
        if screenshot is not None:
            pump(1.0)
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            viewer.screenshot(str(screenshot), canvas_only=False, flash=False)
            print(f"screenshot saved to {screenshot}")
            if tabs_dir is not None:
                save_tab_screenshots(viewer, widget, tabs_dir)
            if review_dir is not None:
                from .review_walk import save_review_screenshots

                save_review_screenshots(viewer, widget, review_dir)
            return 0
    except DemoError as error:
        print(f"demo failed: {error}")
        return 1
    finally:
        if screenshot is not None:
            widget.shutdown()
            viewer.close()
    napari.run()
    return 0
