"""Results at scale: N he-tme-shaped cells over a 100000 x 80000 slide.

Core (no viewer), each side in a fresh process:
- time to the first overview frame (read the cell file as the plugin's loader does, which gives
  a big file's first batch as an overview first, and draw its coarsest raster chunk; the whole
  load is printed beside it) vs reading the file + ``orjson.loads`` with the garbage collector off, in a fresh
  process (goal <= 1.0x; the collector-on figure is printed beside it), and its peak memory
  (goal <= 2 GB at 1M cells);
- in-view outline query at level 0 (goal < 100 ms).
Ours vs a naive Shapes layer of the same polygons parsed with orjson (goal >= 50x faster at
100k; the naive side runs only up to 100k cells), each side in a fresh process that has already
made a small layer of each kind (and read a small result file), as in a napari session:
- layers: the file to napari layer objects (ours: cell file → overview Labels, Points and the
  outline Shapes, coarsest chunk drawn; naive: ``Shapes(polygons)``), no viewer;
- viewer (under Xvfb when there is no display): the file to the first drawn frame (ours:
  ``viewer.open`` with this plugin's reader; naive: ``viewer.add_shapes``).
``--cells N`` (default 100000; 1000000 for the full size); ``--no-viewer`` skips the viewer part.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from child_process import run_child
from coldstart import compile_installed
from napari_aignostics.results.result_layers import shapes_data
from napari_aignostics.results.result_set import load_results

CLASSES = {"EPITHELIAL": [220, 50, 50], "LYMPHOCYTE": [40, 90, 230], "FIBROBLAST": [60, 170, 80],
           "OTHER": [230, 170, 30]}
NAIVE_MAX = 100_000


def make_geojson(path: Path, n: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    centers = rng.uniform([500, 500], [99500, 79500], size=(n, 2))
    angles = np.linspace(0, 2 * np.pi, 13)[:-1]
    names = list(CLASSES)
    features = []
    for i, (cx, cy) in enumerate(centers):
        r = rng.uniform(3, 7)
        ring = np.column_stack([cx + r * np.cos(angles), cy + r * np.sin(angles)]).round(1).tolist()
        ring.append(ring[0])
        name = names[i % 4]
        features.append({"type": "Feature", "id": str(uuid.UUID(int=i)),
                         "geometry": {"type": "Polygon", "coordinates": [ring]},
                         "properties": {"objectType": "detection",
                                        "classification": {"name": name, "color": CLASSES[name]},
                                        "measurements": {"area_um2": r * r * 3.14 * 0.0625,
                                                         "confidence": 0.5 + (i % 50) / 100}}})
    path.write_bytes(orjson.dumps({"type": "FeatureCollection", "features": features}))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cells", type=int, default=100_000)
    parser.add_argument("--no-viewer", action="store_true", help="skip the napari viewer part")
    parser.add_argument("--core", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--viewer-run", nargs=2, metavar=("KIND", "FILE"), help=argparse.SUPPRESS)
    parser.add_argument("--layers-run", nargs=2, metavar=("KIND", "FILE"), help=argparse.SUPPRESS)
    parser.add_argument("--orjson-run", nargs=2, metavar=("GC", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.orjson_run:
        return _print({"seconds": _orjson(Path(args.orjson_run[1]), args.orjson_run[0] == "on")})
    if args.core:
        return _print(_core(args.core))
    if args.viewer_run:
        return _print(_viewer_run(args.viewer_run[0], Path(args.viewer_run[1])))
    if args.layers_run:
        return _print(_layers_run(args.layers_run[0], Path(args.layers_run[1])))
    compile_installed()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cell_classification_geojson_polygons.json"
        make_geojson(path, args.cells)
        size_mb = path.stat().st_size / 1e6
        core = _child(["--core", str(path)])
        baseline = _child(["--orjson-run", "on", str(path)])["seconds"]
        baseline_nogc = _child(["--orjson-run", "off", str(path)])["seconds"]
        query = _in_view(path)
        layers = {"ours": _child(["--layers-run", "ours", str(path)])}
        if args.cells <= NAIVE_MAX:
            layers["naive"] = _child(["--layers-run", "naive", str(path)])
        viewer: dict[str, Any] = {}
        if not args.no_viewer:
            viewer["ours"] = _child(["--viewer-run", "ours", str(path)], display=True)
            if args.cells <= NAIVE_MAX:
                viewer["naive"] = _child(["--viewer-run", "naive", str(path)], display=True)
    first = core["seconds"]
    print(f"{args.cells} cells, {size_mb:.0f} MB GeoJSON")
    ratio = first / baseline_nogc
    print(f"first overview frame (core, fresh process): {first:.2f} s; read + orjson.loads with "
          f"the collector off, fresh process: {baseline_nogc:.2f} s -> {ratio:.2f}x (goal <= "
          f"1.0x) {'ok' if ratio <= 1.0 else 'MISS'}; with the collector on: {baseline:.2f} s")
    print(f"whole load (every batch, layer data, coarsest chunk): {core['whole']:.2f} s -> "
          f"{core['whole'] / baseline_nogc:.2f}x")
    print(f"peak RSS of that process: {core['peak_mb']:.0f} MB (goal <= 2048 MB at 1M cells)")
    print(f"in-view outlines (1500 x 1000 px view): median {np.median(query) * 1000:.1f} ms, "
          f"max {max(query) * 1000:.1f} ms (goal < 100 ms)")
    ours = layers["ours"]
    ours_layers = ours["seconds"] - ours["parse"]
    print(f"layers (no viewer), file -> napari layers: ours {ours['seconds']:.2f} s (reading "
          f"{ours['parse']:.2f} s, layers {ours_layers:.2f} s; peak RSS {ours['peak_mb']:.0f} MB "
          "incl. napari)")
    if "naive" in layers:
        naive = layers["naive"]
        naive_layer = naive["seconds"] - naive["parse"]
        print(f"naive Shapes layer: {naive['seconds']:.1f} s (parse {naive['parse']:.1f} s, layer "
              f"{naive_layer:.1f} s; peak RSS {naive['peak_mb']:.0f} MB); speed-up file to "
              f"layers {naive['seconds'] / ours['seconds']:.0f}x; layers from parsed polygons "
              f"{naive_layer / ours_layers:.0f}x (goal >= 50x at 100k)")
    if "ours" in viewer:
        ours = viewer["ours"]
        print(f"napari viewer, file -> first drawn frame: ours {ours['seconds']:.2f} s "
              f"(peak RSS {ours['peak_mb']:.0f} MB incl. napari)")
    if "naive" in viewer:
        naive = viewer["naive"]
        print(f"naive add_shapes: {naive['seconds']:.1f} s (parse {naive['parse']:.1f} s, layer "
              f"and draw {naive['seconds'] - naive['parse']:.1f} s; peak RSS "
              f"{naive['peak_mb']:.0f} MB); speed-up {naive['seconds'] / ours['seconds']:.0f}x "
              "(goal >= 50x at 100k)")
    return 0


def _peak_mb() -> float:
    """This process's peak resident memory (``VmHWM``: unlike ``ru_maxrss``, not inherited from
    the parent that started it)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _print(result: dict[str, Any]) -> int:
    result["peak_mb"] = _peak_mb()
    print(json.dumps(result))
    return 0


