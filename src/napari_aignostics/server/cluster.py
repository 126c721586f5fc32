"""Items on a ``dask.distributed`` cluster: ``local:N`` worker processes or a scheduler address.

Needs the ``cluster`` extra (``pip install napari-aignostics[cluster]``). Each item is one dask task
running :func:`~.tasks.run_item`; cancels travel as a dask ``Event`` per item, polled between tiles.
A worker process that dies mid-item is retried by the dask scheduler up to its
``allowed-failures`` (set to ``max_attempts - 1`` for a cluster started here); after that the item
ends as ``SYSTEM_ERROR`` ``WORKER.INTERRUPTED``, as after a kill -9 of the server itself.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from typing import Any

from .tasks import CancelFlag, ItemOutcome, ItemTask, WorkerLost

__all__ = ["ClusterExecutor", "ClusterFlag", "cluster_threads"]

POLL_S = 0.5
"""How often a running analysis asks the scheduler whether its item was cancelled."""


class ClusterFlag:
    """A named dask ``Event``: set by the server, polled (at most every 0.5 s) on the worker."""

    def __init__(self, name: str, client: Any | None = None) -> None:
        self.name = name
        self._client = client  # the server's client; None on a worker (its own client)
        self._raised = False
        self._asked = 0.0

    def __getstate__(self) -> dict[str, Any]:
        return {"name": self.name}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["name"])  # type: ignore[misc]

    def set(self) -> None:
        """Raise the flag (server side, through the default client)."""
        from distributed import Event

        if not self._raised:
            self._raised = True
            Event(self.name, client=self._client).set()

    def clear(self) -> None:
        """Forget the flag on the scheduler (server side) once the item ended."""
        from distributed import Event

        if self._raised:
            Event(self.name, client=self._client).clear()

    def __call__(self) -> bool:
        """Whether the item was cancelled (worker side)."""
        from distributed import Event

        now = time.monotonic()
        if not self._raised and now - self._asked >= POLL_S:
            self._asked = now
            self._raised = Event(self.name).is_set()
        return self._raised


class _ClusterFuture:
    """A dask future whose lost workers surface as :class:`WorkerLost`."""

    def __init__(self, future: Any) -> None:
        self._future = future

    def add_done_callback(self, fn: Callable[[Any], object], /) -> None:
        self._future.add_done_callback(lambda _f: fn(self))

    def result(self, timeout: float | None = None) -> ItemOutcome:
        from distributed import KilledWorker
        from distributed.client import FutureCancelledError

        try:
            outcome: ItemOutcome = self._future.result(timeout)
        except KilledWorker as exc:
            raise WorkerLost(
                f"the cluster worker analysing this item died and the cluster gave up on it: {exc}"
            ) from None
        except FutureCancelledError as exc:
            raise WorkerLost(f"the cluster dropped this item's task: {exc}") from None
        return outcome


def cluster_threads(spec: str) -> int:
    """Threads one item may use on ``local:N`` (the cores shared out), else 2."""
    if spec.startswith("local:"):
        return max(1, (os.cpu_count() or 1) // max(1, _local_count(spec)))
    return 2


def _local_count(spec: str) -> int:
    text = spec.removeprefix("local:")
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"--cluster {spec!r}: use local:N with N >= 1 worker processes")
    return int(text)


class ClusterExecutor:
    """Runs item tasks on a dask cluster; :meth:`connect` makes one from ``local:N`` or an address.

    ``ClusterExecutor(client)`` uses a client of your own and leaves it open on shutdown.
    """

    def __init__(self, client: Any, cluster: Any | None = None, *, owned: bool = False) -> None:
        self.client = client
        self.cluster = cluster
        self.owned = owned

    @classmethod
    def connect(cls, spec: str, *, max_attempts: int = 2, timeout: float = 30.0) -> ClusterExecutor:
        """``local:N`` starts N worker processes on loopback; ``tcp://HOST:PORT`` joins a scheduler."""
        try:
            import dask
            from distributed import Client, LocalCluster
        except ImportError:
            raise RuntimeError(
                "--cluster needs dask.distributed: pip install 'napari-aignostics[cluster]'"
            ) from None
        if spec.startswith("local:"):
            count = _local_count(spec)
            with dask.config.set({"distributed.scheduler.allowed-failures": max(0, max_attempts - 1)}):
                cluster = LocalCluster(
                    n_workers=count,
                    threads_per_worker=1,
                    processes=True,
                    host="127.0.0.1",
                    dashboard_address=None,
                )
            return cls(Client(cluster, timeout=timeout, set_as_default=False), cluster, owned=True)
        if "://" not in spec:
            raise ValueError(f"--cluster {spec!r}: use local:N or a scheduler address tcp://HOST:PORT")
        try:
            client = Client(spec, timeout=timeout, set_as_default=False)
        except OSError as exc:
            raise RuntimeError(f"cannot reach the dask scheduler at {spec}: {exc}") from None
        return cls(client, owned=True)

    @property
    def slots(self) -> int:
        """Threads of the cluster's workers now (items it can analyse at once)."""
        return sum(self.client.nthreads().values())

    def submit(
        self, fn: Callable[[ItemTask, CancelFlag], ItemOutcome], task: ItemTask, flag: CancelFlag, /
    ) -> _ClusterFuture:
        """One dask task per item (never cached: ``pure=False``, a fresh key)."""
        key = f"napari-aignostics-item-{task.item_id}-{uuid.uuid4().hex[:8]}"
        return _ClusterFuture(self.client.submit(fn, task, flag, key=key, pure=False))

    def cancel_flag(self, item_id: str) -> CancelFlag:
        """A dask ``Event`` named for the item."""
        name = f"napari-aignostics-cancel-{item_id}-{uuid.uuid4().hex[:8]}"
        return ClusterFlag(name, self.client)

    def release(self, flag: CancelFlag) -> None:
        """Drop the item's event from the scheduler."""
        if isinstance(flag, ClusterFlag):
            flag.clear()

    def shutdown(self, wait: bool = True) -> None:
        """Disconnect and stop the worker processes, if this executor started them."""
        if not self.owned:
            return
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()
