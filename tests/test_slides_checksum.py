"""CRC32C as the platform computes it, checked against an independent implementation."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from napari_aignostics.slides import checksum
from napari_aignostics.slides.checksum import Crc32c, crc32c_base64, crc32c_base64_bytes


def _reference_crc32c(data: bytes) -> int:
    """Bitwise CRC32C (Castagnoli, reflected polynomial 0x82F63B78), written from the definition."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def _b64(value: int) -> str:
    return base64.b64encode(value.to_bytes(4, "big")).decode()


def test_check_value_of_the_standard_test_vector() -> None:
    assert _reference_crc32c(b"123456789") == 0xE3069283
    assert crc32c_base64_bytes(b"123456789") == _b64(0xE3069283) == "4waSgw=="


def test_file_checksum_matches_reference_across_chunk_boundaries(tmp_path: Path) -> None:
    data = os.urandom(300_001)
    path = tmp_path / "blob.bin"
    path.write_bytes(data)
    expected = _b64(_reference_crc32c(data))
    assert crc32c_base64(path) == expected
    assert crc32c_base64(path, chunk_size=4096) == expected
    incremental = Crc32c()
    for start in range(0, len(data), 77_777):
        incremental.update(memoryview(data)[start : start + 77_777])
    assert incremental.base64() == expected
    snapshot = incremental.copy()
    incremental.update(b"x")
    assert snapshot.base64() == expected != incremental.base64()


def test_real_slide_checksums(test_data: Path) -> None:
    small = test_data / "wsi_edge_cases" / "small.svs"
    assert crc32c_base64(small) == _b64(_reference_crc32c(small.read_bytes()))
    cmu = test_data / "wsi" / "CMU-1-Small-Region.svs"
    assert crc32c_base64(cmu) == crc32c_base64_bytes(cmu.read_bytes())


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty"
    path.write_bytes(b"")
    assert crc32c_base64(path) == "AAAAAA=="


@pytest.mark.parametrize("size", [0, 4096, 3 * 4096, 300_001])
def test_pipelined_reads_match_the_reference(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size: int
) -> None:
    """Every file through the two-thread pipeline (4 KiB buffers): empty, whole and partial last
    buffers, more buffers than the ring holds."""
    monkeypatch.setattr(checksum, "PIPELINE_MIN_BYTES", 0)
    monkeypatch.setattr(checksum, "PIPELINE_CHUNK", 4096)
    monkeypatch.setattr(checksum, "spare_core", lambda: True)
    data = os.urandom(size)
    path = tmp_path / "blob.bin"
    path.write_bytes(data)
    assert crc32c_base64(path, chunk_size=1) == _b64(_reference_crc32c(data))


@pytest.mark.parametrize("idle", [True, False])
def test_large_files_match_one_pass_with_or_without_an_idle_core(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, idle: bool
) -> None:
    monkeypatch.setattr(checksum, "spare_core", lambda: idle)
    data = os.urandom(checksum.PIPELINE_MIN_BYTES + 123_457)
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    assert crc32c_base64(path) == crc32c_base64_bytes(data)


class _FailingFile:
    """A raw file whose second read fails, as a disk or network file system can."""

    name = "slide.svs"

    def __init__(self) -> None:
        self.reads = 0

    def readinto(self, buffer: object) -> int:
        self.reads += 1
        if self.reads > 1:
            raise OSError(5, "Input/output error")
        return 4096


def test_a_read_error_reaches_the_caller() -> None:
    handle = _FailingFile()
    with pytest.raises(OSError, match="Input/output error"):
        checksum._pipelined(handle, 4096)  # type: ignore[arg-type]
    assert handle.reads == 2  # the reader stopped at the error
