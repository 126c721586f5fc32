"""Instant reopen: a compact columnar copy of a big object table in the user cache folder.

The first open of a big cell file stores the flat polygon arrays, class codes, columns, centroids,
the spatial index, the coarse overview's centroid grid and what other models derived from the
table (:attr:`ObjectTable.derived`) in one file of raw arrays behind a JSON directory (no pickled
objects); the next open maps them back instead of parsing the file, so it reads only the pages
the first frame touches. An entry is keyed by the file's size, modification time and CRC32C (and
how it was read: scale, slide size), so a changed file is never served stale. The CRC32C of a file
is remembered by its identity (device, inode, size, modification and change times; the change time
cannot be set back), so a reopen does not read the whole file again; a file that was never hashed
and has no entry of its size, modification time and reading is hashed after the reader's first
batch, not before it. An entry is written after the
table was handed over, by one background thread, from a snapshot taken before (later edits do not
reach it); it goes to a temporary name and is renamed into place, so concurrent opens, and a
process that exits mid-write, leave a whole entry or none. The folder is trimmed to
:data:`LIMIT_BYTES`, least recently used first.
"""

from __future__ import annotations

import hashlib
import json
import mmap
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa

from ..slides.checksum import crc32c_base64
from ..slides.sample import cache_dir
from .geometry import Polygons
from .spatial import CentroidGrid, GridIndex
from .tables import ObjectTable

__all__ = [
    "LIMIT_BYTES",
    "MIN_FILE_BYTES",
    "Steps",
    "cached_table",
    "cell_cache_dir",
    "iter_cached_table",
    "wait_for_writes",
]

VERSION = 3
MAGIC = b"NACELLS1"
ALIGN = 64
LIMIT_BYTES = 4 * 1024**3
"""The cache folder is trimmed to this size (least recently used entries go first)."""
MIN_FILE_BYTES = 8 * 1024**2
"""Smaller files are read directly: they open in well under a second anyway."""
STALE_TMP_SECONDS = 3600
STALE_HASH_SECONDS = 30 * 86400
IDENTITY = ("st_dev", "st_ino", "st_size", "st_mtime_ns", "st_ctime_ns")

_WRITER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cell-cache")
"""Writes entries one at a time; Python waits for it at exit, so a started entry is finished."""
_PENDING: dict[Path, Future[None]] = {}
_PENDING_LOCK = threading.Lock()


def cell_cache_dir() -> Path:
    """``<plugin cache>/cells`` (``NAPARI_AIGNOSTICS_CACHE`` moves the plugin cache)."""
    return cache_dir() / "cells"


Derive = Callable[[ObjectTable], dict[str, np.ndarray]]
Steps = Iterator[tuple[ObjectTable, float]]
"""Tables read so far and the fraction of the file read; the whole table last (1.0)."""
_Snapshot = tuple[dict[str, np.ndarray], np.ndarray]
"""An entry's arrays (all but the ids) and the ids, taken when the table is handed over."""


def cached_table(
    path: Path,
    read: Callable[[], ObjectTable],
    *,
    how: str,
    derive: Derive | None = None,
    min_bytes: int | None = None,
    limit_bytes: int | None = None,
) -> ObjectTable:
    """``read()``'s table for ``path``, from the cache when the same file was read the same way.

    ``how`` names everything besides the file that shapes the table (reader, scale, slide size);
    ``derive`` computes arrays kept with the table (in :attr:`ObjectTable.derived`, also when the
    file is read). The cache is an optimisation: any problem with it falls back to ``read()``.
    """
    [(table, _done)] = iter_cached_table(
        path,
        lambda: iter([(read(), 1.0)]),
        how=how,
        derive=derive,
        min_bytes=min_bytes,
        limit_bytes=limit_bytes,
    )
    return table


