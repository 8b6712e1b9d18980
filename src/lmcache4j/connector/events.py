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
    """The events of one or more workers, counted so that only those all of them saw are kept."""

    def __init__(self, num_workers: int = 1):
        if num_workers <= 0:
            raise ValueError("num_workers must be positive")
        self._events: Counter = Counter()
        self._order: dict = {}   # first arrival of each event: the order they are handed on in
        self._workers = num_workers

    def add_events(self, events: list) -> None:
        for e in events:
            self._order.setdefault(e, len(self._order))
        self._events.update(events)

    def aggregate(self) -> WorkerKvEvents:
        """Keeps the events every worker reported, once each."""
        common = [e for e, n in self._events.items() if n >= self._workers]
        self._events = Counter(common)
        self._workers = 1
        return self

    def increment_workers(self, count: int = 1) -> None:
        if count <= 0:
            raise ValueError("count must be positive")
        self._workers += count

    def get_all_events(self) -> list:
        return sorted(self._events.elements(), key=self._order.__getitem__)

    def get_number_of_workers(self) -> int:
        return self._workers

    def clear_events(self) -> None:
        self._events.clear()
        self._order.clear()
        self._workers = 1

    def merge(self, other: WorkerKvEvents) -> WorkerKvEvents:
        self.add_events(other.get_all_events())
        return self

    def __repr__(self) -> str:
        return f"<WorkerKvEvents workers={self._workers} events={sum(self._events.values())}>"


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
