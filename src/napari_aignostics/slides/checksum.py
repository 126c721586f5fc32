"""CRC32C checksums as the platform uses them: big-endian digest, base64 (e.g. ``5onqtA==``).

This is the one checksum helper of the project: slides, uploads, downloads, the local platform and the
applications all use it.
"""

from __future__ import annotations

import base64
import functools
import os
import threading
from pathlib import Path

import google_crc32c

CHUNK_SIZE = 1024 * 1024
"""Bytes per read: google-crc32c checksums ``bytes`` objects from 1 MiB without holding the GIL."""
THREADS_MIN_BYTES = 32 * 1024 * 1024
"""Files from this size are split into contiguous ranges, one thread per usable core."""
MAX_THREADS = 4


class Crc32c:
    """Incremental CRC32C (Castagnoli)."""

    __slots__ = ("_value",)

    def __init__(self, data: bytes = b"", value: int = 0) -> None:
        self._value = value
        if data:
            self.update(data)

    def update(self, data: bytes | bytearray | memoryview) -> None:
        """Feed more bytes."""
        if not isinstance(data, bytes):
            data = bytes(data)
        self._value = google_crc32c.extend(self._value, data)

    @property
    def value(self) -> int:
        """The checksum as an unsigned 32-bit integer."""
        return self._value

    def digest(self) -> bytes:
        """The 4-byte big-endian digest."""
        return self._value.to_bytes(4, "big")

    def base64(self) -> str:
        """The digest in base64, as ``checksum_base64_crc32c``."""
        return base64.b64encode(self.digest()).decode("ascii")

    def copy(self) -> Crc32c:
        """An independent copy of the current state."""
        return Crc32c(value=self._value)


def crc32c_base64_bytes(data: bytes) -> str:
    """``checksum_base64_crc32c`` of an in-memory buffer."""
    return Crc32c(data).base64()


def crc32c_base64(path: str | Path, chunk_size: int = CHUNK_SIZE) -> str:
    """``checksum_base64_crc32c`` of a file, streamed in chunks (never the whole file in memory).

    A file from :data:`THREADS_MIN_BYTES` is split into contiguous ranges, one per usable core (at
    most :data:`MAX_THREADS`); each thread ``pread``s its range chunk by chunk and checksums each
    chunk while it is still in the cache, and the ranges' checksums are combined
    (:func:`crc32c_combine`). Neither the kernel's copy nor google-crc32c (for ``bytes`` from
    1 MiB) holds the GIL, so the threads run side by side. Smaller files take the calling thread.
    """
    with open(path, "rb", buffering=0) as handle:
        fd = handle.fileno()
        size = os.fstat(fd).st_size
        if size > chunk_size:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)
        threads = min(usable_cores(), MAX_THREADS) if size >= THREADS_MIN_BYTES else 1
        value = _file_crc(fd, size, threads, chunk_size)
    return Crc32c(value=value).base64()


def usable_cores() -> int:
    """How many cores this process may run on."""
    return len(os.sched_getaffinity(0))


def _file_crc(fd: int, size: int, threads: int, chunk_size: int) -> int:
    """CRC32C of the file ``fd`` of ``size`` bytes, in ``threads`` contiguous ranges.

    Ranges start on chunk boundaries, so every read starts where one pass would read (the
    kernel copies about 4x slower to a destination 1-31 bytes past its source modulo 4 KiB).
    The last range reads on to the end of the file, as one pass would; a file that shrinks
    under an earlier range raises ``OSError``.
    """
    if threads == 1:
        return _range_crc(fd, 0, None, chunk_size)[0]
    starts = [size * part // threads // chunk_size * chunk_size for part in range(threads)]
    ends: list[int | None] = [*starts[1:], None]
    results: list[tuple[int, int] | OSError | None] = [None] * threads

    def run(part: int) -> None:
        try:
            results[part] = _range_crc(fd, starts[part], ends[part], chunk_size)
        except OSError as error:  # raised by the calling thread below
            results[part] = error

    workers = [threading.Thread(target=run, args=(part,), name="crc32c") for part in range(1, threads)]
    for worker in workers:
        worker.start()
    run(0)
    for worker in workers:
        worker.join()
    value = 0
    for start, end, result in zip(starts, ends, results, strict=True):
        if not isinstance(result, tuple):
            raise result or OSError(f"checksumming bytes {start}-{end} stopped")
        part_value, length = result
        if end is not None and length != end - start:
            raise OSError(f"the file shrank to {start + length} bytes while it was checksummed")
        value = crc32c_combine(value, part_value, length)
    return value


def _range_crc(fd: int, start: int, end: int | None, chunk_size: int) -> tuple[int, int]:
    """CRC32C of the bytes of ``fd`` from ``start`` to ``end`` (``None``: the end of the file),
    and how many were read."""
    value = 0
    position = start
    while end is None or position < end:
        data = os.pread(fd, chunk_size if end is None else min(chunk_size, end - position), position)
        if not data:
            break
        value = google_crc32c.extend(value, data)
        position += len(data)
    return value, position - start


_POLY = 0x82F63B78
"""The Castagnoli polynomial, bit-reflected as CRC32C computes."""


def _multiply(a: int, b: int) -> int:
    """``a(x) * b(x)`` modulo the polynomial, bit-reflected (``a`` not zero)."""
    product = 0
    bit = 1 << 31
    while True:
        if a & bit:
            product ^= b
            if not a & (bit - 1):
                return product
        bit >>= 1
        b = (b >> 1) ^ _POLY if b & 1 else b >> 1


@functools.cache
def _powers_of_x() -> tuple[int, ...]:
    """``x^(2^k)`` modulo the polynomial for k = 0..63: lengths up to 2^61 bytes."""
    powers = [1 << 30]  # x^1
    while len(powers) < 64:
        powers.append(_multiply(powers[-1], powers[-1]))
    return tuple(powers)


def crc32c_combine(first: int, second: int, second_length: int) -> int:
    """CRC32C of ``A + B`` from CRC32C(A), CRC32C(B) and ``len(B)``: zlib's ``crc32_combine``
    (``first`` times ``x^(8 len(B))`` modulo the polynomial, plus ``second``)."""
    powers = _powers_of_x()
    power = 1 << 31  # x^0
    bits, k = second_length, 3  # x^(8 n): the product of x^(2^(j+3)) over the set bits j of n
    while bits:
        if bits & 1:
            power = _multiply(powers[k], power)
        bits >>= 1
        k += 1
    return _multiply(power, first) ^ second
