"""The engine and the vLLM connector on paged caches in device memory, from Python, on the CPU-run
CUDA driver (docs/cuda-emulator.md): torch-like device tensors and streams (cuda_driver.py), every
byte read back through the driver, the serving engine's KV written and read on its own stream.

Needs LMCACHE4J_CUDA_DRIVER and LMCACHE4J_CUDA_FATBIN (absolute paths) for the whole pytest run,
since the engine's JVM reads them when it starts (the first engine opened in the process):

    LMCACHE4J_CUDA_DRIVER=$PWD/native/build/cuda-emulator/libcuda.so.1 \\
    LMCACHE4J_CUDA_FATBIN=$PWD/native/build/kv_transfer.fatbin  python3 -m pytest tests/python

Without them the tests are skipped, saying why; with LMCACHE4J_REQUIRE_CUDA_EMULATOR=1 they fail.
conftest.py gives the emulator two devices. Every test ends with no lease or pin left after
wait_transfers, and the emulator's live resources (contexts, primary retains, device memory,
streams, events, modules, host registrations and allocations), faults and reclaimed leaks as
they were before it.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from conftest import SMALL_POOL, random_caches, rows
from fake_vllm import Request, Vllm

import cuda_driver as cd
from lmcache4j import Engine, InvalidArgumentError, KvLayout
from lmcache4j.connector import ConnectorContext, RankLookups, SchedulerSide, WorkerSide

MISSING = cd.missing()
MODES = ["kernel", "dma"]
FORMATS = ["flash_attn", "blocks_first", "mla"]
STREAMS = ["object", "int", "protocol", "none"]
COMPUTE_S = 0.2      # the caller's "forward pass" before it writes its KV
DELAY_US = 5000      # each stream op sleeps this long in the retrieve ordering checks


def layout(kv_format="flash_attn", num_blocks=128) -> KvLayout:
    return KvLayout(num_layers=2, num_kv_heads=1 if kv_format == "mla" else 2, head_size=16, block_size=16,
                    num_blocks=num_blocks, dtype="bfloat16", kv_format=kv_format)


def disjoint_slots(lay: KvLayout, *counts: int, seed: int = 1) -> list[np.ndarray]:
    """Slot mappings of these lengths over shuffled blocks, no block shared between two of them."""
    blocks = np.random.default_rng(seed).permutation(lay.num_blocks)
    out, first = [], 0
    for n in counts:
        used = -(-n // lay.block_size)
        assert first + used <= lay.num_blocks
        b = blocks[first:first + used]
        out.append((b[:, None] * lay.block_size + np.arange(lay.block_size)).reshape(-1)[:n].astype(np.int64))
        first += used
    return out


def put_rows(caches: list, lay: KvLayout, slots, values: np.ndarray) -> None:
    """The inverse of conftest.rows: writes values[layer] at the slots of every layer."""
    slots = np.asarray(slots)
    for c, v in zip(caches, values):
        if lay.kv_format == "flash_attn":
            c.reshape(2, -1, lay.num_kv_heads * lay.head_size)[:, slots] = v
        elif lay.kv_format == "blocks_first":
            view = c.reshape(lay.num_blocks, 2, lay.block_size, -1)
            for p in range(2):
                view[slots // lay.block_size, p, slots % lay.block_size] = v[p]
        else:
            c.reshape(-1, lay.head_size)[slots] = v


class CallerStream:
    """The serving engine's stream, in each form Engine.store/retrieve take: a Stream object
    (``.cuda_stream``), its raw CUstream int, an object with ``__cuda_stream__``, or None (the legacy
    default stream, handle 0). ``handle`` is what the test's own copies on it use."""

    def __init__(self, res, kind: str, device: int = 0, non_blocking: bool = False):
        self.kind, self.device = kind, device
        self.stream = None if kind == "none" else res.stream(device, non_blocking)
        self.handle = 0 if self.stream is None else self.stream.cuda_stream
        if kind == "object":
            self.arg = self.stream
        elif kind == "int":
            self.arg = self.handle
        elif kind == "protocol":
            handle = self.handle
            self.arg = type("CudaStreamProtocol", (), {"__cuda_stream__": lambda self: (0, handle)})()
        else:
            self.arg = None

    def compute(self, seconds: float) -> None:
        cd.sleep_on_stream(self.handle, seconds, self.device)


