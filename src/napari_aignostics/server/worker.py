"""The worker: a scheduler thread feeding a bounded executor with items, fairly across users.

The scheduler thread keeps the state machine: it claims an item, sends a self-contained
:class:`~.tasks.ItemTask` to the executor, passes cancels on to running tasks and, when a task
ends, stores its outputs and terminates the item. ``USER_ERROR``/``SYSTEM_ERROR`` as the task
reports them, a cancelled task → SKIPPED, a task that crashed → SYSTEM_ERROR; other items go on.
The executor is a :class:`~.tasks.ThreadExecutor` by default, or a ``ClusterExecutor``
(``cluster.py``) that runs the tasks on a ``dask.distributed`` cluster.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

from .inputs import InputError, local_object
from .lifecycle import (
    ProducedOutput,
    cancel_overdue,
    expire_outputs,
    finish_item,
    requeue_item,
    start_item,
)
from .service import Platform
from .store.rows import QueuedItem
from .tasks import (
    CancelFlag,
    Executor,
    ItemFuture,
    ItemOutcome,
    ItemTask,
    ThreadExecutor,
    WorkerLost,
    run_item,
)

__all__ = ["Executor", "Worker"]

log = logging.getLogger(__name__)


class Worker:
    """Schedules pending items of all runs onto an executor."""

    def __init__(self, platform: Platform, executor: Executor | None = None) -> None:
        self.platform = platform
        self.settings = platform.settings
        self.executor: Executor = executor or ThreadExecutor(self.settings.worker_threads)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._in_flight: dict[str, tuple[str, CancelFlag]] = {}  # item id -> run id, cancel flag
        self._ended: deque[tuple[str, ItemFuture]] = deque()
        self._futures: dict[str, ItemFuture] = {}  # held until the outcome is taken
        self._last_user: str | None = None
        self._last_expiry = 0.0
        self._stop_deadline = 0.0
        self._thread = threading.Thread(target=self._loop, name="platform-scheduler", daemon=True)

    def start(self) -> None:
        """Start scheduling."""
        self._thread.start()

    def wake(self) -> None:
        """Look for work now (after a submission or a cancel)."""
        self._wake.set()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop scheduling; items still running go back to PENDING for the next start."""
        self._stop_deadline = time.monotonic() + timeout
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout + 5)
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
        self._drain()

    def _tick(self) -> None:
        store = self.platform.store
        self._take_ended()
        cancel_overdue(store)
        self._pass_cancels()
        now = time.monotonic()
        if now - self._last_expiry > self.settings.maintenance_interval_s:
            self._last_expiry = now
            expire_outputs(store, self.settings, self.platform.objects.root)
        while not self._stop.is_set() and len(self._in_flight) < self.settings.worker_threads:
            item = self._next_item()
            if item is None:
                return
            self._dispatch(item.id, item.run_id)

    def _drain(self) -> None:
        """On stop: cancel running tasks, keep what ends in time, requeue the rest."""
        for _run_id, flag in list(self._in_flight.values()):
            try:
                flag.set()
            except Exception:  # noqa: BLE001 - e.g. the cluster is gone: requeued below
                log.warning("could not cancel a running task while stopping", exc_info=True)
        while self._in_flight and time.monotonic() < self._stop_deadline:
            self._take_ended()
            self._wake.wait(0.05)
            self._wake.clear()
        self._take_ended()
        for item_id in list(self._in_flight):
            self._requeue(item_id)
            self._release(item_id)

    def _done(self, item_id: str, future: ItemFuture) -> None:
        """Executor callback (any thread): hand the ended task to the scheduler thread."""
        self._ended.append((item_id, future))
        self._wake.set()

    def _pass_cancels(self) -> None:
        """Set the cancel flag of running items whose run was cancelled."""
        if not self._in_flight:
            return
        for item_id in self.platform.store.not_processing(list(self._in_flight)):
            self._in_flight[item_id][1].set()

    def _next_item(self) -> QueuedItem | None:
        """The next pending item: round-robin over users, oldest run first, per-run limit kept."""
        per_run: dict[str, int] = {}
        for run_id, _flag in self._in_flight.values():
            per_run[run_id] = per_run.get(run_id, 0) + 1
        by_user: dict[str, QueuedItem] = {}
        for row in self.platform.store.queued_items():
            if row.id in self._in_flight:
                continue
            if per_run.get(row.run_id, 0) >= self.settings.items_per_run_parallel:
                continue
            by_user.setdefault(row.user_id, row)
        if not by_user:
            return None
        users = sorted(by_user)
        after = [u for u in users if self._last_user is None or u > self._last_user]
        user = (after or users)[0]
        self._last_user = user
        return by_user[user]

    # --- one item -------------------------------------------------------------------------------

    def _dispatch(self, item_id: str, run_id: str) -> None:
        """Claim the item and send its task to the executor (or end it here if it cannot run)."""
        if not start_item(self.platform.store, item_id):
            return
        try:
            task = self._task(item_id, run_id)
        except Exception as exc:  # noqa: BLE001 - a claimed item never stays PROCESSING
            log.exception("preparing item %s failed", item_id)
            self._finish(
                item_id, "SYSTEM_ERROR", "WORKER.ANALYSIS_FAILED", f"{type(exc).__name__}: {exc}"
            )
            self.platform.objects.clean_work_dir(item_id)
            return
        if task is None:
            return
        flag = self.executor.cancel_flag(item_id)
        with self._lock:
            self._in_flight[item_id] = (run_id, flag)
        try:
            future = self.executor.submit(run_item, task, flag)
        except Exception as exc:  # noqa: BLE001 - e.g. the cluster went away
            self._ended.append((item_id, _Failed(exc)))
            return
        self._futures[item_id] = future
        future.add_done_callback(functools.partial(self._done, item_id))

    def _task(self, item_id: str, run_id: str) -> ItemTask | None:
        """The item's task; None when it ended here (application gone, input refused)."""
        platform, store = self.platform, self.platform.store
        item = store.items([item_id])[item_id]
        run = store.run(run_id)
        assert run is not None
        version = platform.version(run.application_id, run.version_number)
        if version is None:
            self._finish(
                item_id,
                "SYSTEM_ERROR",
                "APPLICATION.UNAVAILABLE",
                f"{run.application_id} {run.version_number} is no longer served",
            )
            return None
        source = item.inputs[0]
        try:
            local = local_object(platform, source.download_url)
        except InputError as exc:
            self._finish(item_id, "USER_ERROR" if exc.user else "SYSTEM_ERROR", exc.code, str(exc))
            return None
        return ItemTask(
            item_id=item_id,
            application_id=run.application_id,
            version_number=run.version_number,
            analyse=version.run,
            download_url=source.download_url,
            input_metadata=source.metadata or {},
            work_dir=str(platform.objects.item_work_dir(item_id)),
            share_mark=platform.objects.share_mark,
            local_input=None if local is None else str(local),
            threads=self.settings.item_threads,
            processes=self.settings.item_processes,
        )

    def _take_ended(self) -> None:
        """Terminate the items whose tasks ended (scheduler thread only)."""
        while self._ended:
            item_id, future = self._ended.popleft()
            try:
                try:
                    outcome = future.result()
                except WorkerLost as exc:
                    outcome = ItemOutcome("SYSTEM_ERROR", "WORKER.INTERRUPTED", str(exc)[:2000])
                except Exception as exc:  # noqa: BLE001 - the task itself crashed
                    log.error("item %s crashed the executor: %s", item_id, exc)
                    outcome = ItemOutcome(
                        "SYSTEM_ERROR", "WORKER.CRASHED", f"{type(exc).__name__}: {exc}"[:2000]
                    )
                self._conclude(item_id, outcome)
            except Exception as exc:  # noqa: BLE001 - e.g. an undeclared artifact
                log.exception("ending item %s failed", item_id)
                self._finish(
                    item_id,
                    "SYSTEM_ERROR",
                    "WORKER.ANALYSIS_FAILED",
                    f"{type(exc).__name__}: {exc}"[:2000],
                )
            finally:
                self._release(item_id)

    def _conclude(self, item_id: str, outcome: ItemOutcome) -> None:
        if outcome.reason == "CANCELLED":
            if self._stop.is_set():
                self._requeue(item_id)
            else:
                self._finish(item_id, "SKIPPED", "ITEM.CANCELLED", "the item was cancelled")
        elif outcome.reason == "SUCCEEDED":
            produced = self._store_outputs(item_id, outcome)
            finish_item(self.platform.store, self.settings, item_id, "SUCCEEDED", produced=produced)
        else:
            self._finish(item_id, outcome.reason, outcome.code or "", outcome.message or "")

    def _release(self, item_id: str) -> None:
        with self._lock:
            entry = self._in_flight.pop(item_id, None)
        self._futures.pop(item_id, None)
        self.platform.objects.clean_work_dir(item_id)
        if entry is not None:
            try:
                self.executor.release(entry[1])
            except Exception:  # noqa: BLE001 - a leftover flag on a cluster that went away
                log.warning("could not release the cancel flag of item %s", item_id, exc_info=True)

    def _requeue(self, item_id: str) -> None:
        """The platform stops: the item goes back to the queue, this attempt not counted."""
        requeue_item(self.platform.store, item_id)

    def _finish(self, item_id: str, reason: str, code: str, message: str) -> None:
        finish_item(
            self.platform.store,
            self.settings,
            item_id,
            reason,
            error_code=code,
            error_message=message,
        )

    def _store_outputs(self, item_id: str, outcome: ItemOutcome) -> list[ProducedOutput]:
        item = self.platform.store.items([item_id])[item_id]
        ids = {a.name: a.id for a in item.outputs}
        run_id = item.item.run_id
        objects = self.platform.objects
        outputs = []
        for artifact in outcome.outputs:
            if artifact.name not in ids:
                raise RuntimeError(
                    f"the application produced an undeclared artifact {artifact.name!r}"
                )
            if artifact.data is not None:
                relative, size = objects.store_output_bytes(
                    run_id, ids[artifact.name], artifact.data
                )
            else:
                assert artifact.path is not None
                relative, size = objects.store_output(
                    run_id, ids[artifact.name], Path(artifact.path)
                )
            outputs.append(ProducedOutput(artifact.name, relative, size, artifact.metadata))
        return outputs


class _Failed:
    """A task that could not even be submitted."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def add_done_callback(self, fn: Callable[[_Failed], object], /) -> None:
        fn(self)

    def result(self, timeout: float | None = None) -> ItemOutcome:
        raise self.error
