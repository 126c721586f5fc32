"""What a results folder holds now, cheaply: tells whether loading it again would change anything."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["Signature", "item_signature"]

Signature = tuple[tuple[str, int, int], ...]


def item_signature(folder: Path) -> Signature:
    """Each file's relative path, size and modification time (ns) under ``folder``, sorted.

    A download that skips what is there, or a folder nobody touched, gives the same signature;
    any rewritten, added or removed file gives another.
    """
    found: list[tuple[str, int, int]] = []
    for root, _dirs, files in os.walk(folder):
        for name in files:
            path = os.path.join(root, name)
            try:
                stat = os.stat(path)
            except OSError:
                continue
            found.append((os.path.relpath(path, folder), stat.st_size, stat.st_mtime_ns))
    return tuple(sorted(found))