class DeviceCaches:
    """One CudaTensor per layer, and their host mirror (numpy, the dtype's host form) as last read
    back or written; the tensors' bytes are reached only through the driver."""

    def __init__(self, res, lay: KvLayout, device: int = 0, seed: int = 0):
        self.layout = lay
        self.tensors = [res.tensor(lay.cache_shape, lay.dtype, device) for _ in range(lay.num_layers)]
        self.host = random_caches(lay, seed)
        for t, h in zip(self.tensors, self.host):
            t.upload(h)

    def read_back(self, stream: int = 0) -> list:
        """Every layer's bytes, after the work queued on ``stream``."""
        self.host = [t.download(stream) for t in self.tensors]
        return self.host

    def rows(self, slots, stream: int = 0) -> np.ndarray:
        return rows(self.read_back(stream), self.layout, slots).copy()

    def write_rows(self, slots, seed: int, stream: int = 0, compute_s: float = 0.0, device: int = 0) -> np.ndarray:
        """The forward pass: on ``stream``, ``compute_s`` of compute, then fresh KV at the slots
        that are not -1 (one upload per layer). Returns the rows written (in conftest.rows order)."""
        self.read_back(stream)
        valid = np.asarray(slots)[np.asarray(slots) >= 0]
        shape = rows(self.host, self.layout, valid).shape
        put_rows(self.host, self.layout, valid, np.random.default_rng(seed).integers(0, 1 << 16, shape, np.uint16))
        if compute_s:
            cd.sleep_on_stream(stream, compute_s, device)
        for t, h in zip(self.tensors, self.host):
            t.upload(h, stream)
        return rows(self.host, self.layout, slots).copy()


class Resources:
    """What a test made, closed in reverse at its end: engines (after wait_transfers, checked for
    leases and pins), then streams, contexts and device memory."""

    def __init__(self):
        self.driver = cd.driver()
        self.engines: list[Engine] = []
        self.closables: list = []

    def engine(self, lay: KvLayout, mode: str = "kernel", **settings) -> Engine:
        config = {**SMALL_POOL, **settings, "extra_config": {"cuda_transfer": mode, **settings.get("extra_config", {})}}
        e = Engine(config, lay, model="cuda-test")
        self.engines.append(e)
        return e

    def tensor(self, shape, dtype="bfloat16", device: int = 0) -> cd.CudaTensor:
        t = cd.CudaTensor(shape, dtype, device)
        self.closables.append(t.free)
        return t

    def caches(self, lay: KvLayout, device: int = 0, seed: int = 0) -> DeviceCaches:
        return DeviceCaches(self, lay, device, seed)

    def stream(self, device: int = 0, non_blocking: bool = False) -> cd.Stream:
        s = cd.Stream(device, non_blocking)
        self.closables.append(s.close)
        return s

    def context(self, device: int = 0) -> cd.OwnContext:
        c = cd.OwnContext(device)
        self.closables.append(c.close)
        return c

    def close(self) -> list[str]:
        problems = []
        self.driver.set_delay_us(0)
        for e in reversed(self.engines):
            if e.closed:
                continue
            try:
                e.wait_transfers()
                s = e.stats()
                if (s.leases, s.pins) != (0, 0):
                    problems.append(f"engine left leases {s.leases}, pins {s.pins}")
            except Exception as ex:  # reported, and the rest is still closed
                problems.append(f"engine: {ex!r}")
            e.close()
        for close in reversed(self.closables):
            try:
                close()
            except Exception as ex:
                problems.append(f"{close}: {ex!r}")
        return problems


@pytest.fixture
def res():
    """The emulator (or a skip saying why it is missing; a failure where it is required), and the
    test's resources, checked for leaks at the end."""
    if MISSING:
        if os.environ.get("LMCACHE4J_REQUIRE_CUDA_EMULATOR") == "1":
            pytest.fail(f"the CUDA path must run here (LMCACHE4J_REQUIRE_CUDA_EMULATOR=1), but {MISSING}")
        pytest.skip(MISSING)
    d = cd.driver()
    assert d.device_count() == 2, "conftest.py sets LMCACHE4J_CUDA_EMULATOR_DEVICES=2 before cuInit"
    d.set_delay_us(0)
    before = d.counts()
    r = Resources()
    yield r
    problems = r.close()
    after = d.counts()
    assert not problems, problems
    assert after.owned() == before.owned(), f"device resources left behind: before {before}, after {after}"


