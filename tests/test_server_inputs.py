"""An item's local input is linked or read in place, never copied; its CRC32C is checked once."""

from __future__ import annotations

from pathlib import Path

import pytest

from napari_aignostics.server.inputs import InputError, fetch_input
from napari_aignostics.slides.checksum import crc32c_base64_bytes

DATA = b"slide bytes " * 1000
URL = "http://127.0.0.1:1/bucket/b/user/slide.svs?X-Amz-Signature=x"


def test_local_input_is_hard_linked_not_copied(tmp_path: Path) -> None:
    source = tmp_path / "bucket" / "slide.svs"
    source.parent.mkdir()
    source.write_bytes(DATA)
    work = tmp_path / "work"
    work.mkdir()
    got = fetch_input(URL, work, crc32c_base64_bytes(DATA), source)
    assert got == work / "slide.svs"
    assert got.stat().st_ino == source.stat().st_ino  # the same bytes on disk, not a copy
    assert source.stat().st_nlink == 2
    source.unlink()  # the bucket object goes away (replaced, deleted): the item keeps its input
    assert got.read_bytes() == DATA


def test_local_input_with_another_checksum_is_a_user_error_and_leaves_no_link(
    tmp_path: Path,
) -> None:
    source = tmp_path / "slide.svs"
    source.write_bytes(DATA)
    work = tmp_path / "work"
    work.mkdir()
    with pytest.raises(InputError, match="CRC32C") as caught:
        fetch_input(URL, work, "AAAAAA==", source)
    assert caught.value.user and caught.value.code == "INPUT.CHECKSUM_MISMATCH"
    assert list(work.iterdir()) == []
    assert source.read_bytes() == DATA
