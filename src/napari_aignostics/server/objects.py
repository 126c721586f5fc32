"""Object files of the local platform: uploaded slides (the bucket), outputs, work folders."""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

__all__ = ["ObjectStore"]


class ObjectStore:
    """Files under ``<data_dir>/objects``; keys never escape their root."""

    def __init__(self, data_dir: Path) -> None:
        self.root = data_dir / "objects"
        self.buckets = self.root / "buckets"
        self.outputs = self.root / "outputs"
        self.work = data_dir / "work"
        for path in (self.buckets, self.outputs, self.work):
            path.mkdir(parents=True, exist_ok=True)
            path.chmod(0o700)
        self.share_mark = secrets.token_hex(16)
        """Written to ``work/.share-mark``: a cluster worker that reads it shares this folder."""
        (self.work / ".share-mark").write_text(self.share_mark)

    def bucket_path(self, bucket: str, key: str) -> Path:
        """Where an object of a bucket lives; ``ValueError`` for keys that would escape."""
        parts = [p for p in key.split("/") if p]
        if not parts or any(p in {".", ".."} or "\x00" in p for p in parts):
            raise ValueError(f"invalid object key {key!r}")
        if not bucket or "/" in bucket or bucket in {".", ".."}:
            raise ValueError(f"invalid bucket {bucket!r}")
        return self.buckets.joinpath(bucket, *parts)

    async def write_stream(self, target: Path, chunks: AsyncIterator[bytes], limit: int) -> int:
        """Stream a body into ``target`` atomically (``.part`` then rename); the size."""
        target.parent.mkdir(parents=True, exist_ok=True)
        part = target.with_name(target.name + f".{os.getpid()}.part")
        size = 0
        try:
            with part.open("wb") as handle:
                async for chunk in chunks:
                    size += len(chunk)
                    if size > limit:
                        raise ValueError(f"object larger than {limit} bytes")
                    handle.write(chunk)
            part.replace(target)
        finally:
            part.unlink(missing_ok=True)
        return size

    def store_output(self, run_id: str, artifact_id: str, source: Path) -> tuple[str, int]:
        """Move a produced artifact file into the store; its relative path and size."""
        relative = f"{run_id}/{artifact_id}"
        target = self.outputs / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(source, target)
        return f"outputs/{relative}", target.stat().st_size

    def store_output_bytes(self, run_id: str, artifact_id: str, data: bytes) -> tuple[str, int]:
        """Write a produced artifact received as bytes into the store (atomically)."""
        relative = f"{run_id}/{artifact_id}"
        target = self.outputs / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        part = target.with_name(target.name + ".part")
        part.write_bytes(data)
        part.replace(target)
        return f"outputs/{relative}", len(data)

    def item_work_dir(self, item_id: str) -> Path:
        """A fresh scratch folder for one item's processing."""
        path = self.work / item_id
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True)
        return path

    def clean_work_dir(self, item_id: str) -> None:
        """Remove an item's scratch folder."""
        shutil.rmtree(self.work / item_id, ignore_errors=True)