def stats_key(e: Engine) -> tuple:
    s = e.stats()
    return (s.chunks, s.stored_tokens, s.retrieved_tokens, s.pages_in_use, s.leases, s.pins)


# ---------------------------------------------------------------- engine on device tensors


@pytest.mark.parametrize("stream_kind", STREAMS)
@pytest.mark.parametrize("kv_format", FORMATS)
@pytest.mark.parametrize("mode", MODES)
def test_store_then_retrieve_into_other_blocks_is_byte_exact(res, mode, kv_format, stream_kind):
    lay = layout(kv_format)
    caches = res.caches(lay, seed=3)
    engine = res.engine(lay, mode)
    engine.register_kv_caches({f"model.layers.{i}.attn": t for i, t in enumerate(caches.tensors)})
    assert engine.config["extra_config"]["cuda_transfer"] == mode
    caller = CallerStream(res, stream_kind)
    tokens = np.random.default_rng(1).integers(0, 32000, 600)
    frm, to, holed = disjoint_slots(lay, 600, 600, 512, seed=2)
    launches = res.driver.counts().launches

    written = caches.write_rows(frm, seed=4, stream=caller.handle)
    assert engine.store(tokens, frm, stream=caller.arg) == 600, "two chunks and the partial third"
    engine.wait_transfers()
    assert engine.lookup(tokens) == 600

    to[300::7] = -1  # a padded request: those tokens' rows are neither read nor written
    before = [h.copy() for h in caches.read_back(caller.handle)]
    assert engine.retrieve(tokens, to, stream=caller.arg) == 600
    after = caches.read_back(caller.handle)  # the caller's next work on its stream
    expected = [h.copy() for h in before]
    put_rows(expected, lay, to[to >= 0], written[..., to >= 0, :])
    assert all(np.array_equal(a, b) for a, b in zip(after, expected)), "loaded KV differs, or other rows changed"

    # Only the second chunk asked for (skip_leading 256): the first chunk's rows stay as they are.
    caches.write_rows(to, seed=5, stream=caller.handle)
    before = [h.copy() for h in caches.read_back(caller.handle)]
    assert engine.retrieve(tokens, to, 256, stream=caller.arg) == 344
    expected = [h.copy() for h in before]
    part = np.arange(600) >= 256
    put_rows(expected, lay, to[part & (to >= 0)], written[..., part & (to >= 0), :])
    assert all(np.array_equal(a, b) for a, b in zip(caches.read_back(caller.handle), expected))

    # A prompt whose second chunk has a hole stores its first chunk only.
    other = np.random.default_rng(6).integers(0, 32000, 512)
    holed[300] = -1
    caches.write_rows(holed, seed=7, stream=caller.handle)
    assert engine.store(other, holed, stream=caller.arg) == 256
    engine.wait_transfers()
    assert engine.lookup(other) == 256
    launched = res.driver.counts().launches - launches
    assert launched > 0 if mode == "kernel" else launched == 0, f"{launched} kernel launches in {mode} mode"


@pytest.mark.parametrize("stream_kind", ["object", "none"])
@pytest.mark.parametrize("mode", MODES)
def test_a_store_reads_the_kv_the_callers_stream_has_not_written_yet(res, mode, stream_kind):
    """The forward pass computes for 0.2 s on the caller's stream, then writes its KV; the store
    is called at once, and must still store the new KV (invariant 7)."""
    lay = layout()
    caches = res.caches(lay, seed=11)
    engine = res.engine(lay, mode)
    engine.register_kv_caches(caches.tensors)
    caller = CallerStream(res, stream_kind)
    tokens = np.random.default_rng(12).integers(0, 32000, 512)
    frm, to = disjoint_slots(lay, 512, 512, seed=13)
    stale = caches.rows(frm)
    written = caches.write_rows(frm, seed=14, stream=caller.handle, compute_s=COMPUTE_S)
    assert engine.store(tokens, frm, stream=caller.arg) == 512
    engine.wait_transfers()
    assert engine.retrieve(tokens, to, stream=caller.arg) == 512
    loaded = caches.rows(to, caller.handle)
    assert not np.array_equal(loaded, stale), "the store read the KV from before the forward pass"
    assert np.array_equal(loaded, written)


