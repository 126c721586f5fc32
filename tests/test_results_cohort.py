"""Cohorts: the table from a results folder, the phenotype rule, CSV and HTML export, the QuPath
project; a real multi-item run on the local platform end to end through the CLI."""

from __future__ import annotations

import csv
import importlib.util
import json
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from napari_aignostics.cli import main
from napari_aignostics.platform import models as m
from napari_aignostics.results.cohort import CohortTable, find_run_folder, read_item_readouts
from napari_aignostics.results.cohort_figures import read_cell_points
from napari_aignostics.results.cohort_report import render_report
from napari_aignostics.results.phenotype import Phenotype, PhenotypeRule
from napari_aignostics.results.qupath_project import write_qupath_project
from napari_aignostics.results.readouts import count_rows, find_readouts, read_readout

REPO = Path(__file__).resolve().parents[1]


def _cohortgen():  # the benchmark's generator, one copy for both
    spec = importlib.util.spec_from_file_location("cohortgen", REPO / "benchmarks" / "cohortgen.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def cohort(tmp_path: Path) -> Path:
    return _cohortgen().write_cohort(tmp_path / "results", 12, cells=50)


# --- phenotype ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("carcinoma", "stroma", "expected"),
    [
        (100.0, 0.0, Phenotype.INFLAMED),  # at the carcinoma threshold: reaches it
        (99.99, 50.0, Phenotype.EXCLUDED),  # just below it, stroma at its threshold
        (99.99, 49.99, Phenotype.DESERT),  # both just below
        (500.0, 500.0, Phenotype.INFLAMED),
        (None, 80.0, Phenotype.UNKNOWN),
    ],
)
def test_phenotype_follows_its_rule_at_the_edges(
    carcinoma: float | None, stroma: float | None, expected: Phenotype
) -> None:
    assert PhenotypeRule(100.0, 50.0).classify(carcinoma, stroma) == expected


def test_phenotype_finds_he_tme_and_local_column_names() -> None:
    rule = PhenotypeRule(10.0, 10.0, measure="percentage")
    he_tme = {"CELL_PERCENTAGE_LYMPHOCYTE_IN_CARCINOMA": 12.0,
              "CELL_PERCENTAGE_LYMPHOCYTE_IN_STROMA": 1.0}
    local = {"CELL_DENSITY_LYMPHOCYTE_CELL_DENSE": 5.0, "CELL_DENSITY_LYMPHOCYTE_STROMA": 700.0,
             "CELL_PERCENTAGE_LYMPHOCYTE_CELL_DENSE": 3.0, "CELL_PERCENTAGE_LYMPHOCYTE_STROMA": 11.0}
    assert rule.of(he_tme) == Phenotype.INFLAMED
    assert rule.of(local) == Phenotype.EXCLUDED
    assert PhenotypeRule(10.0, 800.0).of(local) == Phenotype.DESERT
    assert PhenotypeRule().columns(local) == (
        "CELL_DENSITY_LYMPHOCYTE_CELL_DENSE", "CELL_DENSITY_LYMPHOCYTE_STROMA")


# --- the table ----------------------------------------------------------------------------------


def test_table_readouts_equal_the_readout_csvs(cohort: Path) -> None:
    table = CohortTable.from_folder(cohort.parent)  # the folder holding the run folder works too
    assert len(table.rows) == 12 and table.run_id == "run-generated"
    for i, row in enumerate(table.rows):
        if row.state != "SUCCEEDED":
            assert row.message == "the slide is blurred" and row.readouts == {}
            assert table.value(i, "phenotype") == "unknown"
            continue
        csv_row = read_readout(cohort / row.external_id.split("/")[-1].removesuffix(".svs")
                               / "readout_generation_slide_readouts.csv").as_dict()
        assert {k: float(v) for k, v in csv_row.items()} == row.readouts
        assert table.value(i, "cells") == float(csv_row["CELL_COUNT_TOTAL"])
    failed = [r for r in table.rows if r.state == "USER_ERROR"]
    assert len(failed) == 1  # item 9 of 12


