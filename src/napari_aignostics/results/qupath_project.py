"""A QuPath project folder for a cohort: ``project.qpproj``, GeoJSON objects per image, an import script.

Layout (as QuPath's ``DefaultProject`` reads it)::

    <dir>/project.qpproj                    version, timestamps, uri, lastID, images[]
    <dir>/data/<entryID>/server.json        the image's server builder (as QuPath caches it)
    <dir>/objects/<entryID>/cells.geojson   detections (cells), level-0 pixels
    <dir>/objects/<entryID>/regions.geojson annotations (tissue regions)
    <dir>/scripts/import_aignostics_objects.groovy

Each image entry has ``serverBuilder`` (``builderType: "uri"``, the subtype QuPath registers for its
default server builder, with ``providerClassName``, the slide's file URI and ``args``), ``entryID``, ``randomizedName``, ``imageName``, ``description`` and string
``metadata`` (run id, item id, application, state, phenotype). QuPath keeps objects in Java-serialized
``data.qpdata`` files that cannot be written faithfully without QuPath: the objects ship as GeoJSON,
and *Automate → Project scripts → import_aignostics_objects* run *for project* imports them.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from ..platform.results_layout import ArtifactMetadata
from ..slides.reader import open_slide
from ..slides.slide_errors import SlideError
from .cohort import CohortTable
from .export import export_geojson
from .result_set import load_results

__all__ = ["QUPATH_VERSION", "ProjectImage", "write_qupath_project"]

QUPATH_VERSION = "0.5.1"
PROVIDER = "qupath.lib.images.servers.openslide.OpenslideServerBuilder"
SCRIPT_NAME = "import_aignostics_objects.groovy"
IMPORT_SCRIPT = """// Imports the Aignostics results shipped with this project as GeoJSON.
// Run it with Automate > Project scripts > import_aignostics_objects, then "Run for project".
import qupath.lib.io.PathIO

def folder = getProjectEntry().getMetadataValue('aignostics_objects')
if (folder == null) {
    println 'no Aignostics objects for this image'
    return
}
def base = new File(buildFilePath(PROJECT_BASE_DIR, folder))
['regions.geojson', 'cells.geojson'].each { name ->
    def file = new File(base, name)
    if (file.exists()) {
        def objects = PathIO.readObjects(file)
        addObjects(objects)
        println "${getProjectEntry().getImageName()}: ${objects.size()} objects from ${name}"
    }
}
fireHierarchyUpdate()
"""


@dataclass(frozen=True)
class ProjectImage:
    """What was written for one slide."""

    entry_id: int
    name: str
    cells: int
    regions: int


def _write_json(path: Path, value: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(value, handle, indent=2)
    os.replace(tmp, path)


def _objects(
    folder: Path, item_dir: Path | None, slide: Path | None, meta: dict[str, ArtifactMetadata]
) -> tuple[int, int]:
    if item_dir is None:
        return 0, 0
    mpp = size = None
    if slide is not None:
        try:
            with open_slide(slide) as opened:
                mpp, size = opened.mpp, (opened.width, opened.height)
        except SlideError:
            pass
    result = load_results(item_dir, mpp, size, metadata=meta)
    cells = regions = 0
    if result.cells is not None:
        export_geojson(result.cells, folder / "cells.geojson")
        cells = len(result.cells)
    for name, table in result.regions:
        if name.startswith("tissue_segmentation"):
            export_geojson(table, folder / "regions.geojson", object_type="annotation")
            regions = len(table)
    return cells, regions


def write_qupath_project(table: CohortTable, target: Path) -> list[ProjectImage]:
    """Write a QuPath project for every slide of the cohort into ``target`` (made if missing)."""
    target.mkdir(parents=True, exist_ok=True)
    project_file = target / "project.qpproj"
    now = int(time.time() * 1000)
    images, written = [], []
    for entry_id, row in enumerate(table.rows, start=1):
        slide = Path(row.external_id).expanduser().absolute()
        objects_dir = target / "objects" / str(entry_id)
        cells, regions = _objects(objects_dir, row.folder, row.slide_path, row.artifacts)
        builder = {
            "builderType": "uri",
            "providerClassName": PROVIDER,
            "uri": slide.as_uri(),
            "args": [],
        }
        metadata = {
            "aignostics_run_id": table.run_id,
            "aignostics_item": row.external_id,
            "aignostics_application": f"{table.application_id}:{table.version_number}",
            "aignostics_state": row.state,
            "aignostics_phenotype": str(table.phenotype(row)),
            "aignostics_objects": f"objects/{entry_id}",
        }
        images.append(
            {
                "serverBuilder": builder,
                "entryID": entry_id,
                "randomizedName": str(uuid.uuid4()),
                "imageName": row.name,
                "metadata": metadata,
            }
        )
        if row.message:
            images[-1]["description"] = row.message
        _write_json(target / "data" / str(entry_id) / "server.json", builder)
        written.append(ProjectImage(entry_id, row.name, cells, regions))
    scripts = target / "scripts"
    scripts.mkdir(exist_ok=True)
    (scripts / SCRIPT_NAME).write_text(IMPORT_SCRIPT, encoding="utf-8")
    _write_json(
        project_file,
        {
            "version": QUPATH_VERSION,
            "createTimestamp": now,
            "modifyTimestamp": now,
            "uri": project_file.absolute().as_uri(),
            "lastID": len(images),
            "images": images,
        },
    )
    return written