@pytest.mark.parametrize("mode", MODES)
def test_the_store_ordering_check_can_fail(res, mode):
    """The check above with the wrong stream: the forward pass runs on a non-blocking stream, which
    the legacy default stream (stream=None) does not wait for, so the store reads the old KV."""
    lay = layout()
    caches = res.caches(lay, seed=21)
    engine = res.engine(lay, mode)
    engine.register_kv_caches(caches.tensors)
    caller = CallerStream(res, "object", non_blocking=True)
    tokens = np.random.default_rng(22).integers(0, 32000, 256)
    frm, to = disjoint_slots(lay, 256, 256, seed=23)
    stale = caches.rows(frm)
    written = caches.write_rows(frm, seed=24, stream=caller.handle, compute_s=COMPUTE_S)
    assert engine.store(tokens, frm, stream=None) == 256
    engine.wait_transfers()
    caller.stream.synchronize()
    assert engine.retrieve(tokens, to) == 256
    loaded = caches.rows(to)
    assert np.array_equal(loaded, stale) and not np.array_equal(loaded, written)


@pytest.mark.parametrize("stream_kind", ["object", "none"])
@pytest.mark.parametrize("mode", MODES)
def test_the_callers_stream_reads_a_retrieves_kv_only_after_it_landed(res, mode, stream_kind):
    """Every stream op takes 5 ms: the retrieve's copies take several, the caller's read-back one,
    queued right after the call returns."""
    lay = layout()
    caches = res.caches(lay, seed=31)
    engine = res.engine(lay, mode)
    engine.register_kv_caches(caches.tensors)
    caller = CallerStream(res, stream_kind)
    tokens = np.random.default_rng(32).integers(0, 32000, 512)
    frm, to = disjoint_slots(lay, 512, 512, seed=33)
    written = caches.rows(frm)
    assert engine.store(tokens, frm, stream=caller.arg) == 512
    engine.wait_transfers()
    stale = caches.rows(to)
    res.driver.set_delay_us(DELAY_US)
    assert engine.retrieve(tokens, to, stream=caller.arg) == 512
    loaded = caches.rows(to, caller.handle)
    res.driver.set_delay_us(0)
    assert not np.array_equal(loaded, stale), "the caller's stream read the blocks before the retrieve landed"
    assert np.array_equal(loaded, written)


@pytest.mark.parametrize("device", [0, 1])
def test_cuda_array_interface_objects_register_on_the_device_the_driver_names(res, device):
    lay = layout("blocks_first")
    caches = res.caches(lay, device=device, seed=41)
    engine = res.engine(lay)
    engine.register_kv_caches([cd.CudaArray(t) for t in caches.tensors])
    caller = CallerStream(res, "object", device=device)
    tokens = np.random.default_rng(42).integers(0, 32000, 300)
    frm, to = disjoint_slots(lay, 300, 300, seed=43)
    written = caches.write_rows(frm, seed=44, stream=caller.handle, device=device)
    assert engine.store(tokens, frm, stream=caller.arg) == 300
    engine.wait_transfers()
    assert engine.retrieve(tokens, to, stream=caller.arg) == 300
    assert np.array_equal(caches.rows(to, caller.handle), written)
    if device == 1:  # a stream of device 0 is another context's
        other = CallerStream(res, "object", device=0)
        with pytest.raises(InvalidArgumentError, match=f"CUDA stream {other.handle:#x} belongs to another CUDA"):
            engine.retrieve(tokens, to, stream=other.arg)


# ---------------------------------------------------------------- bad input


