"""The built-in applications on real slides: quality, formats, schemas and errors."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import jsonschema
import numpy as np
import pyarrow.parquet as pq
import pytest
import shapely
import tifffile

from napari_aignostics.apps.base import AnalysisContext, ProducedArtifact, UserInputError
from napari_aignostics.apps.builtin import LOCAL_TME, TEST_APP
from napari_aignostics.apps.registry import builtin_applications
from napari_aignostics.slides.checksum import crc32c_base64

CMU_SIZE = (2220, 2967)  # width, height


@pytest.fixture(scope="module")
def tme(cmu_slide: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, ProducedArtifact]:
    out = tmp_path_factory.mktemp("tme")
    fractions: list[float] = []
    artifacts = LOCAL_TME.versions[0].run(
        AnalysisContext(cmu_slide, {}, out, progress=lambda f, _m: fractions.append(f))
    )
    assert fractions[-1] == 1.0
    return {a.name: a for a in artifacts}


def test_registry_serves_both_applications() -> None:
    assert [a.application_id for a in builtin_applications()] == ["test-app", "local-tme"]
    for app in builtin_applications():
        for version in app.versions:
            assert version.documents and version.changelog
            for artifact in version.input_artifacts + version.output_artifacts:
                jsonschema.Draft7Validator.check_schema(artifact["metadata_schema"])


def test_every_declared_output_is_produced_and_valid(tme: dict[str, ProducedArtifact]) -> None:
    declared = {o["name"]: o for o in LOCAL_TME.versions[0].output_artifacts}
    assert set(tme) == set(declared)
    for name, artifact in tme.items():
        jsonschema.validate(artifact.metadata, declared[name]["metadata_schema"])
        assert artifact.metadata["checksum_base64_crc32c"] == crc32c_base64(artifact.path)
        assert artifact.path.name == name.replace(":", "_") + artifact.path.suffix
        assert not list(artifact.path.parent.glob("*.tmp"))


def test_tissue_mask_matches_histolab(tme: dict[str, ProducedArtifact], test_data: Path) -> None:
    reference = np.load(test_data / "annotations/histolab_tissue_masks/"
                        "tissue-mask-cmu-1-small-region.npy").astype(bool)
    assert reference.shape == (296, 221)
    qc = tme["tissue_qc:segmentation_map_image"]
    labels = tifffile.imread(qc.path)
    assert labels.shape == (qc.metadata["height_px"], qc.metadata["width_px"])
    assert list(qc.metadata["class_colors"])[:2] == ["BACKGROUND", "TISSUE"]
    ours = labels > 0
    rows = (np.arange(296) + 0.5) * CMU_SIZE[1] / 296 / (CMU_SIZE[1] / labels.shape[0])
    cols = (np.arange(221) + 0.5) * CMU_SIZE[0] / 221 / (CMU_SIZE[0] / labels.shape[1])
    resampled = ours[np.clip(rows.astype(int), 0, labels.shape[0] - 1)][
        :, np.clip(cols.astype(int), 0, labels.shape[1] - 1)]
    iou = (resampled & reference).sum() / (resampled | reference).sum()
    print(f"tissue IoU vs histolab: {iou:.3f}")
    assert iou >= 0.8
    with tifffile.TiffFile(qc.path) as tif:
        page = tif.pages[0]
        assert page.is_tiled and page.tilewidth == 256
        x_res = page.tags["XResolution"].value
        assert abs(10_000 / (x_res[0] / x_res[1]) - qc.metadata["resolution_mpp"]) < 1e-3


def test_cells_are_plausible_and_consistent(tme: dict[str, ProducedArtifact]) -> None:
    geojson = json.loads(tme["cell_classification:geojson_polygons"].path.read_text())
    features = geojson["features"]
    table = pq.read_table(tme["cell_classification:parquet_polygons"].path).to_pandas()
    count = len(features)
    area_mm2 = sum(f["properties"]["measurements"]["area_um2"] for f in json.loads(
        tme["tissue_qc:geojson_polygons"].path.read_text())["features"]
        if f["properties"]["classification"]["name"] == "TISSUE") / 1e6
    print(f"{count} cells, {count / area_mm2:.0f} cells/mm² of tissue")
    assert 1000 <= count <= 20000
    assert 500 <= count / area_mm2 <= 20000
    assert len(table) == count
    assert geojson["type"] == "FeatureCollection"
    names = {f["properties"]["classification"]["name"] for f in features}
    assert names <= {"EPITHELIAL", "LYMPHOCYTE", "FIBROBLAST", "OTHER"} and len(names) >= 3
    for feature in features[:: max(1, count // 200)]:
        ring = np.asarray(feature["geometry"]["coordinates"][0])
        assert (ring[:, 0] >= 0).all() and (ring[:, 0] <= CMU_SIZE[0]).all()
        assert (ring[:, 1] >= 0).all() and (ring[:, 1] <= CMU_SIZE[1]).all()
        assert np.allclose(ring[0], ring[-1])
        m = feature["properties"]["measurements"]
        assert 0 <= m["confidence"] <= 1 and m["area_um2"] > 0
        assert feature["properties"]["objectType"] == "detection"
    polygons = shapely.from_wkb(table["geometry"].to_numpy())
    centroids = shapely.centroid(polygons)
    assert np.allclose(shapely.get_x(centroids), table["centroid_x"], atol=3)
    assert set(table["class_color"]) <= {"#dc3232", "#285ae6", "#3caa50", "#e6aa1e"}
    assert str(table["confidence"].dtype) == "float32"


def test_readouts_have_a_preamble_and_agree(tme: dict[str, ProducedArtifact]) -> None:
    cells_csv = tme["readout_generation:cell_readouts"].path.read_text().splitlines()
    slide_csv = tme["readout_generation:slide_readouts"].path.read_text().splitlines()
    assert cells_csv[0].startswith("# local-tme") and slide_csv[0].startswith("# local-tme")
    rows = list(csv.DictReader(cells_csv[1:]))
    slide = next(csv.DictReader(slide_csv[1:]))
    assert int(slide["CELL_COUNT_TOTAL"]) == len(rows)
    assert int(slide["CELL_COUNT_LYMPHOCYTE"]) == sum(r["CELL_CLASS"] == "LYMPHOCYTE" for r in rows)
    assert {k for k in rows[0] if k.startswith("IN_")} == {
        "IN_CELL_DENSE", "IN_STROMA", "IN_PALE_TISSUE", "IN_OTHER_TISSUE"}
    assert rows[0]["IN_STROMA"] in {"True", "False"}
    parts = [float(slide[f"RELATIVE_AREA_{r}"]) for r in
             ("CELL_DENSE", "STROMA", "PALE_TISSUE", "OTHER_TISSUE")]
    assert abs(sum(parts) - 1.0) < 0.02


@pytest.mark.slow
def test_test_app_is_quick_and_tissue_only(cmu_slide: Path, tmp_path: Path) -> None:
    artifacts = TEST_APP.versions[0].run(AnalysisContext(cmu_slide, {}, tmp_path))
    assert {a.name.split(":")[0] for a in artifacts} == {"tissue_qc", "tissue_segmentation"}
    classes = (tmp_path / "tissue_segmentation_csv_class_information.csv").read_text().splitlines()
    assert classes[0] == "class_index,class_name,red,green,blue"
    assert classes[1].startswith("0,BACKGROUND")


@pytest.mark.parametrize(
    ("relative", "needle"),
    [("images/ihc.png", "ihc.png"), ("wsi_edge_cases/boxes.tiff", "boxes.tiff")],
)
def test_unsupported_inputs_are_user_errors(test_data: Path, tmp_path: Path, relative: str,
                                            needle: str) -> None:
    with pytest.raises(UserInputError, match=needle) as caught:
        LOCAL_TME.versions[0].run(AnalysisContext(test_data / relative, {}, tmp_path))
    assert caught.value.code.startswith("INPUT.")


def test_undecodable_slide_is_a_user_error_not_a_black_analysis(test_data: Path,
                                                                 tmp_path: Path) -> None:
    with pytest.raises(UserInputError) as caught:
        TEST_APP.versions[0].run(AnalysisContext(test_data / "wsi_edge_cases/unreadable.svs", {},
                                                 tmp_path))
    assert caught.value.code == "INPUT.UNREADABLE_SLIDE"
    assert str(caught.value).startswith("unreadable.svs: a tile of this slide could not be decoded")
    assert "Bogus marker length" in str(caught.value)
    assert not list(tmp_path.iterdir())  # no outputs of a black image
