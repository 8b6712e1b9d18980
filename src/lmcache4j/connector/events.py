"""KV events from the workers to vLLM's publisher, as LMCache's connector reports them (vLLM's
``get_kv_connector_kv_cache_events`` on each worker, ``update_connector_output`` and
``take_events`` on the scheduler; read in vLLM's lmcache_connector.py and kv_events.py,
December 2026).

Each worker's events travel in a :class:`WorkerKvEvents` (vLLM's ``KVConnectorKVEvents``
contract); vLLM merges the workers' batches of a step, and :class:`SchedulerKvEvents` keeps what
every reporting worker reported, once, in order. Only rank 0 records and reports: the chunk keys of
each rank differ (the rank enters every key), so the ranks' events would never agree, and every
rank stores the same chunks anyway.
"""

from __future__ import annotations

from collections import Counter


class WorkerKvEvents:
    """The events of one or more workers, counted so that only those all of them saw are kept.

    They stay in the order they arrived, repeats included: a chunk stored, evicted and stored again
    within one step is three events, and a router that saw only the first two (or the stores
    first) would believe the CPU tier lost a chunk it holds."""

    def __init__(self, num_workers: int = 1):
        if num_workers <= 0:
            raise ValueError("num_workers must be positive")
        self._events: list = []   # in arrival order, repeats included
        self._workers = num_workers

    def add_events(self, events: list) -> None:
        self._events.extend(events)

    def aggregate(self) -> WorkerKvEvents:
        """Keeps the events every worker reported: each as many times as every worker reported it,
        at its first arrivals."""
        quota = {e: n // self._workers for e, n in Counter(self._events).items()}
        kept = []
        for e in self._events:
            if quota[e] > 0:
                quota[e] -= 1
                kept.append(e)
        self._events = kept
        self._workers = 1
        return self

    def increment_workers(self, count: int = 1) -> None:
        if count <= 0:
            raise ValueError("count must be positive")
        self._workers += count

    def get_all_events(self) -> list:
        return list(self._events)

    def get_number_of_workers(self) -> int:
        return self._workers

    def clear_events(self) -> None:
        self._events.clear()
        self._workers = 1

    def merge(self, other: WorkerKvEvents) -> WorkerKvEvents:
        self.add_events(other.get_all_events())
        return self

    def __repr__(self) -> str:
        return f"<WorkerKvEvents workers={self._workers} events={len(self._events)}>"


class SchedulerKvEvents:
    """The scheduler's side: collects the workers' batches each step and hands them to vLLM's publisher."""

    def __init__(self, batch_type: type = WorkerKvEvents):
        self._batch_type = batch_type
        self._pending: WorkerKvEvents | None = None

    def update(self, connector_output) -> None:
        """From vLLM's ``KVConnectorOutput`` of a step (its ``kv_cache_events``)."""
        batch = getattr(connector_output, "kv_cache_events", None)
        if not batch or not isinstance(batch, self._batch_type):
            return
        if self._pending is None:
            self._pending = batch
        else:
            self._pending.add_events(batch.get_all_events())
            self._pending.increment_workers(batch.get_number_of_workers())

    def take(self):
        """The events since the last take (a generator, as vLLM's ``take_events``)."""
        if self._pending is not None:
            pending, self._pending = self._pending, None
            yield from pending.aggregate().get_all_events()
            pending.clear_events()
