"""Quickstart: analyse one slide on the local platform and plot its cells per class, offline.

Starts the embedded local platform in a temporary folder, submits the real H&E sample shipped with the
package (CMU-1-Small-Region, CC0) to the built-in ``local-tme`` application, follows the run, downloads the results, loads them with ``napari_aignostics.results`` (no viewer)
and saves a bar chart of the cells per class::

    uv run --frozen python examples/quickstart.py [OUTPUT_FOLDER]
"""

from __future__ import annotations

import sys
import tempfile
from collections import Counter
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display needed
import matplotlib.pyplot as plt

from napari_aignostics.platform.client import PlatformClient
from napari_aignostics.platform.follow import ItemFailed, ItemFinished, RunFinished, follow_run
from napari_aignostics.platform.submit import submit_slides
from napari_aignostics.results.result_set import load_results
from napari_aignostics.server.embedded import LocalPlatform
from napari_aignostics.slides.metadata import slide_metadata
from napari_aignostics.slides.sample import real_sample_path

APPLICATION = "local-tme"


def pick_slide() -> Path:
    """The real H&E sample shipped with the package (CMU-1-Small-Region, CC0 OpenSlide test data)."""
    return real_sample_path()


def main(out: Path) -> dict[str, int]:
    """Run the whole loop; write ``cells_per_class.png`` into ``out``; the counts per class."""
    slide = pick_slide()
    print(f"slide: {slide.name}")
    meta = slide_metadata(slide)
    with (
        LocalPlatform(data_dir=out / "platform") as platform,
        PlatformClient(platform.api_root, platform.token) as client,
    ):
        schema = client.application_version(APPLICATION).input_artifacts[0].metadata_schema
        known = set(schema.get("properties", {}))
        inputs = {k: v for k, v in meta.as_artifact_metadata().items() if k in known}
        inputs |= {"staining_method": "H&E", "specimen": {"disease": "LUNG_CANCER"}}
        run_id = submit_slides(client, APPLICATION, None, [(slide, inputs)], note="quickstart")
        print(f"submitted run {run_id}")
        folder: Path | None = None
        for event in follow_run(client, run_id, out / "results", interval=1.0):
            if isinstance(event, ItemFinished):
                folder = event.folder
            elif isinstance(event, ItemFailed):
                raise RuntimeError(f"{event.item.external_id} failed: {event.item.error_message}")
            elif isinstance(event, RunFinished):
                print(f"run {run_id}: {event.run.state.value}")
    if folder is None:
        raise RuntimeError(f"run {run_id} ended without results")

    result = load_results(folder, meta.resolution_mpp, (meta.width_px, meta.height_px))
    if result.cells is None:
        raise RuntimeError(f"no cells in {folder}: {result.problems}")
    counts = dict(Counter(str(c) for c in result.cells.classes).most_common())
    print(f"{len(result.cells)} cells: {counts}")

    fig, ax = plt.subplots(figsize=(6, 3.5))
    colors = [tuple(v / 255 for v in result.cells.colors.get(c, (128, 128, 128))) for c in counts]
    ax.bar(list(counts), list(counts.values()), color=colors)
    ax.set_ylabel("cells")
    ax.set_title(f"{APPLICATION} on {slide.name}")
    ax.tick_params(axis="x", rotation=30)
    fig.tight_layout()
    fig.savefig(out / "cells_per_class.png", dpi=100)
    plt.close(fig)
    print(f"plot: {out / 'cells_per_class.png'}")
    return counts


if __name__ == "__main__":
    if len(sys.argv) > 1:
        target = Path(sys.argv[1])
        target.mkdir(parents=True, exist_ok=True)
        main(target)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            main(Path(tmp))
