"""Run core calls off the main thread: every network and disk step goes through here."""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable, Generator
from typing import Any

from napari.qt.threading import GeneratorWorker, WorkerBase, create_worker
from napari.utils.notifications import show_error


def error_message(error: BaseException) -> str:
    """One clear line for a notification."""
    text = str(error) or type(error).__name__
    return text if len(text) < 500 else text[:497] + "..."


class WorkerPool:
    """Keeps references to running workers, reports failures, and cancels them all on close.

    A task started with a ``key`` replaces the earlier tasks of that key: their answers (results,
    yields, errors) are dropped here, so no panel has to check whether an answer is still wanted.
    """

    MIN_THREADS = 8
    """Long pollers (runs list, followed runs) must never starve short jobs (cancel, items):
    Qt's global pool defaults to one thread per core, two on a small machine."""

    def __init__(self) -> None:
        from qtpy.QtCore import QThreadPool

        pool = QThreadPool.globalInstance()
        if pool is not None and pool.maxThreadCount() < self.MIN_THREADS:
            pool.setMaxThreadCount(self.MIN_THREADS)
        self._workers: set[WorkerBase] = set()
        self._latest: dict[str, int] = {}
        self._started = 0
        self.closed = False

    def start(
        self,
        function: Callable[..., Any],
        *args: Any,
        on_done: Callable[[Any], None] | None = None,
        on_yield: Callable[[Any], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
        on_finish: Callable[[], None] | None = None,
        key: str | None = None,
        **kwargs: Any,
    ) -> WorkerBase:
        """Start ``function`` (plain or generator) in a thread worker.

        With ``key``, only the latest task of that key reports its answers.
        """
        self._started += 1
        token = self._started
        if key is not None:
            self._latest[key] = token

        def wanted() -> bool:
            """Answers go nowhere once the pool is closed (its widgets may be gone) or superseded."""
            return not self.closed and (key is None or self._latest.get(key) == token)

        task: list[Any] = [function, args, kwargs]
        """What the worker runs; emptied when it finishes (napari's task list keeps every worker)."""
        worker = create_worker(_trampoline(task), _start_thread=False, _ignore_errors=True)
        if on_done is not None:
            done = on_done
            worker.returned.connect(lambda value: done(value) if wanted() else None)
        if on_yield is not None and isinstance(worker, GeneratorWorker):
            yielded = on_yield
            worker.yielded.connect(lambda value: yielded(value) if wanted() else None)

        def failed(error: BaseException) -> None:
            if not wanted():  # nobody is waiting for this answer any more
                return
            if on_error is not None:
                on_error(error)
            else:
                show_error(error_message(error))

        worker.errored.connect(failed)
        worker.finished.connect(lambda: self._release(worker, task))
        if on_finish is not None:
            worker.finished.connect(on_finish)
        self._workers.add(worker)
        worker.start()
        return worker

    def _release(self, worker: WorkerBase, task: list[Any]) -> None:
        """A finished worker lets go of its function, arguments and callbacks (results, layers)."""
        self._workers.discard(worker)
        task.clear()
        signals = [worker.returned, worker.errored, worker.finished]
        if isinstance(worker, GeneratorWorker):
            signals.append(worker.yielded)
        for signal in signals:
            with contextlib.suppress(TypeError, RuntimeError):  # nothing connected
                signal.disconnect()

    def drop(self, key: str) -> None:
        """Drop the answers of the running task of ``key`` (its question is no longer asked)."""
        self._latest.pop(key, None)

    def cancel_all(self) -> None:
        """Ask every running worker to stop; later failures are no longer reported."""
        self.closed = True
        for worker in list(self._workers):
            worker.quit()

    @property
    def busy(self) -> bool:
        return bool(self._workers)


def _trampoline(task: list[Any]) -> Callable[[], Any]:
    """A call of ``task`` (function, args, kwargs) that holds only the list, for clearing later.

    napari registers every worker in the window's task list for good; the worker then keeps only
    this empty list, not the arguments and closures (tables of a million cells) it ran with.
    """
    function = task[0]
    if inspect.isgeneratorfunction(function):

        def generate() -> Generator[Any, Any, Any]:
            run, args, kwargs = task
            return (yield from run(*args, **kwargs))

        return generate

    def call() -> Any:
        run, args, kwargs = task
        return run(*args, **kwargs)

    return call