def iter_cached_table(
    path: Path,
    read: Callable[[], Steps],
    *,
    how: str,
    derive: Derive | None = None,
    min_bytes: int | None = None,
    limit_bytes: int | None = None,
) -> Steps:
    """:func:`cached_table` for a reader that also gives the cells read so far (see :data:`Steps`).

    From the cache: the whole table at once. Else the reader's partial tables as they come, then
    the whole table (stored for the next open).
    """
    before = path.stat()
    if before.st_size < (MIN_FILE_BYTES if min_bytes is None else min_bytes):
        yield from _read(read, derive)
        return
    folder = cell_cache_dir()
    prefix = _prefix(before, how)
    crc = _known_crc32c(path, before, folder)
    if crc is None and any(folder.glob(f"{prefix}-*.cells")):
        crc = _crc32c(path, before, folder)  # an entry may be this file's: its content decides
    if crc is not None:
        entry = folder / f"{prefix}-{_digest(crc)}.cells"
        _wait_for(entry)  # this process is still writing it
        if entry.is_file():
            try:
                table = _load(entry)
                os.utime(entry)  # recently used
                yield table, 1.0
                return
            except (OSError, ValueError, KeyError, TypeError):
                entry.unlink(missing_ok=True)
    for table, done in _read(read, derive):
        if done < 1.0:
            yield table, done
        if crc is None:  # after the first batch: it is on screen while the file is hashed
            crc = _crc32c(path, before, folder)
    if crc is not None and _unchanged(path, before):  # else it changed while it was read
        limit = LIMIT_BYTES if limit_bytes is None else limit_bytes
        entry = folder / f"{prefix}-{_digest(crc)}.cells"
        _write_later(folder, entry, _snapshot(table), limit)
    yield table, 1.0


def _unchanged(path: Path, before: os.stat_result) -> bool:
    """The same identity (device, inode, size, modification and change times) as ``before``."""
    after = path.stat()
    return all(getattr(after, k) == getattr(before, k) for k in IDENTITY)


def wait_for_writes(timeout: float | None = None) -> None:
    """Wait until the entries this process started writing are in place (or given up)."""
    with _PENDING_LOCK:
        pending = list(_PENDING.values())
    for future in pending:
        future.exception(timeout)


def _wait_for(entry: Path) -> None:
    with _PENDING_LOCK:
        future = _PENDING.get(entry)
    if future is not None:
        future.exception()


def _write_later(folder: Path, entry: Path, snapshot: _Snapshot, limit_bytes: int) -> None:
    """Store ``snapshot`` as ``entry`` in the background thread, then trim the folder."""

    def write() -> None:
        try:
            _store(folder, entry, snapshot)
            _trim(folder, limit_bytes)
        except (OSError, ValueError, TypeError, MemoryError):
            pass  # the cache is an optimisation: the next open reads the file again
        finally:
            with _PENDING_LOCK:
                if _PENDING.get(entry) is future:
                    del _PENDING[entry]

    with _PENDING_LOCK:
        try:
            future = _WRITER.submit(write)
        except RuntimeError:  # the interpreter is shutting down
            return
        _PENDING[entry] = future


def _read(read: Callable[[], Steps], derive: Derive | None) -> Steps:
    """The reader's steps, the whole table with its derived arrays."""
    for table, done in read():
        yield (table, done) if done < 1.0 else (_derived(table, derive), done)


def _derived(table: ObjectTable, derive: Derive | None) -> ObjectTable:
    if derive is not None:
        table.derived.update(derive(table))
    return table


def _prefix(stat: os.stat_result, how: str) -> str:
    """The part of an entry's name known before the file is read: size, mtime and how."""
    parts = [str(VERSION), str(stat.st_size), str(stat.st_mtime_ns), how]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:24]


def _digest(crc: str) -> str:
    return hashlib.sha256(crc.encode()).hexdigest()[:16]


def _memo(path: Path, stat: os.stat_result, folder: Path) -> Path:
    identity = [str(path.resolve()), *(str(getattr(stat, k)) for k in IDENTITY)]
    return folder / "crc" / hashlib.sha256("\0".join(identity).encode()).hexdigest()[:40]


def _known_crc32c(path: Path, stat: os.stat_result, folder: Path) -> str | None:
    """The CRC32C remembered for this identity of the file (None: never hashed as it is)."""
    memo = _memo(path, stat, folder)
    try:
        known = memo.read_text()
    except OSError:
        return None
    if len(known) != 8:  # base64 of four bytes
        return None
    os.utime(memo)
    return known


