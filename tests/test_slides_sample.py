"""The synthetic sample slide's nuclei: plausible density and the shapes local-tme classifies."""

from __future__ import annotations

import numpy as np
import pytest

from napari_aignostics.slides import sample


@pytest.mark.slow
def test_synthetic_nuclei_density_and_shapes_are_plausible() -> None:
    rng = np.random.default_rng(7)
    tissue = sample._tissue_field(rng)
    gland_zone = sample._smooth_noise(rng, tissue.shape, 40)
    lymphoid = sample._smooth_noise(rng, tissue.shape, 6) - 1.6
    glands = sample._glands(rng, tissue, gland_zone)
    nuclei = sample._nuclei(rng, tissue, glands, lymphoid)
    mm2_per_px = (sample.MPP * 1e-3) ** 2
    tissue_mm2 = float((tissue > 0).mean()) * sample.WIDTH * sample.HEIGHT * mm2_per_px
    density = len(nuclei.x) / tissue_mm2
    assert 2000 < density < 5000  # real H&E: thousands of nuclei per mm² of tissue
    area_um2 = np.pi * nuclei.a * nuclei.b * sample.MPP**2
    ecc = np.sqrt(1 - (nuclei.b / nuclei.a) ** 2)
    epithelial = (area_um2 > 55) & (ecc < 0.9)
    lymphocyte = (area_um2 < 38) & (ecc < 0.75)
    fibroblast = ecc > 0.9
    for kind in (epithelial, lymphocyte, fibroblast):
        assert 0.05 < kind.mean() < 0.7
    assert len(glands[0]) > 10  # glands, not only stroma


def test_stain_colours_match_real_he() -> None:
    table = sample._stain_table()
    h_unit = round((sample.STEPS - 1) / sample.H_MAX)
    e_unit = round((sample.STEPS - 1) / sample.E_MAX)
    stroma = table[0, e_unit].astype(int)
    nucleus = table[h_unit, e_unit].astype(int)
    assert stroma[0] > stroma[2] > stroma[1]  # pink: red, then blue, least green
    assert nucleus.max() < 130 and nucleus[2] > nucleus[1]  # dark purple
