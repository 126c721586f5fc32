"""The worker: a scheduler thread feeding a bounded executor with items, fairly across users.

Each item: claim it, fetch and verify its input, run the application version, store the outputs,
terminate it. ``UserInputError`` → USER_ERROR, ``AnalysisCancelled`` → SKIPPED, anything else →
SYSTEM_ERROR; other items go on. The executor is pluggable: anything with ``submit(fn, *args)``
returning a future with ``add_done_callback`` — a ``ThreadPoolExecutor`` by default, or a
``dask.distributed.Client`` when the work should run on a cluster that shares the data directory.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol

from ..apps.base import AnalysisCancelled, AnalysisContext, UserInputError
from ..slides.checksum import crc32c_base64
from .inputs import InputError, fetch_input
from .lifecycle import ProducedOutput, cancel_overdue, expire_outputs, finish_item, start_item
from .service import Platform

__all__ = ["Executor", "Worker"]

log = logging.getLogger(__name__)


class Executor(Protocol):
    """Where items are processed."""

    def submit(self, fn: Any, /, *args: Any) -> Any: ...

    def shutdown(self, wait: bool = True) -> None: ...


class _Stopping(Exception):
    """The platform is shutting down; the item goes back to the queue."""


class Worker:
    """Schedules pending items of all runs onto an executor."""

    def __init__(self, platform: Platform, executor: Executor | None = None) -> None:
        self.platform = platform
        self.settings = platform.settings
        self.executor: Executor = executor or ThreadPoolExecutor(
            max_workers=max(1, self.settings.worker_threads), thread_name_prefix="platform-item"
        )
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._in_flight: dict[str, str] = {}  # item id -> run id
        self._last_user: str | None = None
        self._last_expiry = 0.0
        self._thread = threading.Thread(target=self._loop, name="platform-scheduler", daemon=True)

    def start(self) -> None:
        """Start scheduling."""
        self._thread.start()

    def wake(self) -> None:
        """Look for work now (after a submission or a cancel)."""
        self._wake.set()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop scheduling; items in flight go back to PENDING for the next start."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        deadline = time.monotonic() + timeout
        while self._in_flight and time.monotonic() < deadline:
            time.sleep(0.05)
        self.executor.shutdown(wait=False)

    @property
    def busy(self) -> int:
        """Items being processed now."""
        return len(self._in_flight)

    # --- scheduling ----------------------------------------------------------------------------

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._tick()
            except Exception:  # the scheduler must survive anything
                log.exception("scheduler tick failed")
            self._wake.wait(self.settings.scheduler_interval_s)
            self._wake.clear()

    def _tick(self) -> None:
        store = self.platform.store
        cancel_overdue(store)
        now = time.monotonic()
        if now - self._last_expiry > self.settings.maintenance_interval_s:
            self._last_expiry = now
            expire_outputs(store, self.settings, self.platform.objects.root)
        while not self._stop.is_set() and len(self._in_flight) < self.settings.worker_threads:
            item = self._next_item()
            if item is None:
                return
            with self._lock:
                self._in_flight[item["id"]] = item["run_id"]
            future = self.executor.submit(self._process, item["id"])
            future.add_done_callback(lambda f, i=item["id"]: self._done(i, f))

    def _done(self, item_id: str, future: Future[Any]) -> None:
        with self._lock:
            self._in_flight.pop(item_id, None)
        error = future.exception() if not future.cancelled() else None
        if error is not None:
            log.error("item %s crashed the executor: %s", item_id, error)
        self._wake.set()

    def _next_item(self) -> dict[str, Any] | None:
        """The next pending item: round-robin over users, oldest run first, per-run limit kept."""
        per_run: dict[str, int] = {}
        for run_id in self._in_flight.values():
            per_run[run_id] = per_run.get(run_id, 0) + 1
        candidates = self.platform.store.all(
            "SELECT items.id, items.run_id, runs.user_id FROM items JOIN runs ON runs.id=items.run_id"
            " WHERE items.state='PENDING' AND runs.state!='TERMINATED'"
            " ORDER BY runs.seq, items.seq LIMIT 2000"
        )
        by_user: dict[str, dict[str, Any]] = {}
        for row in candidates:
            if row["id"] in self._in_flight:
                continue
            if per_run.get(row["run_id"], 0) >= self.settings.items_per_run_parallel:
                continue
            by_user.setdefault(row["user_id"], row)
        if not by_user:
            return None
        users = sorted(by_user)
        after = [u for u in users if self._last_user is None or u > self._last_user]
        user = (after or users)[0]
        self._last_user = user
        return by_user[user]

    # --- one item -------------------------------------------------------------------------------

    def _process(self, item_id: str) -> None:
        platform, store = self.platform, self.platform.store
        if not start_item(store, item_id):
            return
        work = platform.objects.item_work_dir(item_id)
        try:
            item = store.items([item_id])[item_id]
            run = store.run(item["run_id"])
            assert run is not None
            version = platform.version(run["application_id"], run["version_number"])
            if version is None:
                self._finish(
                    item_id,
                    "SYSTEM_ERROR",
                    "APPLICATION.UNAVAILABLE",
                    f"{run['application_id']} {run['version_number']} is no longer served",
                )
                return
            source = item["input_artifacts"][0]
            meta = source["metadata"] or {}
            try:
                slide = fetch_input(
                    platform, source["download_url"], work, meta.get("checksum_base64_crc32c")
                )
            except InputError as exc:
                self._finish(
                    item_id, "USER_ERROR" if exc.user else "SYSTEM_ERROR", exc.code, str(exc)
                )
                return
            out_dir = work / "outputs"
            out_dir.mkdir()
            context = AnalysisContext(
                slide_path=slide,
                input_metadata=meta,
                output_dir=out_dir,
                progress=lambda fraction, message: log.debug(
                    "%s %.0f%% %s", item_id, fraction * 100, message
                ),
                cancelled=self._cancel_check(item_id),
            )
            try:
                produced = version.run(context)
            except UserInputError as exc:
                self._finish(item_id, "USER_ERROR", exc.code, str(exc))
                return
            except AnalysisCancelled:
                if self._stop.is_set():
                    raise _Stopping() from None
                self._finish(item_id, "SKIPPED", "ITEM.CANCELLED", "the item was cancelled")
                return
            if self._stop.is_set():
                raise _Stopping()
            outputs = self._store_outputs(item, produced)
            finish_item(store, self.settings, item_id, "SUCCEEDED", produced=outputs)
        except _Stopping:
            with store.transaction() as db:
                db.execute(
                    "UPDATE items SET state='PENDING', attempts=MAX(attempts-1,0) "
                    "WHERE id=? AND state='PROCESSING'",
                    (item_id,),
                )
                db.execute(
                    "UPDATE output_artifacts SET state='PENDING' WHERE item_id=? "
                    "AND state='PROCESSING'",
                    (item_id,),
                )
        except Exception as exc:  # noqa: BLE001 - any analysis failure is a SYSTEM_ERROR
            log.error("item %s failed:\n%s", item_id, traceback.format_exc())
            self._finish(
                item_id,
                "SYSTEM_ERROR",
                "WORKER.ANALYSIS_FAILED",
                f"{type(exc).__name__}: {exc}"[:2000],
            )
        finally:
            platform.objects.clean_work_dir(item_id)

    def _finish(self, item_id: str, reason: str, code: str, message: str) -> None:
        finish_item(
            self.platform.store,
            self.settings,
            item_id,
            reason,
            error_code=code,
            error_message=message,
        )

    def _cancel_check(self, item_id: str) -> Any:
        state = {"at": 0.0, "cancelled": False}

        def cancelled() -> bool:
            if self._stop.is_set():
                return True
            now = time.monotonic()
            if now - state["at"] > 0.5:
                state["at"] = now
                row = self.platform.store.one("SELECT state FROM items WHERE id=?", (item_id,))
                state["cancelled"] = row is None or row["state"] != "PROCESSING"
            return bool(state["cancelled"])

        return cancelled

    def _store_outputs(self, item: dict[str, Any], produced: list[Any]) -> list[ProducedOutput]:
        ids = {a["name"]: a["id"] for a in item["output_artifacts"]}
        outputs = []
        for artifact in produced:
            if artifact.name not in ids:
                raise RuntimeError(
                    f"the application produced an undeclared artifact {artifact.name!r}"
                )
            metadata = dict(artifact.metadata)
            metadata.setdefault("checksum_base64_crc32c", crc32c_base64(artifact.path))
            metadata.setdefault("media_type", "application/octet-stream")
            relative, size = self.platform.objects.store_output(
                item["run_id"], ids[artifact.name], artifact.path
            )
            outputs.append(ProducedOutput(artifact.name, relative, size, metadata))
        return outputs