def _crc32c(path: Path, stat: os.stat_result, folder: Path) -> str:
    """The file's CRC32C, remembered by the file's identity (any write changes its change time)."""
    known = _known_crc32c(path, stat, folder)
    if known is not None:
        return known
    memo = _memo(path, stat, folder)
    value = crc32c_base64(path)
    if path.stat().st_ctime_ns == stat.st_ctime_ns:  # not changed while it was read
        try:
            memo.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            tmp = memo.with_name(f".{memo.name}.{uuid.uuid4().hex}.tmp")
            tmp.write_text(value)
            os.replace(tmp, memo)
        except OSError:
            pass
    return value


def _strings(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """An object array of str as UTF-8 bytes and int64 offsets."""
    try:
        array = pa.array(values, type=pa.large_string(), from_pandas=True)
    except (pa.ArrowException, TypeError, ValueError):  # ids that are not all str
        array = pa.array([str(v) for v in values], type=pa.large_string())
    _validity, offsets, data = array.buffers()
    return (
        np.frombuffer(data, dtype=np.uint8).copy() if data is not None else np.zeros(0, np.uint8),
        np.frombuffer(offsets, dtype=np.int64)[: len(array) + 1].copy(),
    )


def _fixed_width(values: np.ndarray, data_bytes: int) -> np.ndarray | None:
    """Ids as a fixed-width str array, mapped back as is on reopen (no Python string per id), or
    None when that would be much larger than their UTF-8 bytes (one very long id) or not exact
    (fixed-width str drops trailing NULs)."""
    if not len(values) or values.dtype != object:
        return None
    try:
        fixed = np.asarray(values, dtype=np.str_)
    except (TypeError, ValueError):
        return None
    if fixed.nbytes > 8 * data_bytes + 4096 or not bool(np.all(fixed == values)):
        return None
    return fixed


def _unstrings(data: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """The object array of str that :func:`_strings` stored."""
    array = pa.LargeStringArray.from_buffers(
        len(offsets) - 1, pa.py_buffer(offsets), pa.py_buffer(data)
    )
    return np.asarray(array.to_numpy(zero_copy_only=False), dtype=object)


def _snapshot(table: ObjectTable) -> _Snapshot:
    """What :func:`_store` writes, taken now: the lazy arrays are made here (the caller needs them
    next anyway); the class and derived codes are copied, as corrections edit the codes in place."""
    names = list(table.colors)
    arrays: dict[str, np.ndarray] = {
        "coords": table.geometry.coords,
        "ring_offsets": table.geometry.ring_offsets,
        "geom_offsets": table.geometry.geom_offsets,
        "class_index": table.class_index().copy(),
        "colors": np.asarray([table.colors[n] for n in names], dtype=np.int64).reshape(-1, 3),
        "centroids": table.centroids,
        "meta": np.frombuffer(
            json.dumps(
                {
                    "names": names,
                    "measurements": list(table.measurements),
                    "confidence": table.confidence is not None,
                    "problems": table.problems,
                }
            ).encode(),
            dtype=np.uint8,
        ),
        **{f"index_{k}": v for k, v in table.index.state().items()},
        **{f"m_{i}": v for i, v in enumerate(table.measurements.values())},
        "grid": table.centroid_grid.winners,
        "grid_downsample": np.array([table.centroid_grid.downsample], dtype=np.int64),
        **{f"d_{name}": v.copy() for name, v in table.derived.items()},
    }
    if table.confidence is not None:
        arrays["confidence"] = table.confidence
    return arrays, np.asarray(table.ids, dtype=object)


def _store(folder: Path, entry: Path, snapshot: _Snapshot) -> None:
    """Write ``snapshot`` to a temporary name, then rename it to ``entry``."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    arrays, ids = snapshot
    id_data, id_offsets = _strings(ids)
    fixed_ids = _fixed_width(ids, id_data.nbytes)
    id_arrays = (
        {"id_fixed": fixed_ids}
        if fixed_ids is not None
        else {"id_data": id_data, "id_offsets": id_offsets}
    )
    tmp = folder / f".{entry.stem}.{uuid.uuid4().hex}.tmp"
    try:
        _write_arrays(tmp, {**arrays, **id_arrays})
        os.replace(tmp, entry)
    finally:
        tmp.unlink(missing_ok=True)


def _write_arrays(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Magic, a JSON directory of the arrays, then their raw bytes (each 64-byte aligned)."""
    directory: dict[str, tuple[str, list[int], int]] = {}
    offset = 0
    for name, array in arrays.items():
        directory[name] = (array.dtype.str, list(array.shape), offset)
        offset += -(-array.nbytes // ALIGN) * ALIGN
    header = json.dumps({"arrays": directory, "data_bytes": offset}).encode()
    start = -(-(len(MAGIC) + 8 + len(header)) // ALIGN) * ALIGN
    with path.open("wb") as handle:
        handle.write(MAGIC + len(header).to_bytes(8, "little") + header)
        for name, array in arrays.items():
            handle.seek(start + directory[name][2])
            handle.write(np.ascontiguousarray(array).data)
        handle.truncate(start + offset)


def _read_arrays(path: Path) -> dict[str, np.ndarray]:
    """What :func:`_write_arrays` wrote, mapped copy-on-write: pages are read as they are used,
    and writing to an array changes this process's copy only, never the entry."""
    with path.open("rb") as handle:
        head = handle.read(len(MAGIC) + 8)
        if len(head) != len(MAGIC) + 8 or not head.startswith(MAGIC):
            raise ValueError(f"{path.name}: not a cell cache entry")
        header = json.loads(handle.read(int.from_bytes(head[len(MAGIC) :], "little")))
        start = -(-handle.tell() // ALIGN) * ALIGN
        if os.fstat(handle.fileno()).st_size != start + header["data_bytes"]:
            raise ValueError(f"{path.name}: truncated cell cache entry")
        mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_COPY)
    out = {}
    for name, (dtype, shape, offset) in header["arrays"].items():
        kind = np.dtype(dtype)
        count = int(np.prod(shape, dtype=np.int64))
        if not count:
            out[name] = np.empty(shape, dtype=kind)
            continue
        out[name] = np.frombuffer(mapped, dtype=kind, count=count, offset=start + offset).reshape(
            shape
        )
    return out


def _load(entry: Path) -> ObjectTable:
    data = _read_arrays(entry)
    meta = json.loads(data["meta"].tobytes())
    names: list[str] = meta["names"]
    class_index = data["class_index"]
    lookup = np.asarray([""] + names, dtype=object)
    index = GridIndex.restore({k: data[f"index_{k}"] for k in GridIndex.STATE})
    return ObjectTable(
        geometry=Polygons(data["coords"], data["ring_offsets"], data["geom_offsets"]),
        classes=lookup[class_index],
        colors={
            n: (int(rgb[0]), int(rgb[1]), int(rgb[2]))
            for n, rgb in zip(names, data["colors"], strict=True)
        },
        ids=data["id_fixed"]
        if "id_fixed" in data
        else _unstrings(data["id_data"], data["id_offsets"]),
        confidence=data["confidence"] if meta["confidence"] else None,
        measurements={n: data[f"m_{i}"] for i, n in enumerate(meta["measurements"])},
        problems=list(meta["problems"]),
        _centroids=data["centroids"],
        _boxes=index.boxes,
        _index=index,
        _class_index=class_index,
        _grid=CentroidGrid(data["grid"], int(data["grid_downsample"][0])),
        derived={k[2:]: v for k, v in data.items() if k.startswith("d_")},
    )


def _trim(folder: Path, limit_bytes: int) -> None:
    """Remove the least recently used entries beyond ``limit_bytes``, stale temporary files and
    checksums not used for :data:`STALE_HASH_SECONDS`."""
    now = time.time()
    memos = folder / "crc"
    for memo in memos.iterdir() if memos.is_dir() else ():
        try:
            if now - memo.stat().st_mtime > STALE_HASH_SECONDS:
                memo.unlink(missing_ok=True)
        except OSError:
            continue
    entries = []
    for item in folder.iterdir():
        try:
            stat = item.stat()
        except OSError:
            continue
        if item.suffix == ".tmp" and now - stat.st_mtime > STALE_TMP_SECONDS:
            item.unlink(missing_ok=True)
        elif item.suffix == ".cells":
            entries.append((stat.st_mtime, stat.st_size, item))
    total = sum(size for _, size, _ in entries)
    for _, size, item in sorted(entries):
        if total <= limit_bytes:
            break
        item.unlink(missing_ok=True)
        total -= size
