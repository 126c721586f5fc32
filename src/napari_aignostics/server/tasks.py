"""One item's analysis as a self-contained, picklable task, and the executors that run it.

The scheduler thread (``worker.py``) claims an item, builds an :class:`ItemTask` and submits
:func:`run_item` to an executor; the task never touches the database. It carries the application
(its id, version and analysis function), the input's signed URL and metadata, and where to write
outputs. A worker that shares the platform's data directory writes outputs there and returns their
paths; any other worker returns the bytes. The scheduler thread turns the :class:`ItemOutcome` into
the item's terminal state.

Executors: :class:`ThreadExecutor` (the default, items in threads of the server process) and
``ClusterExecutor`` in ``cluster.py`` (a ``dask.distributed`` cluster).
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from ..apps.base import AnalysisCancelled, AnalysisContext, ProducedArtifact, UserInputError
from ..slides.checksum import crc32c_base64
from .inputs import InputError, fetch_input

__all__ = [
    "CancelFlag",
    "Executor",
    "ItemFuture",
    "ItemOutcome",
    "ItemTask",
    "OutputFile",
    "ThreadExecutor",
    "WorkerLost",
    "run_item",
]

log = logging.getLogger(__name__)

SHARE_MARK = ".share-mark"
"""File in the work folder whose content proves a worker sees the server's data directory."""


@dataclass(frozen=True)
class ItemTask:
    """Everything one item's analysis needs, and nothing of the server."""

    item_id: str
    application_id: str
    version_number: str
    analyse: Callable[[AnalysisContext], list[ProducedArtifact]]
    """The version's analysis (a module-level function, pickled by reference)."""
    download_url: str
    input_metadata: dict[str, Any]
    work_dir: str
    """The item's scratch folder in the server's data directory (inputs, outputs)."""
    share_mark: str
    """Content of ``<work>/.share-mark``: a worker reading it there shares the data directory."""
    local_input: str | None = None
    """The bucket object behind ``download_url``, for workers that share the data directory."""
    threads: int = 2
    """Threads the analysis may use (nuclei tiles)."""
    processes: int = 0
    """Worker processes for the nuclei tiles of the item's slide (0: threads only)."""


@dataclass
class OutputFile:
    """One produced artifact: a file in the shared work folder, or its bytes."""

    name: str
    metadata: dict[str, Any]
    path: str | None = None
    data: bytes | None = None


@dataclass
class ItemOutcome:
    """How an item ended on the worker."""

    reason: Literal["SUCCEEDED", "USER_ERROR", "SYSTEM_ERROR", "CANCELLED"]
    code: str | None = None
    message: str | None = None
    outputs: list[OutputFile] = field(default_factory=list)


class WorkerLost(Exception):
    """The process analysing the item died (and the cluster gave up retrying it)."""


class CancelFlag(Protocol):
    """Set by the scheduler thread; polled by the analysis between tiles."""

    def set(self) -> None: ...

    def __call__(self) -> bool: ...


class ItemFuture(Protocol):
    """The running task."""

    def add_done_callback(self, fn: Callable[[Any], object], /) -> None: ...

    def result(self, timeout: float | None = None) -> ItemOutcome: ...


class Executor(Protocol):
    """Where items run: ``submit(run_item, task, flag)`` and a cancel flag per item."""

    def submit(
        self, fn: Callable[[ItemTask, CancelFlag], ItemOutcome], task: ItemTask, flag: CancelFlag, /
    ) -> ItemFuture: ...

    def cancel_flag(self, item_id: str) -> CancelFlag: ...

    def release(self, flag: CancelFlag) -> None: ...

    def shutdown(self, wait: bool = True) -> None: ...


class _ThreadFlag:
    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        self._event.set()

    def __call__(self) -> bool:
        return self._event.is_set()


class ThreadExecutor(ThreadPoolExecutor):
    """Items in threads of the server process (the default)."""

    def __init__(self, threads: int) -> None:
        super().__init__(max_workers=max(1, threads), thread_name_prefix="platform-item")

    def cancel_flag(self, item_id: str) -> CancelFlag:
        """A thread event."""
        return _ThreadFlag()

    def release(self, flag: CancelFlag) -> None:
        """Nothing to release."""


def _shares_data_dir(task: ItemTask) -> bool:
    mark = Path(task.work_dir).parent / SHARE_MARK
    try:
        return mark.read_text() == task.share_mark
    except OSError:
        return False


def run_item(task: ItemTask, cancelled: CancelFlag) -> ItemOutcome:
    """Fetch the input, run the analysis, collect the outputs; never raises for analysis errors."""
    if _shares_data_dir(task):
        work = Path(task.work_dir)
        shutil.rmtree(work, ignore_errors=True)  # a retry starts afresh
        work.mkdir(parents=True)
        return _run_in(task, cancelled, work, inline=False)
    with tempfile.TemporaryDirectory(prefix="napari-aignostics-item-") as tmp:
        return _run_in(task, cancelled, Path(tmp), inline=True)


def _run_in(task: ItemTask, cancelled: CancelFlag, work: Path, *, inline: bool) -> ItemOutcome:
    meta = task.input_metadata
    try:
        local = None if inline or task.local_input is None else Path(task.local_input)
        slide = fetch_input(task.download_url, work, meta.get("checksum_base64_crc32c"), local)
    except InputError as exc:
        return ItemOutcome("USER_ERROR" if exc.user else "SYSTEM_ERROR", exc.code, str(exc))
    out_dir = work / "outputs"
    out_dir.mkdir()
    context = AnalysisContext(
        slide_path=slide,
        input_metadata=meta,
        output_dir=out_dir,
        progress=lambda fraction, message: log.debug(
            "%s %.0f%% %s", task.item_id, fraction * 100, message
        ),
        cancelled=cancelled,
        threads=task.threads,
        processes=task.processes,
    )
    try:
        produced = task.analyse(context)
    except UserInputError as exc:
        return ItemOutcome("USER_ERROR", exc.code, str(exc))
    except AnalysisCancelled:
        return ItemOutcome("CANCELLED", "ITEM.CANCELLED", "the item was cancelled")
    except Exception as exc:  # noqa: BLE001 - any analysis failure is a SYSTEM_ERROR
        log.error("item %s failed:\n%s", task.item_id, traceback.format_exc())
        return ItemOutcome(
            "SYSTEM_ERROR", "WORKER.ANALYSIS_FAILED", f"{type(exc).__name__}: {exc}"[:2000]
        )
    outputs = []
    for artifact in produced:
        metadata = dict(artifact.metadata)
        if "checksum_base64_crc32c" not in metadata:  # the writers already give it: CRC once
            metadata["checksum_base64_crc32c"] = crc32c_base64(artifact.path)
        metadata.setdefault("media_type", "application/octet-stream")
        if inline:
            outputs.append(OutputFile(artifact.name, metadata, data=artifact.path.read_bytes()))
        else:
            outputs.append(OutputFile(artifact.name, metadata, path=str(artifact.path)))
    return ItemOutcome("SUCCEEDED", outputs=outputs)