def test_sorting_ratio_and_csv(cohort: Path, tmp_path: Path) -> None:
    table = CohortTable.from_folder(cohort)
    column = "CELL_DENSITY_LYMPHOCYTE_CARCINOMA"
    order = table.sorted_indices(column, descending=True)
    values = [table.value(i, column) for i in order]
    present = [v for v in values if v is not None]
    assert present == sorted(present, reverse=True) and values[-1] is None  # missing last
    ratio = table.add_ratio(column, "CELL_DENSITY_LYMPHOCYTE_STROMA")
    row = table.rows[0]
    assert table.value(0, ratio) == pytest.approx(
        row.readouts[column] / row.readouts["CELL_DENSITY_LYMPHOCYTE_STROMA"])
    with pytest.raises(ValueError, match="no readout column 'NOPE'"):
        table.add_ratio("NOPE", column)
    out = table.write_csv(tmp_path / "out" / "cohort.csv")
    with out.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 12 and rows[0]["phenotype"] == table.value(0, "phenotype")
    assert float(rows[0][column]) == pytest.approx(row.readouts[column], rel=1e-5)


def test_live_updates_replace_the_row_of_an_item(tmp_path: Path) -> None:
    table = CohortTable("r1")
    item = m.ItemResultReadResponse.model_validate({
        "item_id": "i1", "external_id": "/s/a.svs", "custom_metadata": None,
        "state": "PROCESSING", "output": "NONE", "output_artifacts": [], "input_artifacts": [],
    })
    assert table.update(item, None) == 0 and table.rows[0].state == "PROCESSING"
    done = item.model_copy(update={"state": m.ItemState.TERMINATED,
                                   "termination_reason": m.ItemTerminationReason.SYSTEM_ERROR,
                                   "error_message": "out of memory"})
    assert table.update(done, None) == 0 and len(table.rows) == 1
    assert (table.rows[0].state, table.rows[0].message) == ("SYSTEM_ERROR", "out of memory")


