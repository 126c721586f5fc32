"""Writing output artifacts in the platform's formats (atomically, with their metadata)."""

from __future__ import annotations

import csv
import os
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import shapely

from ..platform.results_layout import artifact_file_name
from ..slides.checksum import crc32c_base64
from .base import ProducedArtifact

__all__ = [
    "write_class_csv",
    "write_geojson",
    "write_parquet",
    "write_segmentation_map",
    "write_table_csv",
]


def _finish(name: str, tmp: Path, target: Path, metadata: dict[str, Any]) -> ProducedArtifact:
    os.replace(tmp, target)
    metadata = {"checksum_base64_crc32c": crc32c_base64(target), **metadata}
    return ProducedArtifact(name, target, metadata)


def write_segmentation_map(
    folder: Path,
    name: str,
    labels: np.ndarray,
    mpp: float,
    classes: dict[str, tuple[int, int, int]],
) -> ProducedArtifact:
    """A tiled, deflate-compressed uint8 TIFF of class indices with resolution tags."""
    import tifffile

    target = folder / artifact_file_name(name, "image/tiff")
    tmp = target.with_suffix(".tmp")
    per_cm = 10_000.0 / mpp
    tifffile.imwrite(
        tmp,
        labels.astype(np.uint8),
        tile=(256, 256),
        compression="zlib",
        photometric="minisblack",
        resolution=(per_cm, per_cm),
        resolutionunit="CENTIMETER",
        metadata=None,
        description=f"class indices; {mpp:.4f} um/px",
    )
    return _finish(
        name,
        tmp,
        target,
        {
            "width_px": int(labels.shape[1]),
            "height_px": int(labels.shape[0]),
            "resolution_mpp": round(mpp, 6),
            "class_colors": {k: list(v) for k, v in classes.items()},
            "media_type": "image/tiff",
        },
    )


def write_class_csv(
    folder: Path, name: str, classes: dict[str, tuple[int, int, int]]
) -> ProducedArtifact:
    """``class_index,class_name,red,green,blue``, index 0 first."""
    target = folder / artifact_file_name(name, "text/csv")
    tmp = target.with_suffix(".tmp")
    with tmp.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["class_index", "class_name", "red", "green", "blue"])
        for index, (class_name, rgb) in enumerate(classes.items()):
            writer.writerow([index, class_name, *rgb])
    return _finish(name, tmp, target, {"media_type": "text/csv"})


def _rings(polygons: Sequence[shapely.Polygon]) -> list[list[np.ndarray]]:
    """Per polygon, its rings (exterior first) as arrays rounded to 0.01 px, all read in one call
    (orjson writes arrays as it writes lists, without a float object per coordinate)."""
    rings, owner = shapely.get_rings(np.asarray(polygons, dtype=object), return_index=True)
    coords, ring = shapely.get_coordinates(rings, return_index=True)
    coords = np.round(coords, 2)
    counts = np.bincount(ring, minlength=len(rings))
    ends = np.cumsum(counts)
    out: list[list[np.ndarray]] = [[] for _ in polygons]
    for index, start, end in zip(
        owner.tolist(), (ends - counts).tolist(), ends.tolist(), strict=True
    ):
        out[index].append(coords[start:end])
    return out


def write_geojson(
    folder: Path,
    name: str,
    polygons: Sequence[shapely.Polygon],
    classes: Sequence[str],
    colors: dict[str, tuple[int, int, int]],
    measurements: Iterable[dict[str, float]],
    *,
    object_type: str,
    polygon_mpp: float,
) -> ProducedArtifact:
    """A QuPath-style FeatureCollection in level-0 pixels."""
    target = folder / artifact_file_name(name, "application/geo+json")
    tmp = target.with_suffix(".tmp")
    random = os.urandom(16 * len(polygons))  # one read for every feature's random id
    ids = [
        str(uuid.UUID(bytes=random[16 * i : 16 * i + 16], version=4)) for i in range(len(polygons))
    ]
    features = [
        {
            "type": "Feature",
            "id": feature_id,
            "geometry": {"type": "Polygon", "coordinates": rings},
            "properties": {
                "objectType": object_type,
                "classification": {"name": class_name, "color": list(colors[class_name])},
                "measurements": values,
            },
        }
        for feature_id, rings, class_name, values in zip(
            ids, _rings(polygons), classes, measurements, strict=True
        )
    ]
    collection = {"type": "FeatureCollection", "features": features}
    tmp.write_bytes(orjson.dumps(collection, option=orjson.OPT_SERIALIZE_NUMPY))
    return _finish(
        name,
        tmp,
        target,
        {
            "polygon_mpp": polygon_mpp,
            "media_type": "application/geo+json",
            "feature_count": len(features),
        },
    )


def write_parquet(
    folder: Path, name: str, columns: dict[str, Any], *, polygon_mpp: float
) -> ProducedArtifact:
    """One row per object; ``geometry`` as WKB in level-0 pixels."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    target = folder / artifact_file_name(name, "application/vnd.apache.parquet")
    tmp = target.with_suffix(".tmp")
    table = pa.table(columns).replace_schema_metadata(
        {"polygon_mpp": str(polygon_mpp), "coordinates": "level-0 pixels"}
    )
    pq.write_table(table, tmp, compression="zstd")
    return _finish(name, tmp, target, {"media_type": "application/vnd.apache.parquet"})


def write_table_csv(
    folder: Path, name: str, preamble: str, header: Sequence[str], rows: Iterable[Sequence[Any]]
) -> ProducedArtifact:
    """A readout CSV: a preamble line, then the header and rows."""
    target = folder / artifact_file_name(name, "text/csv")
    tmp = target.with_suffix(".tmp")
    with tmp.open("w", newline="") as handle:
        handle.write(f"# {preamble}\n")
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return _finish(name, tmp, target, {"media_type": "text/csv"})
