"""LMCache4j's metrics on vLLM's own ``/metrics``, the way LMCache puts its metrics there.

vLLM's workers are processes of their own; the API server that answers ``/metrics`` reads what
they write through prometheus_client's multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``, one
directory shared by every process). Each engine a worker opens is mirrored into prometheus_client
under the engine's own definitions (``Engine.metrics()``: LMCache's names, kinds, gauge modes and
buckets) with LMCache's labels: counters grow by what the engine counted since the last update,
gauges take its values, histogram buckets and sums grow by theirs. The worker updates the mirror
after each step, at most once a second, and once more before its engine closes.

prometheus_client is optional: without it, one log line says so and nothing is exported.
"""

from __future__ import annotations

import logging
import os
import threading
import time

try:
    import prometheus_client
except ImportError:  # pragma: no cover - depends on the environment
    prometheus_client = None

log = logging.getLogger("lmcache4j.metrics")

LABEL_NAMES = ("model_name", "worker_id", "role", "served_model_name")
_lock = threading.Lock()
_collectors: dict[str, object] = {}   # one collector per metric name and process, shared by the engines
_said_missing = False


def labels_for(model: str, worker_id: int, role: str = "worker", served_model_name=None) -> dict:
    """LMCache's labels: vLLM's model, the worker's rank, its role, vLLM's served model name
    (its first name when vLLM has several, ``""`` when none)."""
    if isinstance(served_model_name, (list, tuple)):
        served_model_name = served_model_name[0] if served_model_name else None
    return {"model_name": str(model), "worker_id": str(worker_id), "role": role,
            "served_model_name": "" if served_model_name is None else str(served_model_name)}


class _NoMirror:
    """Where prometheus_client is missing (or refused our metrics): updates do nothing."""

    def update(self, force: bool = False) -> None:
        return

    def close(self) -> None:
        return


NO_MIRROR = _NoMirror()


def mirror_for(engine, labels: dict, interval_s: float = 1.0):
    """A :class:`MetricsMirror` of ``engine``, or :data:`NO_MIRROR` when prometheus_client is missing."""
    global _said_missing
    if prometheus_client is None:
        if not _said_missing:
            log.warning("prometheus_client is not installed: LMCache4j's metrics are not exported to vLLM's "
                        "/metrics (install prometheus_client)")
            _said_missing = True
        return NO_MIRROR
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    log.info("LMCache4j metrics of worker %s: %s", labels.get("worker_id"),
             f"written to PROMETHEUS_MULTIPROC_DIR={directory}" if directory else
             "in this process's registry only (PROMETHEUS_MULTIPROC_DIR is not set, so a /metrics served by "
             "another process does not see them)")
    # Its first update creates the collectors; a failure there (a name another library registered in
    # this process, say) is logged by the update and costs nothing else.
    return MetricsMirror(engine, labels, interval_s)


class MetricsMirror:
    """One engine's metrics in this process's prometheus_client collectors."""

    def __init__(self, engine, labels: dict, interval_s: float = 1.0):
        self.engine = engine
        self.labels = dict(labels)
        self.interval_s = interval_s
        self._next = 0.0
        self._last: dict = {}      # (name, label value) -> value already applied; name -> (counts, sum)
        self._update_lock = threading.Lock()
        self._failures = 0
        self.update(force=True)    # creates the collectors, so the series exist from the start

    def update(self, force: bool = False) -> None:
        """Applies what changed since the last update; at most once per ``interval_s`` unless forced.
        A failure is logged: metrics must never cost a request."""
        now = time.monotonic()
        if not force and now < self._next:
            return
        self._next = now + self.interval_s
        with self._update_lock:
            try:
                failed = None
                for m in self.engine.metrics()["metrics"]:
                    try:
                        self._apply(m)
                    except Exception as e:  # noqa: BLE001 - one metric's trouble leaves the others exported
                        failed = failed or f"{m.get('name')}: {e}"
                if failed:
                    raise RuntimeError(failed)
            except Exception as e:  # noqa: BLE001 - the serving loop goes on without this update
                # Said once at WARNING: a failure that repeats every second must not flood the log.
                self._failures += 1
                log.log(logging.WARNING if self._failures == 1 else logging.DEBUG,
                        "LMCache4j metrics update failed (%d so far): %s", self._failures, e)

    def close(self) -> None:
        """The last update, before the engine closes."""
        if not self.engine.closed:
            self.update(force=True)

    def _apply(self, m: dict) -> None:
        kind, name = m["type"], m["name"]
        collector = _collector(m)
        if kind == "histogram":
            self._histogram(collector.labels(**self.labels), name, m["counts"], float(m["sum"]))
            return
        for label_value, value in m["samples"]:
            labels = dict(self.labels, **({m["label"]: label_value} if m["label"] else {}))
            child = collector.labels(**labels)
            if kind == "gauge":
                child.set(value)
                continue
            key = (name, label_value)
            delta = value - self._last.get(key, 0.0)
            if delta > 0:
                child.inc(delta)
            self._last[key] = value

    def _histogram(self, child, name: str, counts: list, total: float) -> None:
        last_counts, last_sum = self._last.get(name, ([0] * len(counts), 0.0))
        # prometheus_client keeps a value per bucket (not cumulative) and the sum: add the engine's
        # increments to them, so buckets, _count and _sum are the engine's own (observe() could not).
        for i, (new, old) in enumerate(zip(counts, last_counts)):
            if new > old:
                child._buckets[i].inc(new - old)
        if total > last_sum:
            child._sum.inc(total - last_sum)
        self._last[name] = (list(counts), total)


def _collector(m: dict):
    """The process's collector for metric ``m``, created on first use from the engine's definition."""
    name = m["name"]
    with _lock:
        c = _collectors.get(name)
        if c is not None:
            return c
        labelnames = list(LABEL_NAMES) + ([m["label"]] if m.get("label") else [])
        if m["type"] == "counter":
            c = prometheus_client.Counter(name, m["help"], labelnames)
        elif m["type"] == "gauge":
            c = prometheus_client.Gauge(name, m["help"], labelnames, multiprocess_mode=_gauge_mode(m["mode"]))
        else:
            c = prometheus_client.Histogram(name, m["help"], labelnames, buckets=m["buckets"])
        _collectors[name] = c
        return c


def _gauge_mode(mode: str) -> str:
    """LMCache's ``multiprocess_mode``; ``livemax`` where this prometheus_client predates
    ``livemostrecent`` (each worker writes its own labelled series, so the two agree)."""
    supported = getattr(prometheus_client.Gauge, "_MULTIPROC_MODES", ())
    return mode if mode in supported else "livemax"
