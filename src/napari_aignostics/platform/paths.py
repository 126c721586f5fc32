"""Safe local names for untrusted external ids, run ids and artifact names (used by ``results_layout``).

Nothing the platform or a submitter chose may escape the download folder: separators, ``..``,
absolute paths, drive letters, NUL and other control characters, and Windows reserved device names
are neutralised. When a name had to be changed, a short hash of the original keeps distinct ids
distinct.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path, PurePosixPath, PureWindowsPath

from .errors import UnsafePathError

__all__ = [
    "ensure_inside",
    "item_folder_name",
    "run_folder_name",
    "safe_component",
]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_RESERVED = {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"}
_RESERVED |= {f"{p}{n}" for p in ("COM", "LPT") for n in range(10)}
MAX_COMPONENT = 120


def _short_hash(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:8]


def safe_component(name: str, *, original: str | None = None) -> str:
    """One safe path component for ``name``; a hash of ``original`` is appended if it changed."""
    original = name if original is None else original
    cleaned = _UNSAFE.sub("_", name).strip("._ ")[:MAX_COMPONENT]
    if not cleaned:
        cleaned = "item"
    if cleaned.split(".")[0].upper() in _RESERVED:
        cleaned = f"_{cleaned}"
    if cleaned != original:
        cleaned = f"{cleaned}-{_short_hash(original)}"
    return cleaned


def item_folder_name(external_id: str) -> str:
    """The folder of an item: the external id if already safe, else its file stem plus a hash.

    ``slide_1`` stays ``slide_1``; ``/data/slide1.svs`` becomes ``slide1-<hash>``.
    """
    already_safe = (
        bool(external_id)
        and "\x00" not in external_id
        and _UNSAFE.sub("_", external_id) == external_id
        and external_id.strip("._ ") == external_id
        and external_id.split(".")[0].upper() not in _RESERVED
        and len(external_id) <= MAX_COMPONENT
    )
    if already_safe:
        return external_id
    last = PureWindowsPath(PurePosixPath(external_id.replace("\x00", "_")).name).name
    stem = last.rsplit(".", 1)[0] if "." in last.strip(".") else last
    return safe_component(stem, original=external_id)


def run_folder_name(run_id: str) -> str:
    """The folder of a run (run ids are UUIDs; anything else is made safe)."""
    return safe_component(run_id)


def ensure_inside(folder: Path, path: Path) -> Path:
    """``path`` if it resolves inside ``folder``, else :class:`UnsafePathError`."""
    root = folder.resolve()
    resolved = path.resolve()
    if resolved != root and not resolved.is_relative_to(root):
        raise UnsafePathError(f"refusing to write {path}: it is outside {folder}")
    return path
