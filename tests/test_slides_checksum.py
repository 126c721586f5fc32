"""CRC32C as the platform computes it, checked against an independent implementation."""

from __future__ import annotations

import base64
import itertools
import os
from pathlib import Path

import google_crc32c
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from napari_aignostics.slides import checksum
from napari_aignostics.slides.checksum import (
    Crc32c,
    crc32c_base64,
    crc32c_base64_bytes,
    crc32c_combine,
)


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


@pytest.mark.parametrize("threads", [2, 3, 4])
@pytest.mark.parametrize("size", [0, 1, 4096, 3 * 4096 + 1, 300_001])
def test_files_split_into_ranges_match_the_reference(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size: int, threads: int
) -> None:
    """Every file through the threaded ranges (4 KiB reads): empty, shorter than the number of
    ranges, whole and partial last chunks, ranges of unequal length."""
    monkeypatch.setattr(checksum, "THREADS_MIN_BYTES", 0)
    monkeypatch.setattr(checksum, "usable_cores", lambda: threads)
    data = os.urandom(size)
    path = tmp_path / "blob.bin"
    path.write_bytes(data)
    assert crc32c_base64(path, chunk_size=4096) == _b64(_reference_crc32c(data))


@pytest.mark.parametrize("cores", [1, 2])
def test_large_files_match_one_pass_on_one_or_two_cores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cores: int
) -> None:
    monkeypatch.setattr(checksum, "usable_cores", lambda: cores)
    data = os.urandom(checksum.THREADS_MIN_BYTES + 123_457)
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    assert crc32c_base64(path) == crc32c_base64_bytes(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000), st.lists(st.integers(0, 2000), max_size=4))
def test_combined_ranges_give_the_checksum_of_the_whole(data: bytes, cuts: list[int]) -> None:
    """Any split, empty and odd-length pieces included, combines to one pass's checksum."""
    bounds = [0, *sorted(min(cut, len(data)) for cut in cuts), len(data)]
    value = 0
    for start, end in itertools.pairwise(bounds):
        piece = data[start:end]
        value = crc32c_combine(value, google_crc32c.value(piece), len(piece))
    assert value == google_crc32c.value(data) == _reference_crc32c(data)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1),
    st.integers(0, 2**45), st.integers(0, 2**45),
)
def test_combine_is_associative_for_lengths_beyond_a_slide(
    a: int, b: int, c: int, length_b: int, length_c: int
) -> None:
    """Lengths of terabytes: (A + B) + C == A + (B + C), whichever powers of x each side uses."""
    left = crc32c_combine(crc32c_combine(a, b, length_b), c, length_c)
    right = crc32c_combine(a, crc32c_combine(b, c, length_c), length_b + length_c)
    assert left == right


def test_combine_with_a_range_longer_than_2_to_the_32_bits() -> None:
    """One range of 576 MiB (past 2^32 bits): checked against google-crc32c in one pass."""
    zeros = bytes(64 * 1024 * 1024)
    head = google_crc32c.value(b"slide")
    expected, tail = head, 0
    for _ in range(9):
        expected = google_crc32c.extend(expected, zeros)
        tail = google_crc32c.extend(tail, zeros)
    assert crc32c_combine(head, tail, 9 * len(zeros)) == expected
    assert crc32c_combine(expected, 0, 0) == expected


def test_a_file_that_shrank_since_its_size_was_read_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "slide.svs"
    path.write_bytes(os.urandom(10_000))
    fd = os.open(path, os.O_RDONLY)
    try:
        with pytest.raises(OSError, match="shrank to 10000 bytes"):
            checksum._file_crc(fd, 40_000, 2, 4096)  # the size as it was: 40 000 bytes
    finally:
        os.close(fd)


@pytest.mark.parametrize("threads", [1, 2])
def test_a_read_error_reaches_the_caller(tmp_path: Path, threads: int) -> None:
    """A read that fails (here: of a directory) raises in the calling thread, from any range."""
    fd = os.open(tmp_path, os.O_RDONLY)
    try:
        with pytest.raises(IsADirectoryError):
            checksum._file_crc(fd, 1 << 20, threads, 4096)
    finally:
        os.close(fd)