def test_bad_device_claims_are_refused_naming_the_value_and_change_nothing(res):
    lay = layout()
    caches = res.caches(lay, device=0, seed=51)
    on_1 = res.caches(lay, device=1, seed=52)
    engine = res.engine(lay)
    engine.register_kv_caches(caches.tensors)
    caller = CallerStream(res, "object")
    tokens = np.random.default_rng(53).integers(0, 32000, 300)
    frm, to = disjoint_slots(lay, 300, 300, seed=54)
    written = caches.write_rows(frm, seed=55, stream=caller.handle)
    assert engine.store(tokens, frm, stream=caller.arg) == 300
    engine.wait_transfers()
    state = stats_key(engine)
    addresses = [t.data_ptr() for t in caches.tensors]
    mixed = [caches.tensors[0], on_1.tensors[1]]

    with pytest.raises(InvalidArgumentError, match=r"KV caches are on several devices \(\[0, 1\]\)"):
        engine.register_kv_caches(mixed)
    with pytest.raises(InvalidArgumentError, match=r"the layer caches are on several CUDA devices \[0, 1\]"):
        engine.register_kv_caches([cd.CudaArray(t) for t in mixed])
    with pytest.raises(InvalidArgumentError, match=r"on several CUDA devices \[0, 1\]"):
        engine.register_kv_cache_addresses([t.data_ptr() for t in mixed], 0)
    with pytest.raises(InvalidArgumentError, match="CUDA device 5 does not exist: the driver sees 2 device"):
        engine.register_kv_cache_addresses(addresses, 5)
    with pytest.raises(InvalidArgumentError, match="registered for CUDA device 1, but they are memory of CUDA device"):
        engine.register_kv_cache_addresses(addresses, 1)
    with pytest.raises(InvalidArgumentError, match=f"registered as host memory \\(device -1\\), but layer 0 at "
                                                   f"{addresses[0]:#x} is memory of CUDA device 0"):
        engine.register_kv_cache_addresses(addresses, -1)
    with pytest.raises(InvalidArgumentError, match="device -3 is not a device id"):
        engine.register_kv_cache_addresses(addresses, -3)
    with pytest.raises(InvalidArgumentError, match="page-locked for CUDA device 0: caches on device 1"):
        engine.register_kv_caches(on_1.tensors)
    assert stats_key(engine) == state

    # The first registration still holds: the chunks load into the device-0 caches.
    assert engine.retrieve(tokens, to, stream=caller.arg) == 300
    assert np.array_equal(caches.rows(to, caller.handle), written)


def test_bad_streams_are_refused_naming_the_stream_and_change_nothing(res):
    lay = layout("mla")
    caches = res.caches(lay, seed=61)
    engine = res.engine(lay)
    engine.register_kv_caches(caches.tensors)
    caller = CallerStream(res, "object")
    tokens = np.random.default_rng(62).integers(0, 32000, 400)
    frm, to = disjoint_slots(lay, 400, 400, seed=63)
    written = caches.write_rows(frm, seed=64, stream=caller.handle)

    own = res.context(0)
    foreign = own.stream()                                  # device 0, but a context of its own
    on_device_1 = res.stream(1).cuda_stream                 # device 1's primary context
    dead = cd.Stream(0)
    dead_handle = dead.cuda_stream
    dead.close()
    garbage = 0xDEADBEEF0
    untouched = [h.copy() for h in caches.read_back()]
    for handle, why in [(foreign, "belongs to another CUDA context"), (on_device_1, "belongs to another CUDA context"),
                        (dead_handle, "is not a live stream"), (garbage, "is not a live stream")]:
        for call in (engine.store, engine.retrieve):
            with pytest.raises(InvalidArgumentError, match=f"CUDA stream {handle:#x} {why}"):
                call(tokens, frm if call == engine.store else to, stream=handle)
        assert stats_key(engine)[:3] == (0, 0, 0), "a refused call stored or loaded something"
    with pytest.raises(InvalidArgumentError, match="stream must be a CUDA stream"):
        engine.store(tokens, frm, stream=-1)
    assert all(np.array_equal(a, b) for a, b in zip(caches.read_back(), untouched)), "a refused retrieve wrote"

    # Still usable, on the right stream.
    assert engine.store(tokens, frm, stream=caller.arg) == 400
    engine.wait_transfers()
    assert engine.retrieve(tokens, to, stream=caller.arg) == 400
    assert np.array_equal(caches.rows(to, caller.handle), written)


