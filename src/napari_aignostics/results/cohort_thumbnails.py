"""Slide thumbnails for the cohort table and report: from the lowest level, cached on disk.

The cache file is keyed by the slide's resolved path, size and modification time, so a slide that
changes gets a new thumbnail; it lives in the plugin's cache folder (``thumbnails/``).
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from ..slides.reader import open_slide
from ..slides.sample import cache_dir

__all__ = ["THUMBNAIL_PX", "thumbnail", "thumbnail_png"]

THUMBNAIL_PX = 256
MAX_READ_PX = 8192
"""The lowest level is read with a stride when it is larger than this on a side."""


def _key(path: Path, max_px: int) -> str:
    stat = path.stat()
    text = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{max_px}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _render(path: Path, max_px: int) -> bytes:
    with open_slide(path) as slide:
        level = len(slide.levels) - 1
        array = slide.levels[level]
        step = max(1, int(np.ceil(max(array.shape[:2]) / MAX_READ_PX)))
        pixels = np.asarray(array[::step, ::step].compute())
    image = Image.fromarray(pixels[..., :3].astype(np.uint8))
    image.thumbnail((max_px, max_px))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def thumbnail_png(path: Path, max_px: int = THUMBNAIL_PX, cache: Path | None = None) -> bytes:
    """PNG bytes of a slide's thumbnail (at most ``max_px`` a side), made once and cached."""
    folder = (cache or cache_dir()) / "thumbnails"
    target = folder / f"{_key(path, max_px)}.png"
    if target.is_file():
        return target.read_bytes()
    data = _render(path, max_px)
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".thumb.", suffix=".tmp")
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(tmp, target)
    return data


def thumbnail(path: Path, max_px: int = THUMBNAIL_PX, cache: Path | None = None) -> np.ndarray:
    """A slide's thumbnail as an RGB array (height, width, 3)."""
    return np.asarray(Image.open(io.BytesIO(thumbnail_png(path, max_px, cache))).convert("RGB"))
