"""The sample slides: a real H&E region shipped with the package, and a large H&E-like slide made locally.

``CMU-1-Small-Region.svs`` (CC0, OpenSlide test data; see ``data/NOTICE.md``) is real tissue.

scikit-image ships a real IHC photograph of colonic glands. Its hematoxylin and DAB stains are
separated by colour deconvolution and re-mixed as hematoxylin and eosin, the result is tiled in
rotated/flipped variants under a few smooth "tissue pieces" on a glass-white background, and written
as a 3-level Aperio-style SVS (JPEG tiles, 0.25 µm/px) into the user cache, atomically, once.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

WIDTH, HEIGHT = 20000, 16000
MPP = 0.25
TILE = 256
STRIP = 1024
DOWNSAMPLES = (1, 4, 16)
VERSION = 1
_APERIO = "Aperio Image Library v12.0.15"


REAL_SAMPLE = "CMU-1-Small-Region.svs"


def real_sample_path() -> Path:
    """The shipped real H&E slide (CC0 OpenSlide test data, 2220 x 2967 px, 0.499 µm/px)."""
    from importlib.resources import as_file, files

    resource = files("napari_aignostics.slides").joinpath("data", REAL_SAMPLE)
    with as_file(resource) as path:  # a real file in any installed wheel (not zipped)
        return Path(path)


def cache_dir() -> Path:
    """The plugin's cache folder (``NAPARI_AIGNOSTICS_CACHE`` overrides it)."""
    import platformdirs

    return Path(
        os.environ.get("NAPARI_AIGNOSTICS_CACHE")
        or platformdirs.user_cache_dir("napari-aignostics")
    )


def sample_slide_path(progress: Callable[[float, str], None] | None = None) -> Path:
    """Path of the sample slide, generating it on first use (~20 s on 2 cores)."""
    target = cache_dir() / f"sample-he-{WIDTH}x{HEIGHT}-v{VERSION}.svs"
    if not target.exists():
        write_sample_slide(target, progress=progress)
    return target


def _he_texture(seed: int = 0) -> list[np.ndarray]:
    """Eight rotations/flips of the IHC image re-stained as H&E, 1024 x 1024 each."""
    from skimage import data
    from skimage.color import hed2rgb, rgb2hed
    from skimage.transform import rescale

    ihc = data.immunohistochemistry()
    hed = rgb2hed(ihc)
    hema = hed[..., 0]
    dab = hed[..., 2]
    od = -np.log(np.clip(ihc.astype(np.float32) / 255.0, 1e-3, 1.0)).sum(axis=-1)
    tissue = np.clip(od / np.percentile(od, 60), 0, 1)
    eosin = 0.05 * tissue + 0.35 * np.clip(dab, 0, None)
    he = hed2rgb(np.stack([hema * 1.1, eosin, np.zeros_like(hema)], axis=-1))
    he = rescale(he, 2, channel_axis=-1, order=1)
    base = (np.clip(he, 0, 1) * 255).astype(np.uint8)
    variants = []
    for k in range(4):
        rotated = np.rot90(base, k)
        variants.append(np.ascontiguousarray(rotated))
        variants.append(np.ascontiguousarray(rotated[:, ::-1]))
    return variants


def _tissue_field(rng: np.random.Generator) -> np.ndarray:
    """A smooth field at 1/16 scale; > 0 is tissue (3-5 irregular pieces)."""
    from scipy import ndimage

    h, w = HEIGHT // 16, WIDTH // 16
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    field = np.full((h, w), -1.0, np.float32)
    pieces = rng.integers(3, 6)
    for _ in range(pieces):
        cy, cx = rng.uniform(0.2, 0.8) * h, rng.uniform(0.15, 0.85) * w
        ry, rx = rng.uniform(0.12, 0.25) * h, rng.uniform(0.08, 0.18) * w
        blob = 1.0 - ((yy - cy) / ry) ** 2 - ((xx - cx) / rx) ** 2
        field = np.maximum(field, blob)
    noise = ndimage.gaussian_filter(rng.standard_normal((h, w)).astype(np.float32), 12)
    return field + noise * 8.0


