"""The demo session: a napari viewer with a slide (Qt side)."""

from __future__ import annotations

from pathlib import Path


def run(slide: Path | None = None, auto: bool = False, screenshot: Path | None = None) -> int:
    """Open napari with ``slide`` (default: the sample slide) through the plugin's reader."""
    import napari

    viewer = napari.Viewer(title="napari-aignostics demo")
    if slide is None:
        viewer.open_sample("napari-aignostics", "he_sample_slide")
    else:
        viewer.open(str(slide), plugin="napari-aignostics")
    viewer.scale_bar.visible = True
    if screenshot is not None:
        from qtpy.QtWidgets import QApplication

        for _ in range(20):
            QApplication.processEvents()
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        viewer.screenshot(str(screenshot), canvas_only=False)
        viewer.close()
        print(f"screenshot saved to {screenshot}")
        return 0
    napari.run()
    return 0