def _child(argv: list[str], display: bool = False) -> dict[str, Any]:
    """Run this script in a fresh process (under Xvfb for the viewer when there is no display)."""
    return run_child(__file__, argv, display=display)


def _core(path: Path) -> dict[str, Any]:
    """Read the cell file as the plugin's loader does and draw the coarsest chunk of the first
    overview it gives (a big file: its first batch); the whole load (layer data too) beside.

    pandas is imported first, as napari has it loaded before any plugin reads a file.
    """
    import pandas  # noqa: F401

    from bench_cells import time_first_and_whole

    return time_first_and_whole(path)



def _in_view(path: Path) -> list[float]:
    result = load_results(path)
    assert result.cells is not None and result.review is not None
    times = []
    for k in range(20):
        x, y = 10_000 + k * 3000, 10_000 + k * 2000
        t = time.perf_counter()
        shapes_data(result.cells, result.review.in_view((x, y, x + 1500, y + 1000)))
        times.append(time.perf_counter() - t)
    return times


def _orjson(path: Path, gc_on: bool) -> float:
    """Seconds to read the file and ``orjson.loads`` it (the collector left on, or paused)."""
    import gc

    gc.collect()
    if not gc_on:
        gc.disable()
    try:
        start = time.perf_counter()
        orjson.loads(path.read_bytes())
        return time.perf_counter() - start
    finally:
        gc.enable()