def _strips(
    rng: np.random.Generator, progress: Callable[[float, str], None] | None
) -> Iterator[np.ndarray]:
    """Level-0 strips of STRIP rows."""
    from PIL import Image

    variants = _he_texture()
    field = _tissue_field(rng)
    n_tx = -(-WIDTH // 1024)
    n_ty = -(-HEIGHT // 1024)
    choice = rng.integers(0, len(variants), size=(n_ty, n_tx))
    for strip_index, y0 in enumerate(range(0, HEIGHT, STRIP)):
        rows = min(STRIP, HEIGHT - y0)
        texture = np.empty((rows, n_tx * 1024, 3), np.uint8)
        for tx in range(n_tx):
            texture[:, tx * 1024 : (tx + 1) * 1024] = variants[choice[y0 // 1024, tx]][:rows]
        texture = texture[:, :WIDTH]
        part = Image.fromarray(field[y0 // 16 : (y0 + rows) // 16], mode="F")
        mask = np.asarray(part.resize((WIDTH, rows), Image.Resampling.BILINEAR)) > 0
        glass = np.array([242, 241, 244], np.uint8)
        strip = np.where(mask[..., None], texture, glass)
        if progress:
            progress((strip_index + 1) * STRIP / HEIGHT * 0.8, "writing level 0")
        yield strip


def _tiles(strip: np.ndarray) -> Iterator[np.ndarray]:
    rows, width = strip.shape[:2]
    for ty in range(0, rows, TILE):
        for tx in range(0, width, TILE):
            tile = strip[ty : ty + TILE, tx : tx + TILE]
            if tile.shape[:2] != (TILE, TILE):
                padded = np.full((TILE, TILE, 3), 242, np.uint8)
                padded[: tile.shape[0], : tile.shape[1]] = tile
                tile = padded
            yield tile


def _reduce(image: np.ndarray, factor: int) -> np.ndarray:
    """Area-average downsample by an integer factor."""
    from PIL import Image

    return np.asarray(Image.fromarray(image).reduce(factor))


def _description(width: int, height: int, extra: str = "") -> str:
    return (
        f"{_APERIO}\r\n{WIDTH}x{HEIGHT} [0,0 {width}x{height}] ({TILE}x{TILE}) JPEG/RGB Q=85{extra}"
        f"|AppMag = 40|MPP = {MPP}|Filename = napari-aignostics-sample|Title = Sample H&E (re-stained IHC)"
    )


def write_sample_slide(
    target: Path, seed: int = 7, progress: Callable[[float, str], None] | None = None
) -> Path:
    """Write the sample SVS to ``target`` atomically and return it."""
    import tifffile

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.part")
    rng = np.random.default_rng(seed)
    levels = {f: np.empty((HEIGHT // f, WIDTH // f, 3), np.uint8) for f in DOWNSAMPLES[1:]}
    common: dict[str, Any] = {"photometric": "rgb", "metadata": None, "software": False}
    tiled: dict[str, Any] = {
        "tile": (TILE, TILE),
        "compression": "jpeg",
        "compressionargs": {"level": 85},
        "maxworkers": 2,
    }

    def level0_tiles() -> Iterator[np.ndarray]:
        for index, strip in enumerate(_strips(rng, progress)):
            y0 = index * STRIP
            quarter = _reduce(strip, 4)
            levels[4][y0 // 4 : y0 // 4 + quarter.shape[0]] = quarter
            sixteenth = _reduce(quarter, 4)
            levels[16][y0 // 16 : y0 // 16 + sixteenth.shape[0]] = sixteenth
            yield from _tiles(strip)

    try:
        with tifffile.TiffWriter(tmp, bigtiff=True) as tif:
            tif.write(
                level0_tiles(),
                shape=(HEIGHT, WIDTH, 3),
                dtype=np.uint8,
                description=_description(WIDTH, HEIGHT),
                resolution=(1e4 / MPP, 1e4 / MPP),
                resolutionunit="CENTIMETER",
                **tiled,
                **common,
            )
            small = levels[DOWNSAMPLES[-1]]
            thumb = _reduce(small, 2)
            tif.write(
                thumb,
                description=f"{_APERIO}\r\n{WIDTH}x{HEIGHT} -> {thumb.shape[1]}x{thumb.shape[0]} - |MPP = {MPP}",
                compression="jpeg",
                **common,
            )
            for factor in DOWNSAMPLES[1:]:
                array = levels[factor]
                tif.write(
                    array,
                    description=_description(array.shape[1], array.shape[0]),
                    **tiled,
                    **common,
                )
            label = np.full((400, 400, 3), 250, np.uint8)
            label[40:360:20, 40:360] = 30
            tif.write(
                label,
                subfiletype=1,
                description=f"{_APERIO}\r\nlabel 400x400",
                compression="lzw",
                **common,
            )
            macro = np.full((400, 1200, 3), 225, np.uint8)
            macro[60:340, 350:1150] = _resize_nearest(small, 280, 800)
            tif.write(
                macro,
                subfiletype=9,
                description=f"{_APERIO}\r\nmacro 1200x400",
                compression="jpeg",
                **common,
            )
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()
    if progress:
        progress(1.0, "done")
    return target


def _resize_nearest(image: np.ndarray, height: int, width: int) -> np.ndarray:
    ys = np.linspace(0, image.shape[0] - 1, height).astype(int)
    xs = np.linspace(0, image.shape[1] - 1, width).astype(int)
    return image[ys][:, xs]
