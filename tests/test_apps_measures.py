"""The fast paths of the nuclei step give scikit-image's and SciPy's answers, value for value."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi
from skimage import color, measure

from napari_aignostics.apps.morph import fill_holes
from napari_aignostics.apps.nuclei import _label_shape, hematoxylin_eosin


def test_stain_tables_give_rgb2hed() -> None:
    rgb = np.random.default_rng(0).integers(0, 256, (120, 90, 3)).astype(np.uint8)
    rgb[0, :3] = [[0, 0, 0], [255, 255, 255], [255, 0, 128]]  # the ends of every channel
    hema, eosin = hematoxylin_eosin(rgb)
    reference = color.rgb2hed(rgb)
    assert np.allclose(hema, reference[..., 0], rtol=0, atol=1e-12)
    assert np.allclose(eosin, reference[..., 1], rtol=0, atol=1e-12)
    assert hema.max() > 0.1 and (hema >= 0).all()


@pytest.mark.parametrize("density", [0.3, 0.55, 0.7])
def test_fill_holes_is_binary_fill_holes(density: float) -> None:
    mask = np.random.default_rng(1).random((150, 170)) < density
    filled = fill_holes(mask)
    assert np.array_equal(filled, ndi.binary_fill_holes(mask))
    assert filled.sum() > mask.sum()  # some holes were filled
    assert np.array_equal(fill_holes(np.ones((4, 4), bool)), np.ones((4, 4), bool))


def test_moments_of_all_labels_at_once_match_regionprops() -> None:
    rng = np.random.default_rng(2)
    seeds = np.zeros((200, 240), dtype=np.int32)
    seeds[rng.integers(0, 200, 60), rng.integers(0, 240, 60)] = np.arange(1, 61)
    labels = measure.label(ndi.grey_dilation(seeds, size=(9, 7)) > 0)
    labels[labels == 3] = 0  # an absent label has area 0
    hema, eosin = rng.random(labels.shape), rng.random(labels.shape)
    shape = _label_shape(labels, hema, eosin)
    props = measure.regionprops_table(
        labels,
        intensity_image=np.stack([hema, eosin], axis=-1),
        properties=("label", "area", "centroid", "eccentricity", "intensity_mean"),
    )
    index = props["label"] - 1
    assert shape.area[2] == 0 and len(index) == int((shape.area > 0).sum()) > 20
    assert np.array_equal(shape.area[index], props["area"])
    assert np.allclose(shape.row[index], props["centroid-0"])
    assert np.allclose(shape.col[index], props["centroid-1"])
    assert np.allclose(shape.eccentricity[index], props["eccentricity"], atol=1e-9)
    assert np.allclose(shape.hema[index], props["intensity_mean-0"])
    assert np.allclose(shape.eosin[index], props["intensity_mean-1"])
