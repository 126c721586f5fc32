"""The plugin as napari sees it: the installed manifest, the reader, the sample slide on screen."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest


def test_installed_manifest_is_valid_and_importable() -> None:
    import npe2

    manifest = npe2.PluginManifest.from_distribution("napari-aignostics")
    assert manifest.name == "napari-aignostics"
    npe2.PluginManifest.model_validate(manifest.model_dump())
    for command in manifest.contributions.commands or []:
        module, _, attr = command.python_name.partition(":")
        assert callable(getattr(importlib.import_module(module), attr)), command.id
    patterns = manifest.contributions.readers[0].filename_patterns
    assert "*.svs" in patterns and "*.dcm" in patterns
    top_level = Path(__file__).resolve().parents[1] / "napari.yaml"
    assert (
        top_level.read_text()
        == (
            Path(importlib.import_module("napari_aignostics").__file__).parent / "napari.yaml"
        ).read_text()
    )


@pytest.mark.gui
def test_napari_opens_cmu_with_micrometre_scale(make_napari_viewer, cmu_slide: Path) -> None:
    viewer = make_napari_viewer()
    layers = viewer.open(str(cmu_slide), plugin="napari-aignostics")
    layer = layers[0]
    assert layer.multiscale and layer.rgb
    assert tuple(layer.scale) == pytest.approx((0.499, 0.499))
    assert [str(u) for u in layer.units] == ["micrometer", "micrometer"]
    assert viewer.scale_bar.visible
    assert layer.metadata["napari_aignostics"]["path"] == str(cmu_slide)


@pytest.mark.gui
def test_sample_slide_screenshot_shows_tissue(
    make_napari_viewer, sample_slide: Path, tmp_path: Path
) -> None:
    viewer = make_napari_viewer(show=True)
    layers = viewer.open_sample("napari-aignostics", "he_sample_slide")
    layer = layers[0]
    assert [lvl.shape[:2] for lvl in layer.data] == [(16000, 20000), (4000, 5000), (1000, 1250)]
    assert tuple(layer.scale) == pytest.approx((0.25, 0.25))
    viewer.reset_view()
    shot = viewer.screenshot(canvas_only=True, flash=False)
    rgb = shot[..., :3].astype(int)
    assert rgb.mean() > 20 and rgb.std() > 10  # neither black nor blank
    pink = (rgb[..., 0] > 120) & (rgb[..., 1] < rgb[..., 0] - 30) & (rgb[..., 2] > 100)
    assert pink.mean() > 0.05, "stained tissue should cover part of the view"
    from PIL import Image

    Image.fromarray(shot[..., :3]).save(tmp_path / "sample.png")


def test_the_real_he_sample_ships_with_its_licence() -> None:
    import hashlib

    import npe2

    from napari_aignostics.slides.napari_reader import real_sample_slide
    from napari_aignostics.slides.sample import real_sample_path

    path = real_sample_path()
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    notice = (path.parent / "NOTICE.md").read_text()
    assert digest in notice and "CC0 1.0" in notice
    manifest = npe2.PluginManifest.from_distribution("napari-aignostics")
    keys = [sample.key for sample in manifest.contributions.sample_data or []]
    assert keys == ["real_he_sample", "he_sample_slide"]  # real tissue first
    ((data, kwargs, kind),) = real_sample_slide()
    assert kind == "image" and data[0].shape == (2967, 2220, 3)
    assert tuple(kwargs["scale"]) == pytest.approx((0.499, 0.499))
    assert data[0][1500:1756, 1000:1256].std() > 10  # tissue, not glass


def test_a_closed_slides_chunks_leave_napari_dask_cache(cmu_slide: Path) -> None:
    from napari.components import ViewerModel
    from napari.layers import Layer
    from napari.utils import resize_dask_cache

    from napari_aignostics.slides.layers import close_slide_of, slide_layer_data
    from napari_aignostics.slides.reader import open_slide

    cache = resize_dask_cache().cache
    viewer = ViewerModel()
    layer = Layer.create(*slide_layer_data(open_slide(cmu_slide)))
    viewer.add_layer(layer)  # sliced: napari computes the chunks in view through its cache
    names = {level.name for level in layer.data}

    def cached() -> int:
        keys = {key: str(key[0] if isinstance(key, tuple) else key) for key in cache.nbytes}
        return sum(
            cache.nbytes[key]
            for key, name in keys.items()
            if name in names or name.startswith("finalize-")
        )

    assert cached() > 100_000
    viewer.layers.remove(layer)
    assert close_slide_of(layer.data)
    assert cached() == 0
    assert len(cache.heap) == len(cache.data)  # evicted keys leave no score behind
