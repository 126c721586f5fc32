"""Opening real slides lazily, with the right levels, dimensions and physical scale."""

from __future__ import annotations

import shutil
from pathlib import Path

import dask.array as da
import numpy as np
import pytest

from napari_aignostics.slides import reader as reader_module
from napari_aignostics.slides.layers import slide_layer_data
from napari_aignostics.slides.metadata import media_type_for, slide_metadata
from napari_aignostics.slides.reader import open_slide
from napari_aignostics.slides.slide_errors import SlideError
from napari_aignostics.widgets.slide_opener import get_reader


def test_cmu_small_region(cmu_slide: Path) -> None:
    with open_slide(cmu_slide) as slide:
        assert slide.level_dimensions == [(2220, 2967)]
        assert slide.mpp == pytest.approx(0.499)
        assert slide.vendor == "aperio"
        assert slide.objective_power == 20
        level = slide.levels[0]
        assert isinstance(level, da.Array)
        assert level.shape == (2967, 2220, 3) and level.dtype == np.uint8
        region = slide.read_region(0, 1000, 1000, 256, 256)
        assert region.shape == (256, 256, 3)
        assert 60 < region.mean() < 240  # H&E tissue, not blank
        data, kwargs, kind = slide_layer_data(slide)
        assert kind == "image" and kwargs["multiscale"] and kwargs["rgb"]
        assert kwargs["contrast_limits"] == (0, 255)
        assert kwargs["scale"] == (pytest.approx(0.499), pytest.approx(0.499))
        assert kwargs["units"] == ("µm", "µm")
        meta = kwargs["metadata"]["napari_aignostics"]
        assert meta["level_dimensions"] == [[2220, 2967]] and meta["vendor"] == "aperio"


def test_jpeg2000_slide_without_mpp(wsi_dir: Path) -> None:
    with open_slide(wsi_dir / "tcga-cr-7395-01a-01-ts1.svs") as slide:
        assert slide.level_dimensions == [(4443, 3567), (2221, 1783)]
        assert slide.level_downsamples[1] == pytest.approx(2.0005, abs=1e-3)  # not a power of two
        assert slide.mpp is None
        assert any("no pixel size" in w for w in slide.warnings)
        _, kwargs, _ = slide_layer_data(slide)
        assert kwargs["scale"] == (1.0, 1.0) and kwargs["units"] == ("pixel", "pixel")
        tile = slide.read_region(1, 800, 800, 128, 128)
        assert tile.std() > 5  # JPEG 2000 decoded into real texture