def test_a_folder_without_a_run_says_what_to_pick(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no run manifest here"):
        find_run_folder(tmp_path)
    bad = tmp_path / "run" / "item"
    bad.mkdir(parents=True)
    (bad / "readout_generation_slide_readouts.csv").write_bytes(b"\xff\xfe\x00garbage")
    (tmp_path / "run" / "manifest.json").write_text(json.dumps(
        {"run_id": "r", "items": [{"external_id": "x.svs", "folder": "item", "state": "TERMINATED",
                                   "termination_reason": "SUCCEEDED"}]}))
    table = CohortTable.from_folder(tmp_path)
    assert "readout_generation_slide_readouts.csv: not a readout CSV" in table.rows[0].message


# --- he-tme 2.0: readouts in a zip bundle -------------------------------------------------------

BUNDLE = "readout_generation_readouts_bundle.zip"
LOOSE = ("readout_generation_slide_readouts.csv", "readout_generation_cell_readouts.csv")


def _bundle(item: Path, members: tuple[str, str] = ("readouts/slide_readouts.csv",
                                                     "readouts/cell_readouts.csv")) -> Path:
    """The item's two readout CSVs moved into one zip, as he-tme 2.0 delivers them."""
    bundle = item / BUNDLE
    with zipfile.ZipFile(bundle, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("readouts/", "")  # a folder entry, and a stray file, are passed over
        archive.writestr("__MACOSX/readouts/._slide_readouts.csv", b"\x00\x05")
        for name, member in zip(LOOSE, members, strict=True):
            archive.write(item / name, member)
            (item / name).unlink()
    return bundle


def test_readouts_in_a_zip_bundle_read_like_the_csvs(cohort: Path) -> None:
    loose = CohortTable.from_folder(cohort)
    points = read_cell_points(cohort / "slide-0000")
    for row in loose.rows:
        if row.folder is not None:
            _bundle(row.folder)
    assert not list(cohort.glob("*/*.csv"))
    bundled = CohortTable.from_folder(cohort)
    assert [(r.readouts, r.cells, r.message) for r in bundled.rows] == [
        (r.readouts, r.cells, r.message) for r in loose.rows]
    assert sum(bool(r.readouts) for r in bundled.rows) == 11
    again = read_cell_points(cohort / "slide-0000")
    assert again[0].shape == (50, 2) and (again[0] == points[0]).all() and again[1] == points[1]


def test_bundle_members_are_told_apart_by_header_when_their_names_do_not_say(
    cohort: Path,
) -> None:
    item = cohort / "slide-0000"
    expected = read_item_readouts(item)
    bundle = _bundle(item, ("summary.csv", "objects.csv"))
    slide, cell = find_readouts(item)
    assert slide is not None and cell is not None
    assert (slide.path, slide.member, cell.member) == (bundle, "summary.csv", "objects.csv")
    assert count_rows(cell) == 50
    assert read_item_readouts(item) == expected


def test_an_ambiguous_or_damaged_bundle_keeps_the_row_and_says_why(cohort: Path) -> None:
    two = cohort / "slide-0000"
    _bundle(two, ("slide_readouts.csv", "cell_readouts.csv"))
    with zipfile.ZipFile(two / BUNDLE, "a") as archive:
        archive.writestr("slide_readouts_old.csv", "# v0\nA,B\n1,2\n")
    broken = cohort / "slide-0001"
    _bundle(broken)
    (broken / BUNDLE).write_bytes((broken / BUNDLE).read_bytes()[:200])
    table = CohortTable.from_folder(cohort)
    first, second = table.rows[0], table.rows[1]
    assert first.readouts == {} and first.state == "SUCCEEDED"
    assert "2 members look like the slide readouts (slide_readouts.csv, slide_readouts_old.csv)" \
        in first.message
    assert f"{BUNDLE}: not a readable zip" in second.message and second.readouts == {}
    assert len(table.rows) == 12 and table.rows[2].readouts  # the other items are read as before


# --- exports ------------------------------------------------------------------------------------


def test_report_is_self_contained_html(cohort: Path, tmp_path: Path) -> None:
    table = CohortTable.from_folder(cohort)
    html = render_report(table, thumbnails=False)
    assert html.count("data:image/png;base64,") == 3  # phenotype, classes, densities
    assert "run-generated" in html and "the slide is blurred" in html
    assert "src=\"http" not in html and "<script" not in html
    table.rows[0].message = "<b>not markup</b>"
    assert "&lt;b&gt;not markup&lt;/b&gt;" in render_report(table, thumbnails=False)


def _check_qpproj(project: Path) -> dict:
    """What QuPath's DefaultProject.loadProject and its image entries read from the file."""
    data = json.loads(project.read_text())
    assert isinstance(data["createTimestamp"], int) and isinstance(data["modifyTimestamp"], int)
    assert urlparse(data["uri"]).scheme == "file"
    assert data["version"] not in (None, "v0.2.0-m1", "v0.2.0-m2") and "lastID" in data
    ids = [image["entryID"] for image in data["images"]]
    assert len(set(ids)) == len(ids) and data["lastID"] >= max(ids)
    for image in data["images"]:
        builder = image["serverBuilder"]
        assert builder["builderType"] == "uri" and isinstance(builder["args"], list)
        assert builder["providerClassName"].startswith("qupath.lib.images.servers.")
        assert urlparse(builder["uri"]).scheme == "file"
        assert all(isinstance(v, str) for v in image["metadata"].values())
        assert isinstance(image["imageName"], str) and isinstance(image["randomizedName"], str)
        server = project.parent / "data" / str(image["entryID"]) / "server.json"
        assert json.loads(server.read_text()) == builder
    return data


def test_qupath_project_lists_every_slide(cohort: Path, tmp_path: Path) -> None:
    table = CohortTable.from_folder(cohort)
    images = write_qupath_project(table, tmp_path / "qp")
    data = _check_qpproj(tmp_path / "qp" / "project.qpproj")
    assert [i["imageName"] for i in data["images"]] == [r.name for r in table.rows]
    assert data["images"][9]["description"] == "the slide is blurred"
    assert data["images"][0]["metadata"]["aignostics_run_id"] == "run-generated"
    assert len(images) == 12
    assert (tmp_path / "qp" / "scripts" / "import_aignostics_objects.groovy").is_file()


# --- a real run on the local platform -----------------------------------------------------------


@pytest.mark.slow
@pytest.mark.server(builtin=True)
def test_a_real_run_becomes_a_cohort(server: Any, wsi_dir: Path, tmp_path: Path) -> None:
    slides = tmp_path / "slides"
    slides.mkdir()
    for name in ("CMU-1-Small-Region.svs", "tcga-cr-7395-01a-01-ts1.svs"):  # the TCGA one has no mpp
        shutil.copy(wsi_dir / name, slides / name)
    base = ["--api-root", server.api_root, "--token", server.token]
    results = tmp_path / "results"
    assert main([*base, "run", "submit", "local-tme", str(slides), "--metadata",
                 "staining_method=H&E", "--metadata", "disease=LUNG_CANCER",
                 "--download", str(results), "--interval", "0.2", "--skip-invalid"]) == 0
    run_folder = find_run_folder(results)
    table = CohortTable.from_folder(results)
    by_name = {row.name: row for row in table.rows}
    good = by_name["CMU-1-Small-Region.svs"]
    assert "tcga-cr-7395-01a-01-ts1.svs" not in by_name  # no pixel size: skipped before upload
    csv_row = read_readout(good.folder / "readout_generation_slide_readouts.csv").as_dict()
    assert good.readouts == {k: float(v) for k, v in csv_row.items()}
    assert good.cells == int(csv_row["CELL_COUNT_TOTAL"]) > 1000
    carcinoma, stroma = table.rule.columns(table.readout_columns)
    assert (carcinoma, stroma) == ("CELL_DENSITY_LYMPHOCYTE_CELL_DENSE",
                                   "CELL_DENSITY_LYMPHOCYTE_STROMA")
    at_edge = PhenotypeRule(good.readouts[carcinoma], good.readouts[stroma])
    assert at_edge.of(good.readouts) == Phenotype.INFLAMED
    assert PhenotypeRule(good.readouts[carcinoma] + 0.01, good.readouts[stroma]).of(
        good.readouts) == Phenotype.EXCLUDED

    report, table_csv = tmp_path / "report.html", tmp_path / "table.csv"
    assert main(["run", "result", "report", str(run_folder), "--out", str(report),
                 "--csv", str(table_csv)]) == 0
    html = report.read_text()
    assert html.count("data:image/png;base64,") == 4  # 3 figures + the slide with its cells
    assert len(list(csv.DictReader(table_csv.open()))) == 1

    qp = tmp_path / "qp"
    run_id = table.run_id
    assert main([*base, "run", "result", "download", run_id, str(tmp_path / "again"),
                 "--qupath-project", str(qp)]) == 0
    data = _check_qpproj(qp / "project.qpproj")
    entry = next(i for i in data["images"] if i["imageName"] == "CMU-1-Small-Region.svs")
    assert urlparse(entry["serverBuilder"]["uri"]).path == str(slides / "CMU-1-Small-Region.svs")
    cells = json.loads((qp / entry["metadata"]["aignostics_objects"] / "cells.geojson").read_text())
    assert len(cells["features"]) == good.cells
    assert cells["features"][0]["properties"]["objectType"] == "detection"
    regions = json.loads((qp / entry["metadata"]["aignostics_objects"] / "regions.geojson").read_text())
    assert {f["properties"]["objectType"] for f in regions["features"]} == {"annotation"}
    _screenshot_in_chromium(report, tmp_path / "report.png")

    # the same real readouts bundled as he-tme 2.0 delivers them read the same
    assert good.folder is not None
    points = read_cell_points(good.folder)
    _bundle(good.folder)
    assert read_item_readouts(good.folder) == (good.readouts, good.cells)
    again = read_cell_points(good.folder)
    assert len(again[0]) == len(points[0]) > 0 and (again[0] == points[0]).all()


def _screenshot_in_chromium(report: Path, png: Path) -> None:
    """The report in real headless Chromium; the screenshot shows the plot's colours."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium is not installed here (scripts/setup.sh installs it)")
    subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         f"--screenshot={png}", "--window-size=1280,1400", report.as_uri()],
        check=True, capture_output=True, timeout=120,
    )
    import numpy as np
    from PIL import Image

    pixels = np.asarray(Image.open(png).convert("RGB")).reshape(-1, 3).astype(int)
    red = ((pixels[:, 0] > 180) & (pixels[:, 1] < 80) & (pixels[:, 2] < 80)).sum()  # inflamed dot
    assert red > 20, "no inflamed point of the phenotype plot in the screenshot"


def test_a_manifest_entry_outside_the_run_folder_is_not_read(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "readout_generation_slide_readouts.csv").write_text("# x\nCELL_COUNT_TOTAL\n7\n")
    run = tmp_path / "results" / "run"
    run.mkdir(parents=True)
    (run / "manifest.json").write_text(json.dumps(
        {"run_id": "r", "items": [{"external_id": "x.svs", "folder": "../../outside",
                                   "state": "TERMINATED", "termination_reason": "SUCCEEDED"}]}))
    row = CohortTable.from_folder(run).rows[0]
    assert row.folder is None and row.readouts == {}