def test_caches_in_a_context_of_their_own_are_copied_there(res):
    """Caches allocated in a cuCtxCreate context (not the primary one): the engine copies in that
    context, takes its streams, and refuses the primary context's."""
    d, lay = res.driver, layout()
    own = res.context(0)
    ptrs = []
    for _ in range(lay.num_layers):
        ptrs.append(d.in_context(own.handle, d.mem_alloc, lay.layer_bytes))
        res.closables.append(lambda p=ptrs[-1]: d.in_context(own.handle, d.mem_free, p))
    host = random_caches(lay, 71)
    for p, h in zip(ptrs, host):
        d.in_context(own.handle, d.htod, p, h)
    stream = own.stream()
    engine = res.engine(lay, "dma")
    engine.register_kv_cache_addresses(ptrs, -2)  # LMCACHE4J_DEVICE_AUTO: the driver says
    tokens = np.random.default_rng(72).integers(0, 32000, 512)
    frm, to = disjoint_slots(lay, 512, 512, seed=73)
    assert engine.store(tokens, frm, stream=stream) == 512
    engine.wait_transfers()
    assert engine.retrieve(tokens, to, stream=stream) == 512
    out = [np.empty_like(h) for h in host]
    for o, p in zip(out, ptrs):
        d.in_context(own.handle, d.dtoh, o, p, stream)
    assert np.array_equal(rows(out, lay, to), rows(host, lay, frm))
    primary = res.stream(0)
    with pytest.raises(InvalidArgumentError, match=f"CUDA stream {primary.cuda_stream:#x} belongs to another CUDA "
                                                   f"context .* than the KV caches on device 0"):
        engine.store(tokens, frm, stream=primary)


@pytest.mark.parametrize("mode", MODES)
def test_closing_with_copies_in_flight_waits_for_them_and_leaks_nothing(res, mode):
    lay = layout()
    caches = res.caches(lay, seed=81)
    engine = res.engine(lay, mode)
    engine.register_kv_caches(caches.tensors)
    caller = CallerStream(res, "object")
    tokens = np.random.default_rng(82).integers(0, 32000, 512)
    frm, to = disjoint_slots(lay, 512, 512, seed=83)
    caches.write_rows(frm, seed=84, stream=caller.handle, compute_s=COMPUTE_S)
    assert engine.store(tokens, frm, stream=caller.arg) == 512  # its gathers wait for the forward pass
    engine.close()
    other = res.engine(lay, mode)
    other.register_kv_caches(caches.tensors)
    assert other.store(tokens, frm, stream=caller.arg) == 512
    other.wait_transfers()
    caller.compute(COMPUTE_S)
    assert other.retrieve(tokens, to, stream=caller.arg) == 512  # its scatters wait for the compute
    other.close()
    assert np.array_equal(caches.rows(to, caller.handle), caches.rows(frm, caller.handle))
    assert res.driver.last_fault() == ""


# ---------------------------------------------------------------- the vLLM connector's worker


class GpuVllm(Vllm):
    """fake_vllm's instance with its paged caches in device memory: the forward pass computes on
    the current stream (0.05 s) and then uploads its KV there; the test reads back on that stream."""

    def __init__(self, res, lay, scheduler, worker, stream: cd.Stream):
        super().__init__(lay, scheduler, worker)
        self.stream = stream
        self.device_caches = [res.tensor(lay.cache_shape, "bfloat16", 0) for _ in range(lay.num_layers)]

    def register(self):
        self.worker.register_kv_caches({f"model.layers.{i}.attn": c for i, c in enumerate(self.device_caches)})

    def _pull(self):
        self.caches = [t.download(self.stream) for t in self.device_caches]

    def _compute(self, request, start, end, layers=None):
        self._pull()  # after the step's loads, as the forward pass sees the blocks
        super()._compute(request, start, end, layers)
        self.stream.sleep(0.05)
        for layer, (t, h) in enumerate(zip(self.device_caches, self.caches)):
            if layers is None or layer in layers:  # a layer's attention writes its own cache only
                t.upload(h, self.stream)

    def rows(self, request, start, end):
        self._pull()
        return super().rows(request, start, end)