def _naive_rings(path: Path) -> list[np.ndarray]:
    """What a script without this plugin does: parse the file, take each exterior ring (y, x)."""
    features = orjson.loads(path.read_bytes())["features"]
    return [np.asarray(f["geometry"]["coordinates"][0])[:-1, ::-1] for f in features]


def _warm_up_reader(tmp: Path) -> Path:
    small = tmp / "cell_classification_geojson_polygons.json"
    make_geojson(small, 200, seed=1)
    return small


def _layers_run(kind: str, path: Path) -> dict[str, Any]:
    """File → napari layer objects, after making a small layer of each kind (no viewer)."""
    from napari.layers import Labels, Layer, Points, Shapes

    Shapes([np.array([[0.0, 0.0], [0.0, 10.0], [10.0, 10.0]])], shape_type="polygon")
    Points(np.zeros((3, 2)))
    Labels(np.zeros((8, 8), dtype=np.uint8))
    with tempfile.TemporaryDirectory() as tmp:
        _layers_of(load_results(_warm_up_reader(Path(tmp))), Layer)
    out: dict[str, Any] = {}
    start = time.perf_counter()
    if kind == "naive":
        rings = _naive_rings(path)
        out["parse"] = time.perf_counter() - start
        Shapes(rings, shape_type="polygon")
    else:
        result = load_results(path)
        out["parse"] = time.perf_counter() - start
        _layers_of(result, Layer)
    out["seconds"] = time.perf_counter() - start
    return out


def _layers_of(result: Any, layer_class: Any) -> list[Any]:
    """Layer objects of a result set, with the coarsest overview chunk drawn."""
    data = result.layer_data()
    coarse = data[0][0][-1]
    np.asarray(coarse[: min(1024, coarse.shape[0]), : min(1024, coarse.shape[1])])
    return [layer_class.create(d, kwargs, kind) for d, kwargs, kind in data]


def _viewer_run(kind: str, path: Path) -> dict[str, Any]:
    """File → first drawn frame in a napari viewer that already showed a layer of each kind."""
    import napari
    from qtpy.QtWidgets import QApplication

    viewer = napari.Viewer(show=True)
    viewer.add_shapes([np.array([[0.0, 0.0], [0.0, 10.0], [10.0, 10.0]])], shape_type="polygon")
    viewer.add_points(np.zeros((3, 2)))
    viewer.add_labels(np.zeros((8, 8), dtype=np.uint8))
    with tempfile.TemporaryDirectory() as tmp:
        viewer.open(str(_warm_up_reader(Path(tmp))), plugin="napari-aignostics")
    viewer.screenshot(canvas_only=True)
    viewer.layers.clear()
    QApplication.processEvents()
    out: dict[str, Any] = {}
    start = time.perf_counter()
    if kind == "naive":
        rings = _naive_rings(path)
        out["parse"] = time.perf_counter() - start
        viewer.add_shapes(rings, shape_type="polygon")
    else:
        viewer.open(str(path), plugin="napari-aignostics")
    viewer.screenshot(canvas_only=True)
    out["seconds"] = time.perf_counter() - start
    out["layers"] = [layer.name for layer in viewer.layers]
    viewer.close()
    return out


if __name__ == "__main__":
    sys.exit(main())