def test_opening_reads_no_pixels(cmu_slide: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    original = reader_module._SafeLevel.__getitem__

    def spy(self, key):  # type: ignore[no-untyped-def]
        calls.append(key)
        return original(self, key)

    monkeypatch.setattr(reader_module._SafeLevel, "__getitem__", spy)
    slide = open_slide(cmu_slide)
    slide_layer_data(slide)
    assert calls == []
    slide.read_region(0, 0, 0, 10, 10)
    assert calls
    slide.close()


def test_implausible_mpp_gives_pixel_units(test_data: Path) -> None:
    with open_slide(test_data / "wsi_edge_cases" / "boxes.tiff") as slide:
        assert slide.mpp is None
        assert "352.8" in slide.warnings[0] and "not plausible" in slide.warnings[0]
        assert slide.level_downsamples == pytest.approx([1, 2, 4.016, 8.086], abs=1e-3)
        assert [lvl.shape[:2] for lvl in slide.levels] == [
            (250, 300),
            (125, 150),
            (62, 75),
            (31, 37),
        ]


def test_smallest_svs_tiles_larger_than_image(test_data: Path) -> None:
    with open_slide(test_data / "wsi_edge_cases" / "small.svs") as slide:
        assert slide.level_dimensions == [(16, 16)]
        assert slide.read_region(0, 0, 0, 16, 16).shape == (16, 16, 3)


def test_unopenable_tiff_is_a_clear_error(test_data: Path) -> None:
    with pytest.raises(SlideError, match=r"unopenable\.tiff: uses TIFF compression 52479"):
        open_slide(test_data / "wsi_edge_cases" / "unopenable.tiff")


def test_corrupt_tile_reported_once_and_shown_black(
    test_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[str, str]] = []
    monkeypatch.setattr(
        reader_module, "read_error_handler", lambda p, e: seen.append((p.name, str(e)))
    )
    with open_slide(test_data / "wsi_edge_cases" / "unreadable.svs") as slide:
        first = slide.read_region(0, 0, 0, 16, 16)
        slide.read_region(0, 0, 0, 8, 8)
    assert (first == 0).all()
    assert len(seen) == 1 and seen[0][0] == "unreadable.svs" and "marker" in seen[0][1].lower()


def test_png_is_declined_and_named(test_data: Path, tmp_path: Path) -> None:
    png = test_data / "images" / "ihc.png"
    assert get_reader(str(png)) is None
    disguised = tmp_path / "ihc.tif"
    shutil.copy(png, disguised)
    with pytest.raises(SlideError, match=r"ihc\.tif: is a PNG image, not a whole-slide image"):
        open_slide(disguised)
    with pytest.raises(SlideError, match="not a supported slide format"):
        open_slide(png)


@pytest.mark.slow
def test_dicom_files(wsi_dir: Path, tmp_path: Path) -> None:
    # A VOLUME instance opens through wsidicom (its JPEG 2000 YCbCr tiles defeat the TIFF reader).
    with open_slide(wsi_dir / "small-pyramidal.dcm") as slide:
        assert slide.backend == "wsidicom"
        assert slide.level_dimensions == [(2054, 1529)]
        assert slide.mpp == pytest.approx(8.065, abs=0.01)
        assert slide.read_region(0, 500, 500, 256, 256).std() > 3
    # A lone THUMBNAIL instance has no levels for wsidicom; its TIFF personality still opens.
    with open_slide(wsi_dir / "sm-thumbnail.dcm") as slide:
        assert slide.level_dimensions == [(466, 768)]
        assert slide.mpp == pytest.approx(12.58, abs=0.01)
    folder = tmp_path / "series"
    folder.mkdir()
    shutil.copy(wsi_dir / "small-pyramidal.dcm", folder / "a.dcm")
    assert get_reader(str(folder)) is not None
    with open_slide(folder) as slide:
        assert slide.level_dimensions == [(2054, 1529)]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert get_reader(str(empty)) is None
    with pytest.raises(SlideError, match="folder without DICOM"):
        open_slide(empty)


def test_ome_tiff_pixel_size_only_in_xml(tmp_path: Path) -> None:
    import tifffile

    path = tmp_path / "ome.ome.tif"
    image = np.random.default_rng(0).integers(0, 255, (512, 640, 3), dtype=np.uint8)
    with tifffile.TiffWriter(path, bigtiff=True, ome=True) as tif:
        tif.write(
            image,
            tile=(256, 256),
            photometric="rgb",
            metadata={
                "axes": "YXS",
                "PhysicalSizeX": 0.2631,
                "PhysicalSizeXUnit": "µm",
                "PhysicalSizeY": 0.2631,
                "PhysicalSizeYUnit": "µm",
            },
        )
    with open_slide(path) as slide:
        assert slide.mpp == pytest.approx(0.2631)
        assert slide.properties["napari_aignostics.mpp-source"] == "ome-xml"
        assert np.array_equal(slide.read_region(0, 0, 0, 640, 512), image)


def test_slide_metadata_for_the_platform(cmu_slide: Path, wsi_dir: Path) -> None:
    meta = slide_metadata(cmu_slide)
    assert meta.as_artifact_metadata() == {
        "width_px": 2220,
        "height_px": 2967,
        "resolution_mpp": pytest.approx(0.499),
        "media_type": "application/octet-stream",
        "checksum_base64_crc32c": meta.checksum_base64_crc32c,
    }
    assert len(meta.checksum_base64_crc32c) == 8 and meta.checksum_base64_crc32c.endswith("==")
    assert media_type_for("a.TIFF") == "image/tiff"
    assert media_type_for(wsi_dir / "small-pyramidal.dcm") == "application/dicom"
    with pytest.raises(SlideError, match="is a folder"):
        slide_metadata(wsi_dir)


def test_reader_declines_other_files(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("x")
    assert get_reader(str(tmp_path / "notes.txt")) is None
    assert get_reader([str(tmp_path / "a.svs"), str(tmp_path / "b.svs")]) is None


def test_strict_reading_and_metadata_refuse_undecodable_tiles(test_data: Path) -> None:
    path = test_data / "wsi_edge_cases" / "unreadable.svs"
    with open_slide(path, strict=True) as slide, pytest.raises(SlideError, match="Bogus marker"):
        slide.read_region(0, 0, 0, 16, 16)
    with pytest.raises(SlideError) as caught:  # every submission path computes the metadata
        slide_metadata(path)
    assert str(caught.value).startswith("unreadable.svs: a tile of this slide could not be decoded")
    assert slide_metadata(test_data / "wsi_edge_cases" / "small.svs").width_px == 16


def test_dicom_without_the_extra_names_it(wsi_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "wsidicom", None)  # as installed without [dicom]
    with pytest.raises(SlideError, match=r"pip install 'napari-aignostics\[dicom\]'") as raised:
        open_slide(wsi_dir / "small-pyramidal.dcm")
    assert "damaged" not in str(raised.value)
    with open_slide(wsi_dir / "sm-thumbnail.dcm") as slide:  # its TIFF personality decodes
        assert slide.level_dimensions == [(466, 768)]
