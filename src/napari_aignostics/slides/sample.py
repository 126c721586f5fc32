"""The sample slides: a real H&E region shipped with the package, and a large H&E-like slide made locally.

``CMU-1-Small-Region.svs`` (CC0, OpenSlide test data; see ``data/NOTICE.md``) is real tissue.

The large slide is drawn, not copied: irregular tissue pieces on glass hold glands (a lumen, a band
of pink cytoplasm, a ring of large oval epithelial nuclei), fibrous stroma with spindle-shaped
fibroblast nuclei along its fibres, scattered and clustered small dark lymphocytes and a few other
cells. Nuclei are ellipses with soft edges and grainy chromatin, stained by Beer–Lambert mixing of
the standard hematoxylin and eosin colour vectors, every one drawn once (no repeated tiles). About
3,000-4,000 nuclei per mm² of tissue, as in real H&E. It is written as a 3-level Aperio-style SVS
(JPEG tiles, 0.25 µm/px) into the user cache, atomically, once.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

WIDTH, HEIGHT = 20000, 16000
MPP = 0.25
TILE = 256
STRIP = 1024
DOWNSAMPLES = (1, 4, 16)
VERSION = 2
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


HEMATOXYLIN = np.array([0.76, 1.08, 0.65], np.float32)
EOSIN = np.array([0.12, 0.47, 0.24], np.float32)
"""Optical density per R, G, B of one unit of each stain, matched to the colours of real H&E
(stroma about (214, 164, 192), nuclei about (103, 56, 102) in CMU-1-Small-Region)."""
GLASS = np.array([242, 241, 244], np.uint8)
LOW = 16
"""The smooth fields (tissue, stroma, glands) are drawn at 1/16 scale and interpolated."""


@dataclass
class _Nuclei:
    """Every nucleus of the slide as columns (level-0 px): centre, semi-axes, angle, stain."""

    x: np.ndarray
    y: np.ndarray
    a: np.ndarray
    b: np.ndarray
    angle: np.ndarray
    od: np.ndarray


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Gaussian-filtered noise scaled to unit standard deviation (wide ones made at 1/4 size)."""
    from scipy import ndimage

    shrink = 4 if sigma >= 8 else 1
    small = (-(-shape[0] // shrink), -(-shape[1] // shrink))
    field = ndimage.gaussian_filter(rng.standard_normal(small, np.float32), sigma / shrink)
    if shrink > 1:
        field = _resize(field, shrink * small[1], shrink * small[0])[: shape[0], : shape[1]]
    return field / max(float(field.std()), 1e-6)


def _tissue_field(rng: np.random.Generator) -> np.ndarray:
    """A smooth field at 1/16 scale; > 0 is tissue (3-5 irregular pieces)."""
    h, w = HEIGHT // LOW, WIDTH // LOW
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    field = np.full((h, w), -1.0, np.float32)
    for _ in range(rng.integers(3, 6)):
        cy, cx = rng.uniform(0.2, 0.8) * h, rng.uniform(0.15, 0.85) * w
        ry, rx = rng.uniform(0.12, 0.25) * h, rng.uniform(0.08, 0.18) * w
        blob = 1.0 - ((yy - cy) / ry) ** 2 - ((xx - cx) / rx) ** 2
        field = np.maximum(field, blob)
    return field + _smooth_noise(rng, (h, w), 12) * 0.35


def _in_field(field: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Values of a 1/16-scale field at level-0 points (nearest sample)."""
    iy = np.clip((y / LOW).astype(int), 0, field.shape[0] - 1)
    ix = np.clip((x / LOW).astype(int), 0, field.shape[1] - 1)
    return field[iy, ix]


def _glands(
    rng: np.random.Generator, tissue: np.ndarray, gland_zone: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Gland centres and semi-axes (level-0 px) in the gland zones, not overlapping much."""
    candidates = rng.uniform((0, 0), (WIDTH, HEIGHT), size=(6000, 2))
    keep = (_in_field(tissue, *candidates.T) > 0.25) & (_in_field(gland_zone, *candidates.T) > 0.3)
    xs: list[float] = []
    ys: list[float] = []
    rx: list[float] = []
    ry: list[float] = []
    for x, y in candidates[keep]:
        r = rng.uniform(200, 480)  # 50-120 µm
        if any(
            (x - px) ** 2 + (y - py) ** 2 < (r + max(pr, qr) + 60) ** 2
            for px, py, pr, qr in zip(xs, ys, rx, ry, strict=True)
        ):
            continue
        xs.append(float(x))
        ys.append(float(y))
        rx.append(r * rng.uniform(0.8, 1.25))
        ry.append(r * rng.uniform(0.8, 1.25))
    return np.array(xs), np.array(ys), np.array(rx), np.array(ry)


def _nuclei(
    rng: np.random.Generator,
    tissue: np.ndarray,
    glands: tuple[np.ndarray, ...],
    lymphoid: np.ndarray,
) -> _Nuclei:
    """All nuclei: epithelial rings around the glands, stroma (fibroblasts, lymphocytes, others)."""
    gx, gy, grx, gry = glands
    parts: list[tuple[np.ndarray, ...]] = []
    # epithelium: oval nuclei (area ~55-90 µm²) on a ring inside each gland's outline
    for x, y, rx, ry in zip(gx, gy, grx, gry, strict=True):
        circumference = 2 * np.pi * np.sqrt((rx * rx + ry * ry) / 2)
        n = int(circumference / rng.uniform(34, 40))  # ~9 µm apart, near the basal side
        t = np.linspace(0, 2 * np.pi, n, endpoint=False) + rng.normal(0, 0.15 / max(n, 1) * 6, n)
        depth = rng.uniform(0.86, 0.92, n)
        px = x + np.cos(t) * rx * depth
        py = y + np.sin(t) * ry * depth
        a = rng.uniform(19, 23, n)  # semi-axes in px: ~5.3 x ~3.8 µm
        b = a * rng.uniform(0.66, 0.8, n)
        angle = t + rng.normal(0, 0.2, n)  # long axis points to the lumen
        parts.append((px, py, a, b, angle, rng.uniform(0.85, 1.1, n)))
    # stroma: uniform candidates thinned by tissue, kept out of glands
    area_px = WIDTH * HEIGHT
    count = int(area_px * (MPP * 1e-3) ** 2 * 10000)  # candidates; most are dropped below
    sx = rng.uniform(0, WIDTH, count)
    sy = rng.uniform(0, HEIGHT, count)
    inside = _in_field(tissue, sx, sy) > 0
    for x, y, rx, ry in zip(gx, gy, grx, gry, strict=True):
        inside &= ((sx - x) / (rx + 30)) ** 2 + ((sy - y) / (ry + 30)) ** 2 > 1
    lymph_level = _in_field(lymphoid, sx, sy)
    keep_p = np.where(lymph_level > 0.5, 1.0, 0.4)
    inside &= rng.uniform(0, 1, count) < keep_p
    sx, sy, lymph_level = sx[inside], sy[inside], lymph_level[inside]
    n = len(sx)
    kind = rng.uniform(0, 1, n)
    lymph = (kind < 0.18) | (lymph_level > 0.5)
    fibro = ~lymph & (kind < 0.85)
    other = ~lymph & ~fibro
    a = np.empty(n, np.float32)
    b = np.empty(n, np.float32)
    od = np.empty(n, np.float32)
    a[lymph] = rng.uniform(12, 13.5, lymph.sum())  # round, ~3.2 µm radius, dark
    b[lymph] = a[lymph] * rng.uniform(0.88, 1.0, lymph.sum())
    od[lymph] = rng.uniform(1.2, 1.45, lymph.sum())
    a[fibro] = rng.uniform(22, 30, fibro.sum())  # spindles ~12 x 3 µm
    b[fibro] = rng.uniform(5.5, 7.5, fibro.sum())
    od[fibro] = rng.uniform(0.95, 1.15, fibro.sum())
    a[other] = rng.uniform(17, 22, other.sum())  # medium, slightly oval, paler
    b[other] = a[other] * rng.uniform(0.55, 0.75, other.sum())
    od[other] = rng.uniform(0.75, 0.95, other.sum())
    fibre_angle = _in_field(_smooth_noise(rng, tissue.shape, 20), sx, sy) * 1.2
    angle = np.where(fibro, fibre_angle + rng.normal(0, 0.15, n), rng.uniform(0, np.pi, n))
    parts.append((sx, sy, a, b, angle, od))
    columns = [np.concatenate([part[k] for part in parts]).astype(np.float32) for k in range(6)]
    order = np.argsort(columns[1])
    return _Nuclei(*(column[order] for column in columns))


def _stamp(h: np.ndarray, grain: np.ndarray, nuclei: _Nuclei, index: int, y0: int) -> None:
    """Draw one nucleus (soft-edged ellipse with grainy chromatin) into the strip's H density."""
    x, y = float(nuclei.x[index]), float(nuclei.y[index]) - y0
    a, b, angle = float(nuclei.a[index]), float(nuclei.b[index]), float(nuclei.angle[index])
    r = int(a) + 3
    ix, iy = int(x), int(y)
    top, left = max(iy - r, 0), max(ix - r, 0)
    bottom, right = min(iy + r + 1, h.shape[0]), min(ix + r + 1, h.shape[1])
    if top >= bottom or left >= right:
        return
    yy, xx = np.mgrid[top:bottom, left:right].astype(np.float32)
    dx, dy = xx - x, yy - y
    c, s = np.cos(angle), np.sin(angle)
    u, v = (dx * c + dy * s) / a, (dy * c - dx * s) / b
    wobble = 1.0 + 0.07 * np.sin(3 * np.arctan2(v, u) + index)  # not a perfect ellipse
    d = np.sqrt(u * u + v * v) / wobble
    profile = np.clip((1.0 - d) * b / 1.6, 0.0, 1.0) * (0.8 + 0.35 * d)  # darker rim
    gy, gx = (iy + 7919 * index) % 1024, (ix + 104729 * index) % 1024
    g = grain[gy : gy + bottom - top, gx : gx + right - left]
    if g.shape != profile.shape:
        g = np.ones_like(profile)
    patch = h[top:bottom, left:right]
    np.maximum(patch, profile * nuclei.od[index] * g, out=patch)


def _level0_rows(field: np.ndarray, factor: int, y0: int, rows: int) -> np.ndarray:
    """Level-0 rows ``y0 : y0 + rows`` of a field at 1/``factor`` scale, bilinear and seamless.

    The field is cut with a margin of a row on each side, so that neighbouring strips interpolate
    the same samples and meet without a seam.
    """
    top = max(y0 // factor - 1, 0)
    bottom = min(-(-(y0 + rows) // factor) + 1, field.shape[0])
    part = _resize(np.ascontiguousarray(field[top:bottom]), WIDTH, (bottom - top) * factor)
    offset = y0 - top * factor
    return part[offset : offset + rows].copy()


def _strips(
    rng: np.random.Generator, progress: Callable[[float, str], None] | None
) -> Iterator[np.ndarray]:
    """Level-0 strips of STRIP rows."""
    from scipy import ndimage

    tissue = _tissue_field(rng)
    gland_zone = _smooth_noise(rng, tissue.shape, 40)
    lymphoid = _smooth_noise(rng, tissue.shape, 6) - 1.6  # small aggregates
    glands = _glands(rng, tissue, gland_zone)
    nuclei = _nuclei(rng, tissue, glands, lymphoid)
    # 1/16-scale eosin: stroma density varies; glands add a cytoplasm band and a clear lumen
    yy, xx = np.mgrid[0 : tissue.shape[0], 0 : tissue.shape[1]].astype(np.float32) * LOW
    eosin = 1.0 + 0.25 * _smooth_noise(rng, tissue.shape, 8)
    lumen = np.zeros(tissue.shape, np.float32)
    for x, y, rx, ry in zip(*glands, strict=True):
        window = (
            slice(max(int((y - ry) / LOW) - 2, 0), int((y + ry) / LOW) + 3),
            slice(max(int((x - rx) / LOW) - 2, 0), int((x + rx) / LOW) + 3),
        )
        d = np.sqrt(((xx[window] - x) / rx) ** 2 + ((yy[window] - y) / ry) ** 2)
        eosin[window] = np.where(d < 1.0, 1.25 + 0.3 * (d - 0.7), eosin[window])
        lumen[window] = np.maximum(lumen[window], np.clip((0.74 - d) / 0.05, 0, 1))
    eosin *= 1 - 0.92 * lumen
    # collagen fibres at 1/4 scale: noise stretched along x or along y, blended by a smooth field
    orientation = np.clip(0.5 + 0.6 * _smooth_noise(rng, tissue.shape, 25), 0, 1)
    quarter = (HEIGHT // 4, WIDTH // 4)
    fibre_field = ndimage.gaussian_filter(rng.standard_normal(quarter, np.float32), (0.6, 3.0))
    blend = _resize(orientation, quarter[1], quarter[0])
    fibre_field *= blend
    blend = 1.0 - blend
    blend *= ndimage.gaussian_filter(rng.standard_normal(quarter, np.float32), (3.0, 0.6))
    fibre_field += blend
    del blend
    fibre_field *= 2.2 * 0.45
    fibre_field += 1.0
    np.clip(fibre_field, 0.25, None, out=fibre_field)
    stroma = fibre_field  # eosin at 1/4 scale: the smooth density times the fibres
    stroma *= _resize(eosin, quarter[1], quarter[0])
    tissue_quarter = _resize(tissue, quarter[1], quarter[0]) > 0
    grain = (0.7 + 0.6 * rng.uniform(0, 1, (2048, 2048))).astype(np.float32)
    grain = ndimage.uniform_filter(grain, 2)
    start = 0
    for strip_index, y0 in enumerate(range(0, HEIGHT, STRIP)):
        rows = min(STRIP, HEIGHT - y0)
        quarter_rows = tissue_quarter[y0 // 4 : (y0 + rows) // 4]
        mask = np.repeat(np.repeat(quarter_rows, 4, axis=0), 4, axis=1)
        e = _level0_rows(stroma, 4, y0, rows)
        h = np.full((rows, WIDTH), 0.08, np.float32)
        while start < len(nuclei.y) and nuclei.y[start] < y0 - 40:
            start += 1
        index = start
        while index < len(nuclei.y) and nuclei.y[index] < y0 + rows + 40:
            _stamp(h, grain, nuclei, index, y0)
            index += 1
        strip = _stained(h, e, rng)
        strip[~mask] = GLASS
        if progress:
            progress((strip_index + 1) * STRIP / HEIGHT * 0.8, "writing level 0")
        yield strip


STEPS = 128
"""Stain amounts are quantised to this many levels for the colour look-up (dithered by grain)."""
H_MAX, E_MAX = 1.6, 2.6


def _stain_table() -> np.ndarray:
    """RGB (uint8) of every quantised (hematoxylin, eosin) pair, by Beer–Lambert."""
    h = np.linspace(0, H_MAX, STEPS, dtype=np.float32)[:, None, None]
    e = np.linspace(0, E_MAX, STEPS, dtype=np.float32)[None, :, None]
    return (255.0 * np.exp(-(h * HEMATOXYLIN + e * EOSIN))).astype(np.uint8)


def _stained(h: np.ndarray, e: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """RGB of stain amounts, with a grain of +-2 levels of eosin (fresh noise, no pattern)."""
    scale = (STEPS - 1) / H_MAX
    hi = np.clip(h * scale, 0, STEPS - 1).astype(np.int32)
    ei = e * ((STEPS - 1) / E_MAX)
    ei += rng.integers(-2, 3, ei.shape, dtype=np.int8)
    np.clip(ei, 0, STEPS - 1, out=ei)
    hi *= STEPS
    hi += ei.astype(np.int32)
    return _stain_table().reshape(-1, 3)[hi]


def _resize(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Bilinear resize of a float image to (height, width)."""
    from PIL import Image

    return np.asarray(
        Image.fromarray(image, mode="F").resize((width, height), Image.Resampling.BILINEAR)
    )


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
        f"|AppMag = 40|MPP = {MPP}|Filename = napari-aignostics-sample|Title = Sample H&E (synthetic)"
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
