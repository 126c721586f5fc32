"""Cohorts at scale: a generated run of 200 items (``cohortgen``: slide and cell readouts).

Core (no viewer):
- table fill: the results folder to a :class:`CohortTable` (manifest, every slide readout CSV,
  cell counts) vs a bare ``csv.reader`` pass over the same slide readout files (goal < 2 s);
- sorting by a readout column, and the Qt model's sort (goal < 100 ms).
Viewer (a fresh process, under Xvfb when there is no display), ``--visits N`` slides (default 50),
each a copy of CMU-1-Small-Region with real local-tme results:
- open from the table (the previous slide's layers closed) to the results drawn (median over the
  visits after the first) vs opening such a slide with its results alone through the results loader
  in a viewer without a cohort (median of 3 after one warm-up slide) (goal <= 1.25x);
- RSS after visiting 1, 10 and N slides (goal: after N within 10 % of after 10); the slides are
  opened while Qt's event loop runs, as in napari, since napari lets go of a removed layer's
  controls (and through them the layer) from the event loop.
``--no-viewer`` skips the viewer part.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from statistics import median
from typing import Any

import cohortgen
from child_process import run_child
from napari_aignostics.results.cohort import CohortTable

ALONE = 3
"""Slides opened alone (each in a viewer emptied first); their median is the baseline."""
HERE = Path(__file__).resolve().parent
CMU = HERE.parent.parent / "shared" / "test_data" / "wsi" / "CMU-1-Small-Region.svs"


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def _rss_mb() -> float:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def core(items: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        run = cohortgen.write_cohort(Path(tmp), items, cells=2000)
        fills, baselines = [], []
        for _ in range(3):
            start = time.perf_counter()
            table = CohortTable.from_folder(run)
            fills.append(time.perf_counter() - start)
            start = time.perf_counter()
            for path in sorted(run.glob("*/readout_generation_slide_readouts.csv")):
                with path.open(newline="") as handle:
                    handle.readline()
                    list(csv.reader(handle))
            baselines.append(time.perf_counter() - start)
        fill, base = median(fills), median(baselines)
        print(
            f"table fill, {items} items: {fill:.3f} s (bare csv.reader of the slide readouts "
            f"{base:.3f} s, {fill / base:.1f}x) goal < 2 s: {_verdict(fill < 2.0)}"
        )
        column = "CELL_DENSITY_LYMPHOCYTE_CARCINOMA"
        sorts = []
        for descending in (False, True, False):
            start = time.perf_counter()
            table.sorted_indices(column, descending)
            sorts.append(time.perf_counter() - start)
        values = [v for v in table.numbers(column) if v is not None]
        start = time.perf_counter()
        sorted(values)
        plain = time.perf_counter() - start
        took = median(sorts)
        print(
            f"sort by {column}: {took * 1000:.2f} ms (sorted() of the floats {plain * 1000:.3f} "
            f"ms) goal < 100 ms: {_verdict(took < 0.1)}"
        )


def _make_visits(root: Path, visits: int) -> Path:
    """A run folder of ``visits`` items: CMU copies (symlinks) with one real local-tme result each."""
    from napari_aignostics.apps.base import AnalysisContext
    from napari_aignostics.apps.builtin import LOCAL_TME

    (root / "analysis").mkdir()
    produced = LOCAL_TME.versions[0].run(AnalysisContext(CMU, {}, root / "analysis"))
    run = root / "results" / "run-visits"
    (root / "slides").mkdir(parents=True)
    items = []
    for k in range(visits + ALONE):  # the last ones are opened alone
        name = f"slide-{k:03d}"
        slide = root / "slides" / f"{name}.svs"
        slide.symlink_to(CMU)
        (run / name).mkdir(parents=True)
        for artifact in produced:
            (run / name / artifact.path.name).symlink_to(artifact.path)
        items.append(
            {
                "external_id": str(slide),
                "folder": name,
                "state": "TERMINATED",
                "termination_reason": "SUCCEEDED",
                "error_message": None,
                "artifacts": [
                    {
                        "name": a.name,
                        "file": f"{name}/{a.path.name}",
                        "media_type": a.metadata["media_type"],
                        "checksum_base64_crc32c": a.metadata["checksum_base64_crc32c"],
                        "metadata": a.metadata,
                    }
                    for a in produced
                ],
            }
        )
    (run / "manifest.json").write_text(
        json.dumps(
            {
                "run_id": "run-visits",
                "application_id": "local-tme",
                "version_number": "1.2.0",
                "state": "TERMINATED",
                "items": items,
            }
        )
    )
    return run


def _viewer_child(run: Path, mode: str, visits: int) -> dict[str, Any]:
    """In a fresh process: open slides through the Cohort tab (or one alone), timing each."""
    import napari
    from napari.utils import resize_dask_cache
    from qtpy.QtCore import QEventLoop, QTimer
    from qtpy.QtWidgets import QApplication

    from napari_aignostics.widgets.dock import AignosticsWidget
    from napari_aignostics.workflow.session import Session

    viewer = napari.Viewer(show=True)
    session = Session(local_data_dir=run.parent / "platform")
    widget = AignosticsWidget(viewer, session)
    viewer.window.add_dock_widget(widget)
    app = QApplication.instance()
    assert app is not None
    table = CohortTable.from_folder(run)
    done: set[str] = set()
    widget.loader.item_loaded.connect(lambda _run, external: done.add(external))

    def open_and_wait(index: int) -> float:
        """Open a slide and run Qt's event loop (as napari does) until its results are drawn.

        A running event loop matters: napari deletes a removed layer's controls later, from the
        loop, and only then lets go of the layer.
        """
        row = table.rows[index]
        start = time.perf_counter()
        if mode == "alone":
            assert row.folder is not None
            widget.loader.load_item(table.run_id, row.external_id, row.folder, row.artifacts)
        else:
            widget.cohort.open_row(index)
        while row.external_id not in done:
            loop = QEventLoop()
            QTimer.singleShot(5, loop.quit)
            loop.exec()
            if time.perf_counter() - start > 300:
                raise SystemExit(f"{row.name}: its results were not shown within 300 s")
        viewer.window._qt_viewer.canvas._scene_canvas.render()  # the first drawn frame
        return time.perf_counter() - start

    if mode == "alone":  # warmed up by one slide like the table's median, then fresh ones
        open_and_wait(0)
        alone = []
        for index in range(len(table.rows) - ALONE, len(table.rows)):
            viewer.layers.clear()
            app.processEvents()
            alone.append(open_and_wait(index))
        widget.shutdown()
        viewer.close()
        return {"seconds": median(alone)}
    widget.cohort.show_table(table)
    times, rss, cached = [], {}, {}
    for k in range(visits):
        times.append(open_and_wait(k))
        if k + 1 in (1, 10, visits):
            app.processEvents()
            rss[k + 1] = _rss_mb()
            cached[k + 1] = resize_dask_cache().cache.total_bytes / 2**20
    layers = len(viewer.layers)
    widget.shutdown()
    viewer.close()
    return {
        "seconds": median(times[1:]) if len(times) > 1 else times[0],
        "rss": rss,
        "cached": cached,
        "layers": layers,
    }


def _child(argv: list[str]) -> dict[str, Any]:
    return run_child(__file__, argv)


def viewer(visits: int) -> None:
    if not CMU.is_file():
        print(f"viewer part skipped: {CMU.name} not found next to the repository")
        return
    with tempfile.TemporaryDirectory() as tmp:
        run = _make_visits(Path(tmp), visits)
        alone = _child(["--child", str(run), "alone", str(visits)])
        table = _child(["--child", str(run), "table", str(visits)])
    ratio = table["seconds"] / alone["seconds"]
    print(
        f"open from the table to the results drawn: {table['seconds']:.2f} s (median of "
        f"{visits} visits) vs alone {alone['seconds']:.2f} s: {ratio:.2f}x goal <= 1.25x: "
        f"{_verdict(ratio <= 1.25)}"
    )
    rss = {int(k): v for k, v in table["rss"].items()}
    steps = sorted(rss)
    flat = rss[steps[-1]] <= rss[steps[min(1, len(steps) - 1)]] * 1.10
    cached = {int(k): v for k, v in table["cached"].items()}
    print(
        "RSS after visiting "
        + ", ".join(f"{k}: {rss[k]:.0f} MB" for k in steps)
        + f" ({table['layers']} layers open at the end) goal flat within 10 %: "
        f"{_verdict(flat)}"
    )
    print(
        "napari's dask cache after visiting "
        + ", ".join(f"{k}: {cached[k]:.0f} MB" for k in steps)
        + " (the slide shown's chunks)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument("--visits", type=int, default=50)
    parser.add_argument("--no-viewer", action="store_true")
    parser.add_argument("--child", nargs=3, metavar=("RUN", "MODE", "VISITS"))
    args = parser.parse_args()
    if args.child:
        run, mode, visits = args.child
        print(json.dumps(_viewer_child(Path(run), mode, int(visits))))
        return 0
    core(args.items)
    if not args.no_viewer:
        viewer(args.visits)
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"load average (1, 5, 15 min) at the end: {load} on {os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