@pytest.fixture
def gpu_vllm(res, tmp_path):
    made = []

    def make(settings=None, **kw):
        lay = KvLayout(num_layers=2, num_kv_heads=2, head_size=8, block_size=16, num_blocks=256, dtype="bfloat16")
        ctx = ConnectorContext(block_size=16, model="m", instance_id=f"gpu{os.getpid()}-{len(made)}",
                               socket_dir=str(tmp_path / "sockets"), settings={**SMALL_POOL, **(settings or {})},
                               kv_cache_dtype="bfloat16", **kw)
        stream = res.stream(0)
        worker = WorkerSide(ctx, rank=0, current_stream=lambda: stream)
        scheduler = SchedulerSide(ctx, RankLookups(ctx.socket_paths()))
        v = GpuVllm(res, lay, scheduler, worker, stream)
        v.register()
        made.append(v)
        return v

    yield make
    problems = []
    for v in made:
        try:
            if v.worker.engine is not None:
                v.worker.engine.wait_transfers()
                s = v.worker.engine.stats()
                if (s.leases, s.pins) != (0, 0):
                    problems.append(f"worker engine left {s}")
        finally:
            v.worker.shutdown()
            v.scheduler.lookups.close()
    assert not problems, problems


def test_the_connector_loads_and_saves_device_caches_in_order_with_the_current_stream(res, gpu_vllm):
    """vLLM's steps on device caches: the worker's loads and saves go on the current stream, with
    every stream op taking 2 ms and each forward pass 50 ms, so an unordered copy reads or leaves
    stale KV."""
    v = gpu_vllm()
    res.driver.set_delay_us(2000)
    assert v.worker.on_gpu and v.worker.engine.layout == KvLayout(2, 2, 8, 16, 256, "bfloat16", "flash_attn")
    base = list(range(5, 1005))
    assert v.run(Request("a", base)) == 0
    v.worker.engine.wait_transfers()
    assert v.worker.engine.stats().stored_tokens == 1000, "the prompt and its partial chunk"

    second = Request("b", base + list(range(9000, 9100)))
    assert v.add(second) == 768, "the 3 whole chunks; the partial fourth differs"
    plan = v.plans[-1].requests[0]
    assert (plan.load.num_tokens, plan.save.skip_leading, plan.save.num_tokens) == (768, 768, 1100)
    assert v.loaded_exactly(second, 1100), "loaded KV (and the KV computed after it) differs"
    assert v.worker.take_failed_blocks() == set()
    v.finish(second)
    v.worker.engine.wait_transfers()

    third = Request("c", base + list(range(9000, 9100)))
    assert v.add(third) == 1099, "a full hit leaves the last token to vLLM"
    assert v.loaded_exactly(third, 1100), "the second request's save stored stale KV"
    v.finish(third)
    res.driver.set_delay_us(0)


def test_the_layerwise_connector_on_device_caches_has_each_layer_in_before_its_attention(res, gpu_vllm):
    """use_layerwise on device caches, every stream op taking 2 ms: a layer's load is copied one layer
    ahead and awaited before its attention, so the stream reads it landed; saves are per layer."""
    v = gpu_vllm(settings={"use_layerwise": True})
    assert v.worker.layerwise is not None
    res.driver.set_delay_us(2000)
    base = list(range(5, 1005))
    assert v.run(Request("a", base)) == 0
    v.worker.engine.wait_transfers()
    assert v.worker.engine.stats().stored_tokens == 1000, "saved layer by layer"

    second = Request("b", base + list(range(9000, 9100)))
    seen = []
    v.after_layer_load = lambda plan, layer: seen.append(
        np.array_equal(v.rows(second, 0, 768)[layer], v.expected_rows(second, 0, 768)[layer]))
    assert v.add(second) == 768
    assert seen == [True, True], "a layer was read before its copy landed"
    assert v.loaded_exactly(second, 1100)
    assert v.worker.take_failed_blocks() == set()
    v.finish(second)
    v.worker.engine.wait_transfers()
    res.driver.set_delay_us(0)
