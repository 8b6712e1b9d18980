"""The scheduler's lookups across the workers' engines.

With tensor parallelism every rank's engine holds its own shard of each chunk, so a prefix can be
loaded only as far as every rank holds it: the answer is the smallest of the ranks' answers. An
engine served in this process (vLLM's single-process executor) is asked directly; any other over
its Unix socket.
"""

from __future__ import annotations

import threading

from ..lookup_client import LookupClient

_local_lock = threading.Lock()
_local_engines: dict = {}   # socket path -> Engine served in this process


def publish(path: str, engine) -> None:
    """Serves ``engine``'s lookups at ``path``, and lets this process's scheduler ask it directly."""
    engine.serve_lookups(path)
    with _local_lock:
        _local_engines[path] = engine


def withdraw(path: str) -> None:
    with _local_lock:
        _local_engines.pop(path, None)


class RankLookups:
    """Lookups, pins and the configuration of the engines of every rank."""

    def __init__(self, paths: list[str], timeout_s: float = 3.0):
        self.paths = list(paths)
        self._clients = {p: LookupClient(p, timeout_s) for p in self.paths}

    def _target(self, path: str):
        with _local_lock:
            return _local_engines.get(path) or self._clients[path]

    def lookup(self, tokens, **kwargs) -> int:
        """The ranks' common hit. ``prompt_tokens`` and ``vllm_hit_tokens`` are counted by every
        rank's engine (each worker's metrics count each request, as LMCache's workers do)."""
        return min(self._ask("lookup", tokens, kwargs), default=0)

    def lookup_tiers(self, tokens, **kwargs) -> tuple[int, int]:
        """The ranks' common hit, and how much of it every rank's CPU pool holds: ``(hit, pool)``."""
        answers = self._ask("lookup_tiers", tokens, kwargs)
        return (min(a[0] for a in answers), min(a[1] for a in answers)) if answers else (0, 0)

    def _ask(self, method: str, tokens, kwargs: dict) -> list:
        """Every rank's answer to a lookup (``cache_salt``, ``adapter``, ``pin_request_id``,
        ``prompt_tokens``, ``vllm_hit_tokens``)."""
        pin_request_id = kwargs.get("pin_request_id")
        hits = []
        try:
            for p in self.paths:
                hits.append(getattr(self._target(p), method)(tokens, **kwargs))
        except Exception:
            # One rank failed: the ranks before it have pinned the request; release those pins now
            # rather than leave them to pin_timeout_sec (best effort: the failing rank may be gone).
            if pin_request_id is not None:
                for p in self.paths[:len(hits)]:
                    try:
                        self._target(p).unpin(pin_request_id)
                    except Exception:
                        pass
            raise
        return hits

    def unpin(self, request_id: str) -> None:
        for p in self.paths:
            self._target(p).unpin(request_id)

    def config(self, startup_timeout_s: float) -> dict:
        """Rank 0's effective configuration, waiting up to ``startup_timeout_s`` for it to serve."""
        target = self._target(self.paths[0])
        if isinstance(target, LookupClient):
            target.wait_until_up(startup_timeout_s)
            return target.config()
        return target.config

    def close(self) -> None:
        for c in self._clients.values():
            c.close()
