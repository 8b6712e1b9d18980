"""KV events: what an engine's CPU tier gains and loses, shaped like vLLM's
``vllm.distributed.kv_events`` classes (BlockStored, BlockRemoved, AllBlocksCleared), so that the
vLLM connector can hand them to vLLM's KV-event publisher and a KV-aware router.

``Engine.take_kv_events`` decodes the C ABI's records (``lmcache4j_take_kv_events``; the layout is
in ``include/lmcache4j.h``) into these. Block hashes are the chunk keys' 16 bytes (vLLM's
``ExternalBlockHash`` is ``bytes | int``); each block is one chunk, of ``block_size`` tokens.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import numpy as np

MEDIUM_CPU = "cpu"
HEADER = struct.Struct("<BBHI16s16s")   # kind, flags, 0, n, key, parent: 40 bytes
STORED, REMOVED, CLEARED, LOST = 1, 2, 3, 4
_NO_PARENT = 1


@dataclass(frozen=True)
class BlockStored:
    block_hashes: list
    parent_block_hash: bytes | int | None
    token_ids: list
    block_size: int
    lora_id: int | None = None
    medium: str | None = MEDIUM_CPU
    lora_name: str | None = None

    def __hash__(self):  # as vLLM's: events are counted across workers
        return hash((tuple(self.block_hashes), self.parent_block_hash, tuple(self.token_ids), self.block_size,
                     self.lora_id, self.medium))


@dataclass(frozen=True)
class BlockRemoved:
    block_hashes: list
    medium: str | None = MEDIUM_CPU

    def __hash__(self):
        return hash((tuple(self.block_hashes), self.medium))


@dataclass(frozen=True)
class AllBlocksCleared:
    pass


@dataclass(frozen=True)
class EventsLost:
    """``count`` events are missing here: nobody took them and the engine's queue was full."""

    count: int = field(default=0)


def decode(buf: bytes | memoryview) -> list:
    """The events in ``buf`` (whole records, as the C ABI writes them), in order."""
    out, at, end = [], 0, len(buf)
    while at < end:
        kind, flags, _, n, key, parent = HEADER.unpack_from(buf, at)
        at += HEADER.size
        if kind == STORED:
            tokens = np.frombuffer(buf, dtype="<i4", count=n, offset=at).tolist()
            at += 4 * n
            out.append(BlockStored([key], parent if flags & _NO_PARENT else None, tokens, n))
        elif kind == REMOVED:
            out.append(BlockRemoved([key]))
        elif kind == CLEARED:
            out.append(AllBlocksCleared())
        elif kind == LOST:
            out.append(EventsLost(n))
        else:
            raise ValueError(f"unknown KV event kind {kind} at byte {at - HEADER.size}")
    return out


def int_block_hash(h: bytes | int | None) -> int | None:
    """A block hash as vLLM gives it with ``VLLM_KV_EVENTS_USE_INT_BLOCK_HASHES``: the low 64 bits
    of the big-endian bytes."""
    return h if h is None or isinstance(h, int) else int.from_bytes(h, "big") & ((1 << 64) - 1)


def with_int_hashes(event):
    """The event with integer block hashes (for routers that read vLLM's integer form)."""
    if isinstance(event, BlockStored):
        return BlockStored([int_block_hash(h) for h in event.block_hashes], int_block_hash(event.parent_block_hash),
                           event.token_ids, event.block_size, event.lora_id, event.medium, event.lora_name)
    if isinstance(event, BlockRemoved):
        return BlockRemoved([int_block_hash(h) for h in event.block_hashes], event.medium)
    return event
