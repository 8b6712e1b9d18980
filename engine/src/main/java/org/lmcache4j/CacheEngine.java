package org.lmcache4j;

import org.lmcache4j.config.DiskOptions;
import org.lmcache4j.config.PrefetchOptions;
import org.lmcache4j.config.RemoteOptions;
import org.lmcache4j.remote.RedisTier;
import org.lmcache4j.remote.RemoteTier;
import org.lmcache4j.remote.RemoteUrl;
import org.lmcache4j.disk.DiskTier;
import org.lmcache4j.disk.SpillTier;
import org.lmcache4j.keys.ChunkHasher;
import org.lmcache4j.keys.ChunkKey;
import org.lmcache4j.memory.ChunkPool;
import org.lmcache4j.memory.PageLease;
import org.lmcache4j.memory.SlabRegistrar;
import org.lmcache4j.memory.SlabSource;
import org.lmcache4j.metrics.EngineMetrics;
import org.lmcache4j.metrics.EngineMeters;
import org.lmcache4j.metrics.MetricLabels;
import org.lmcache4j.metrics.MetricsRegistry;
import org.lmcache4j.cuda.CudaProbe;
import org.lmcache4j.cuda.CudaRuntime;
import org.lmcache4j.cuda.TransferSelector;
import org.lmcache4j.transfer.KvTransfer;
import org.lmcache4j.transfer.PagedCaches;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.Supplier;

/**
 * The engine: keeps the KV cache of prompts, chunk by chunk, in a CPU pool, and loads the longest
 * cached prefix of a new prompt back into the serving engine's paged caches.
 *
 * <pre>{@code
 * try (CacheEngine engine = CacheEngine.builder().layout(KvLayout.mistral7b(numBlocks))
 *         .config(ConfigLoader.load(System.getenv())).model("mistralai/Mistral-7B-Instruct-v0.2").open()) {
 *     engine.registerKvCaches(layerAddresses);             // one data_ptr per layer
 *     int cached = engine.lookup(tokens);                  // how many leading tokens are cached
 *     engine.retrieve(tokens, slotMapping, 0);             // load them into the paged caches
 *     // ... prefill tokens[cached..] ...
 *     engine.store(tokens, slotMapping, 0);                // keep the prompt's KV for next time
 * }
 * }</pre>
 *
 * <h2>How a request runs</h2>
 * Every operation keys the prompt's chunks ({@link ChunkHasher}), then, under one short index
 * lock, decides what to do and takes a {@link PageLease} on every page it will copy; the copies
 * run outside the lock, so concurrent requests copy in parallel, and no page being copied can be
 * evicted or reused. A stored chunk is indexed at once (so a concurrent store of the same prompt
 * skips it) but is served only once {@linkplain ChunkEntry#publish() published}, after its bytes
 * are complete. A hit must be a run of leading chunks whose token ids match: the first miss ends
 * it, and nothing after a gap is ever loaded.
 *
 * <p>Thread-safe. Arguments are validated before anything changes: bad input throws
 * {@link IllegalArgumentException} (or {@link IllegalStateException} for calls out of order)
 * naming the value, and leaves the cache as it was.
 */
public final class CacheEngine implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(CacheEngine.class);
    /**
     * The logger of per-request lines ({@code Store skips N tokens and then stores M tokens} at
     * INFO, retrieves at DEBUG), apart from the engine's own so that operators can quiet them.
     */
    public static final String REQUEST_LOGGER = "org.lmcache4j.requests";

    private final EngineConfig config;
    private final KvLayout layout;
    private final ChunkHasher hasher;
    private final ChunkPool pool;
    /** Picks the transfer when caches are registered; null where the builder fixed one. */
    private final TransferSelector selector;
    private final KvTransfer fixedTransfer;
    /** Whether the builder fixed the pool's registrar (else it follows the caches' device). */
    private final boolean fixedRegistrar;
    /** The CUDA device the pool's slabs are page-locked for, or -1; under the lifecycle's write lock. */
    private int pinnedFor = -1;
    private final Ticker ticker;
    private final EngineMetrics metrics;
    /** Where the metrics are served, or null. */
    private final MetricsRegistry registry;
    private final EngineCounters counters = new EngineCounters();
    private final ReentrantLock indexLock = new ReentrantLock();
    private final KvEventQueue kvEvents = new KvEventQueue(KvEventQueue.DEFAULT_CAPACITY);
    private final ChunkIndex index;
    /** {@link #allocatePage(ChunkKey, ChunkEntry)}: the policy keeps its victim rather than this chunk. */
    static final int DECLINED = -2;
    private final PinTable pins;
    private final SpillTier disk;
    private final Spiller spiller;
    private final RemoteTier remote;
    private final AccessTrace trace;
    private final Prefetcher prefetcher;
    private final ReentrantReadWriteLock lifecycle = new ReentrantReadWriteLock();
    /** The caches and the transfer chosen for them, published together so no store mixes them. */
    record Registered(PagedCaches caches, KvTransfer transfer) {
    }

    private volatile Registered registered;
    private boolean closed;
    /** Layer-by-layer stores and retrieves not ended yet: given up when the caches change or the engine closes. */
    private final java.util.Set<LayeredOperation> layered = java.util.concurrent.ConcurrentHashMap.newKeySet();

    private CacheEngine(Builder b) {
        this.config = b.config;
        this.layout = Objects.requireNonNull(b.layout, "a KvLayout is required");
        config.poolChunks(layout); // refuses a pool that cannot hold one chunk: it could never cache anything
        this.hasher = new ChunkHasher(b.model, b.worldSize, b.workerId, config.chunkSize(), layout);
        this.fixedTransfer = b.transfer;
        this.selector = b.transfer == null ? CudaRuntime.selector(CudaProbe.system(), config.extraConfig()) : null;
        this.ticker = b.ticker;
        this.trace = b.trace;
        this.pins = new PinTable(TimeUnit.SECONDS.toNanos(config.pinTimeoutSec()));
        // Everything that can refuse the configuration does so before anything is opened.
        DiskOptions diskOptions = DiskOptions.from(config);
        RemoteOptions remoteOptions = RemoteOptions.from(config);
        PrefetchOptions prefetchOptions = PrefetchOptions.from(config);
        RemoteUrl remoteUrl = config.remoteUrl()
                .map(url -> RemoteUrl.parse(url, java.time.Duration.ofMillis(remoteOptions.timeoutMs()))).orElse(null);
        this.fixedRegistrar = b.slabRegistrar != null;
        this.pool = new ChunkPool(config.cpuPoolBytes(), layout.chunkBytes(config.chunkSize()),
                b.slabTargetBytes, b.slabSource, fixedRegistrar ? b.slabRegistrar : SlabRegistrar.NONE);
        this.index = new ChunkIndex(kvEvents, EvictionPolicy.of(config.cachePolicy(), pool.capacityPages()));
        SpillTier openedDisk = SpillTier.NONE;
        RemoteTier openedRemote = RemoteTier.NONE;
        try {
            openedDisk = openDisk(config, hasher, layout);
            openedRemote = remoteUrl == null ? RemoteTier.NONE
                    : RedisTier.open(remoteUrl, hasher.namespaceFingerprint(), remoteOptions);
            this.disk = openedDisk;
            this.remote = openedRemote;
            this.spiller = new Spiller(this, disk, pool, diskOptions);
            this.prefetcher = new Prefetcher(this, prefetchOptions);
            this.registry = b.registry;
            if (registry == null) {
                this.metrics = EngineMetrics.DISABLED;
            } else {
                EngineMeters meters = new EngineMeters(new MetricLabels(b.model, Integer.toString(b.workerId),
                        b.role, b.servedModelName), this::stats);
                registry.add(meters);
                remote.timings(meters);
                this.metrics = meters;
            }
        } catch (RuntimeException | Error e) {
            // An engine that failed to open leaves no thread, connection or mapping behind.
            openedRemote.close();
            openedDisk.close();
            pool.close();
            throw e;
        }
        LOG.info("LMCache4j engine {}: cpu pool {}, chunk_size {} ({} a chunk), layout {} {} {}x{}x{} block {}, "
                        + "transfer {}, tiers [cpu{}{}], model {} rank {}/{}, keys {}, save_unfull_chunk {}",
                LogText.oneLine(config.instanceId()), pool.describe(), config.chunkSize(),
                EngineConfig.binary(layout.chunkBytes(config.chunkSize())), layout.format().configName(),
                layout.dtype().torchName(), layout.numLayers(), layout.numKvHeads(), layout.headSize(),
                layout.blockSize(), selector == null ? fixedTransfer.describe() : selector.describe(),
                disk.enabled() ? ", " + disk.describe() : "", remote.enabled() ? ", " + remote.describe() : "", LogText.oneLine(b.model), b.workerId, b.worldSize,
                ChunkHasher.ALGORITHM, config.saveUnfullChunk());
    }

    public static Builder builder() {
        return new Builder();
    }

    /**
     * The disk tier {@code local_disk} and {@code max_local_disk_size} describe, or none. A directory
     * that cannot be used is logged and the engine serves from memory: a broken disk must not stop
     * a serving engine from starting.
     */
    private static SpillTier openDisk(EngineConfig config, ChunkHasher hasher, KvLayout layout) {
        if (config.localDisk().isEmpty()) {
            return SpillTier.NONE;
        }
        if (config.diskBytes() <= 0) {
            LOG.warn("local_disk {} is set but max_local_disk_size is 0: no disk tier", config.localDisk().get());
            return SpillTier.NONE;
        }
        Path dir = Path.of(config.localDisk().get());
        try {
            return DiskTier.open(dir, config.diskBytes(), hasher.namespaceFingerprint(), layout.dtype().bytes(),
                    DiskOptions.from(config));
        } catch (IOException | UncheckedIOException | IllegalStateException e) {
            LOG.error("disk tier {} is unavailable, serving from memory only: {}", dir, e.toString());
            return SpillTier.NONE;
        }
    }

    public EngineConfig config() {
        return config;
    }

    public KvLayout layout() {
        return layout;
    }

    /**
     * Registers the serving engine's paged caches, one address per layer (a {@code data_ptr}), in
     * host or device memory: the driver says which (see {@link #registerKvCaches(long[], int)}).
     */
    public void registerKvCaches(long[] layerAddresses) {
        registerKvCaches(layerAddresses, TransferSelector.AUTO);
    }

    /**
     * Registers the paged caches, one address per layer, on {@code device}: -1 for host memory, a
     * CUDA device id for device memory (copied with the CUDA transfer, the pool page-locked for
     * that device), or {@link TransferSelector#AUTO}. A claim the driver contradicts, a device that
     * does not exist, caches on several devices, or device caches with no driver are refused,
     * naming the value, and nothing is registered. A registration that replaces earlier caches
     * waits for the calls running on them and for their device copies: once it returns, the
     * serving engine may free the old caches.
     */
    public void registerKvCaches(long[] layerAddresses, int device) {
        register(() -> PagedCaches.ofAddresses(layout, layerAddresses), layerAddresses, device);
    }

    /** Registers the paged caches as segments, one per layer, each checked against the layout. */
    public void registerKvCaches(List<MemorySegment> layerCaches) {
        register(() -> PagedCaches.of(layout, layerCaches), null, TransferSelector.HOST);
    }

    /**
     * Under the lifecycle's write lock: a registration waits for the calls running on the caches
     * it replaces, and for their device copies, so that once it returns the serving engine may free
     * the old caches (the rule of the C ABI and the Python package as well).
     */
    private void register(Supplier<PagedCaches> caches, long[] addresses, int device) {
        lifecycle.writeLock().lock();
        try {
            if (closed) {
                throw new IllegalStateException("the engine is closed");
            }
            PagedCaches c = caches.get();
            KvTransfer t;
            if (selector == null) {
                t = fixedTransfer;
            } else {
                TransferSelector.Choice choice = selector.choose(addresses, device);
                boolean pin = choice.kind() == TransferSelector.Kind.CUDA && !fixedRegistrar;
                if (pin && pinnedFor >= 0 && pinnedFor != choice.device()) {
                    throw new IllegalArgumentException("this engine's pool is page-locked for CUDA device " + pinnedFor
                            + ": caches on device " + choice.device() + " need an engine of their own");
                }
                t = selector.transferFor(choice, addresses);
                if (pin && pinnedFor < 0) {
                    SlabRegistrar registrar = selector.registrar(choice.device());
                    try {
                        pool.useRegistrar(registrar);
                    } catch (RuntimeException | Error e) {
                        registrar.close();
                        throw e;
                    }
                    pinnedFor = choice.device();
                    LOG.info("CPU pool: slabs page-locked for CUDA device {} as they are mapped", pinnedFor);
                }
            }
            t.prepare(c);
            abandonLayered("the KV caches were registered anew"); // they copy to or from the old caches
            awaitCopies(); // the old caches' last copies land before the caller may free them
            this.registered = new Registered(c, t);
            pool.prepareGrowth();
        } finally {
            lifecycle.writeLock().unlock();
        }
    }

    /**
     * Returns once every device copy queued so far has landed and what waited for it has run:
     * stored chunks published, the pages retrieves read released. Host copies end in their call.
     */
    public void awaitTransfers() {
        guarded(() -> {
            awaitCopies();
            return null;
        });
    }

    private void awaitCopies() {
        if (selector != null) {
            selector.awaitIdle();
        } else {
            fixedTransfer.awaitIdle();
        }
    }

    /** The transfer of the registered caches, for logs and reports: {@code host}, {@code cuda-kernel}, {@code cuda-dma}; {@code none} before any. */
    public String transfer() {
        Registered r = registered;
        return r == null ? "none" : r.transfer().describe();
    }

    /** How many leading tokens of {@code tokens} are cached. */
    public int lookup(int[] tokens) {
        return lookup(KeyScope.NONE, tokens);
    }

    public int lookup(KeyScope scope, int[] tokens) {
        return guarded(() -> new LookupOperation(this, null, scope, tokens).run());
    }

    /**
     * Like {@link #lookup}, and pins the hit chunks for {@code requestId} until {@link #unpin},
     * a later lookup for the same request, or {@code pin_timeout_sec}, so that they are still
     * there when the request is retrieved.
     */
    public int lookupAndPin(String requestId, KeyScope scope, int[] tokens) {
        RequestCheck.requestId(requestId);
        return guarded(() -> new LookupOperation(this, requestId, scope, tokens).run());
    }

    /**
     * {@link #lookup}, or {@link #lookupAndPin} when {@code pinFor} is not null, answering also how
     * many tokens of the hit the CPU pool holds (the rest must be read from disk or Redis first).
     */
    public LookupHit lookupHit(String pinFor, KeyScope scope, int[] tokens) {
        if (pinFor != null) {
            RequestCheck.requestId(pinFor);
        }
        return guarded(() -> new LookupOperation(this, pinFor, scope, tokens).runHit());
    }

    /**
     * Starts bringing the longest prefix of {@code tokens} that the tiers hold into the CPU pool,
     * from the disk and remote tiers, without waiting for it: a later {@link #retrieve} of the
     * prompt loads it from memory. Runs on at most {@code prefetch_max_concurrency} workers; a
     * prompt the pool already holds (or an engine with no lower tier) has finished on return.
     * The caller closes the handle (docs/architecture.md, "Prefetch").
     */
    public Prefetch prefetch(KeyScope scope, int[] tokens) {
        return guarded(() -> prefetcher.start(null, scope, tokens));
    }

    /**
     * Like {@link #prefetch}, and pins the prefix it finds and brings in for {@code requestId},
     * replacing the request's earlier pins, as {@link #lookupAndPin} does: the chunks stay in the
     * pool until {@link #unpin}, a later pin for the request, or {@code pin_timeout_sec}. A
     * cancelled prefetch pins nothing.
     */
    public Prefetch prefetchAndPin(String requestId, KeyScope scope, int[] tokens) {
        RequestCheck.requestId(requestId);
        return guarded(() -> prefetcher.start(requestId, scope, tokens));
    }

    /** Releases the pins of {@code requestId}; returns how many chunks were pinned. */
    public int unpin(String requestId) {
        return guarded(() -> locked(() -> pins.unpin(requestId)));
    }

    /**
     * Stores the chunks of {@code tokens} that are not cached yet, reading their KV from the
     * paged caches at {@code slotMapping}. The first {@code skipLeading} tokens (a multiple of
     * {@code chunk_size}) are known to be cached and are not read. Returns the tokens stored.
     */
    public int store(int[] tokens, long[] slotMapping, int skipLeading) {
        return store(KeyScope.NONE, tokens, slotMapping, skipLeading);
    }

    public int store(KeyScope scope, int[] tokens, long[] slotMapping, int skipLeading) {
        return store(scope, tokens, slotMapping, skipLeading, CudaStream.DEFAULT);
    }

    /**
     * Like {@link #store(KeyScope, int[], long[], int)}, ordered with the serving engine's
     * {@code stream} on device caches: the chunks' KV is read after the work already queued on it,
     * and the stream waits for the reads. Returns once the copies are queued; the chunks are
     * served once they have landed.
     */
    public int store(KeyScope scope, int[] tokens, long[] slotMapping, int skipLeading, CudaStream stream) {
        return guarded(() -> new StoreOperation(this, scope, tokens, slotMapping, skipLeading, stream).run());
    }

    /**
     * Loads the longest cached prefix of {@code tokens} into the paged caches at
     * {@code slotMapping}, except its first {@code skipLeading} tokens (already there). Returns
     * the tokens loaded: the prefix that is now in the caches ends at {@code skipLeading} plus that.
     */
    public int retrieve(int[] tokens, long[] slotMapping, int skipLeading) {
        return retrieve(KeyScope.NONE, tokens, slotMapping, skipLeading);
    }

    public int retrieve(KeyScope scope, int[] tokens, long[] slotMapping, int skipLeading) {
        return retrieve(scope, tokens, slotMapping, skipLeading, CudaStream.DEFAULT);
    }

    /**
     * Like {@link #retrieve(KeyScope, int[], long[], int)}, ordered with the serving engine's
     * {@code stream} on device caches: the KV is written after the work already queued on it, and
     * the stream cannot run past the writes until they have landed. Returns once they are queued.
     */
    public int retrieve(KeyScope scope, int[] tokens, long[] slotMapping, int skipLeading, CudaStream stream) {
        return guarded(() -> new RetrieveOperation(this, scope, tokens, slotMapping, skipLeading, stream).run());
    }

    // --- layer-by-layer store and retrieve (use_layerwise) ---

    /**
     * Plans a store of {@code tokens} exactly as {@link #store(KeyScope, int[], long[], int, CudaStream)}
     * does, and returns it for its layers to be copied one at a time ({@link LayeredStore#saveLayer})
     * as the serving engine computes them; its chunks are published once every layer has landed.
     * The caller closes it (a store closed before its last layer publishes nothing).
     */
    public LayeredStore storeLayers(KeyScope scope, int[] tokens, long[] slotMapping, int skipLeading,
                                    CudaStream stream) {
        return guarded(() -> opened(LayeredStore.start(this, scope, tokens, slotMapping, skipLeading, stream)));
    }

    /**
     * Brings the longest cached prefix of {@code tokens} into the pool as
     * {@link #retrieve(KeyScope, int[], long[], int, CudaStream)} does, and returns it for its layers
     * to be copied into the caches one at a time ({@link LayeredRetrieve#loadLayer}). The caller
     * closes it once the last layer is loaded (or to give it up).
     */
    public LayeredRetrieve retrieveLayers(KeyScope scope, int[] tokens, long[] slotMapping, int skipLeading,
                                          CudaStream stream) {
        return guarded(() -> opened(LayeredRetrieve.start(this, scope, tokens, slotMapping, skipLeading, stream)));
    }

    private <T extends LayeredOperation> T opened(T op) {
        layered.add(op);
        return op;
    }

    /** A layered operation ended: it holds nothing of the engine's any more. */
    void layeredEnded(LayeredOperation op) {
        layered.remove(op);
    }

    /** Under the lifecycle's write lock: no layer copy runs, and each open operation ends once its copies land. */
    private void abandonLayered(String why) {
        for (LayeredOperation op : List.copyOf(layered)) {
            op.abandon(why);
        }
    }

    /**
     * Starts or stops recording what the CPU tier gains and loses ({@link KvEvent}), for a KV-aware
     * router; off by default. Stopping drops the events not taken yet.
     */
    public void recordKvEvents(boolean on) {
        guarded(() -> {
            kvEvents.record(on);
            return null;
        });
    }

    /**
     * Takes the oldest recorded events whose {@code cost}s add up to at most {@code budget}, in the
     * order they happened ({@code e -> 1} and a count, or the byte size of their encoding and a
     * buffer's capacity). An event that alone costs more than the budget is refused and nothing is
     * taken. The queue is bounded: events nobody takes are dropped, counted, and reported as one
     * {@link KvEvent.Kind#LOST} event where they were.
     */
    public List<KvEvent> takeKvEvents(long budget, java.util.function.ToLongFunction<KvEvent> cost) {
        return guarded(() -> kvEvents.take(budget, cost));
    }

    /** Drops every chunk and pin. Copies in flight finish on their pages, which are freed after. */
    public void clear() {
        guarded(() -> locked(() -> {
            pins.releaseAll();
            for (ChunkEntry e : index.removeAll()) {
                pool.release(e.page);
            }
            return null;
        }));
    }

    /**
     * Counts a request's prompt tokens and the tokens of it vLLM's own prefix cache held, LMCache's
     * {@code num_prompt_tokens} and {@code num_vllm_hit_tokens}: the vLLM connector tells them with
     * its lookup. Negative counts, or more vLLM hits than prompt tokens, are refused, and so is a
     * closed engine (as every other call).
     */
    public void countPrompt(int promptTokens, int vllmHitTokens) {
        if (promptTokens < 0 || vllmHitTokens < 0 || vllmHitTokens > promptTokens) {
            throw new IllegalArgumentException("prompt tokens " + promptTokens + " and vLLM hit tokens " + vllmHitTokens
                    + ": both must be >= 0, and the hit at most the prompt");
        }
        guarded(() -> {
            metrics.prompt(promptTokens, vllmHitTokens);
            return null;
        });
    }

    /** This engine's metrics in the Prometheus text format; refused for an engine opened without metrics. */
    public String metricsText() {
        return meters().text();
    }

    /** This engine's metrics as JSON (what src/lmcache4j/metrics.py mirrors); refused without metrics. */
    public String metricsJson() {
        return meters().json();
    }

    private EngineMeters meters() {
        if (metrics instanceof EngineMeters m) {
            return m;
        }
        throw new IllegalStateException("this engine was opened without metrics (CacheEngine.Builder.metrics)");
    }

    public EngineStats stats() {
        indexLock.lock();
        try {
            return counters.snapshot(index.size(), pins.pinnedChunks(), pool.stats(), spiller.spilledChunks.sum(),
                    spiller.writeThroughSkipped.sum(), disk.stats(), remote.stats(), prefetcher.stats());
        } finally {
            indexLock.unlock();
        }
    }

    /**
     * Waits for operations in flight, writes the chunks that are on no disk yet to the disk tier
     * (if there is one), releases every chunk and pin and unmaps the pool.
     */
    @Override
    public void close() {
        // Before the lock: a running prefetch takes the index lock, never the lifecycle's.
        prefetcher.close();
        lifecycle.writeLock().lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            if (registry != null && metrics instanceof EngineMeters meters) {
                registry.remove(meters); // a closed engine's series leave the endpoint
            }
            abandonLayered("the engine closed");
            awaitCopies(); // device copies in flight publish chunks and release pages: let them end first
            spiller.close();
            locked(pins::releaseAll); // pinned chunks are written at close too
            spiller.flush();
            locked(() -> {
                pins.releaseAll();
                for (ChunkEntry e : index.removeAll()) {
                    pool.release(e.page);
                }
                return null;
            });
            remote.close();
            disk.close();
            try {
                if (selector != null) {
                    selector.close(); // the transfers it made; one given to the builder stays its owner's
                }
            } finally {
                long stillLeased = pool.stats().leases();
                if (stillLeased > 0) {
                    // Some I/O never finished (a hung disk or network): its memory must stay mapped, or
                    // the late copy would crash the process. Leak it rather than unmap it.
                    LOG.error("{} page leases are still open at close: leaving the pool mapped", stillLeased);
                } else {
                    pool.close();
                }
            }
            LOG.info("LMCache4j engine {} closed", LogText.oneLine(config.instanceId()));
        } finally {
            lifecycle.writeLock().unlock();
        }
    }

    /**
     * The published entries holding chunks {@code first, first+1, …} of the prompt, up to the
     * first chunk that is missing, unpublished or holds other tokens. Caller holds the index lock.
     */
    List<ChunkEntry> leadingHits(ChunkKey[] keys, int[] tokens, int first) {
        List<ChunkEntry> hits = new ArrayList<>();
        for (int c = first; c < keys.length; c++) {
            ChunkEntry e = index.get(keys[c]);
            if (e == null || !e.published() || !e.holds(tokens, c * config.chunkSize(), endOf(c, tokens.length))) {
                break;
            }
            hits.add(e);
        }
        return hits;
    }

    /** A request used these entries (prompt order; {@code storing}: a store's): the eviction policy ranks them anew. */
    void used(List<ChunkEntry> entries, boolean storing) {
        index.used(entries, storing);
    }

    /** End (exclusive) of chunk {@code c} of a {@code tokens}-token prompt. */
    int endOf(int c, int tokens) {
        return Math.min(tokens, (c + 1) * config.chunkSize());
    }

    /**
     * A free page for a chunk loaded from a lower tier: grows the pool while it may, then evicts
     * the first chunk in eviction order that nobody leases or pins and that no cached chunk
     * continues (a prefix outlives its suffix); -1 when nothing can be evicted. Caller holds the lock.
     */
    int allocatePage() {
        return allocatePage(null, null);
    }

    /**
     * Like {@link #allocatePage()} for a new chunk {@code key} of a store, {@code previous} the
     * cached chunk before it: {@link #DECLINED} when the eviction policy would rather keep the
     * victim than store this chunk. Caller holds the lock.
     */
    int allocatePage(ChunkKey key, ChunkEntry previous) {
        int page = pool.tryAllocate();
        while (page < 0) {
            // A chunk the disk tier also holds costs nothing to drop: those go first. Without a disk
            // tier no chunk is, and that pass would only walk the whole order for nothing.
            // Never the chunk the new one continues: the new chunk would be cached without its prefix.
            ChunkEntry victim = disk.enabled()
                    ? index.victim(e -> e != previous && pool.refCount(e.page) == 1 && clean(e)) : null;
            if (victim == null) {
                victim = index.victim(e -> e != previous && pool.refCount(e.page) == 1);
            }
            if (victim == null) {
                return -1;
            }
            if (key != null && !index.admits(key, previous, victim)) {
                return DECLINED;
            }
            index.remove(victim);
            pool.release(victim.page);
            counters.evictions.increment();
            page = pool.tryAllocate();
        }
        return page;
    }

    /**
     * Whether the disk tier still holds this chunk, so that dropping it from memory loses nothing.
     * The flag alone is not enough: the disk tier may have deleted the record since, to stay
     * under its cap. Caller holds the index lock.
     */
    boolean clean(ChunkEntry e) {
        if (e.onDisk && !disk.holds(e.key, e.tokenCount())) {
            e.onDisk = false;
        }
        return e.onDisk;
    }

    /** Runs {@code body} under the index lock, after expiring pins whose time is up. */
    <T> T locked(Supplier<T> body) {
        indexLock.lock();
        try {
            int expired = pins.expire(ticker.nanos());
            if (expired > 0) {
                counters.forcedUnpins.add(expired);
                LOG.warn("unpinned {} chunks whose pins outlived pin_timeout_sec={}", expired, config.pinTimeoutSec());
            }
            return body.get();
        } finally {
            indexLock.unlock();
        }
    }

    <T> T guarded(Supplier<T> body) {
        lifecycle.readLock().lock();
        try {
            if (closed) {
                throw new IllegalStateException("the engine is closed");
            }
            return body.get();
        } finally {
            lifecycle.readLock().unlock();
        }
    }

    Registered requireCaches() {
        Registered c = registered;
        if (c == null) {
            throw new IllegalStateException("no KV caches registered: call registerKvCaches first");
        }
        return c;
    }

    ChunkHasher hasher() {
        return hasher;
    }

    SpillTier disk() {
        return disk;
    }

    Spiller spiller() {
        return spiller;
    }

    RemoteTier remote() {
        return remote;
    }

    ChunkIndex index() {
        return index;
    }

    PinTable pins() {
        return pins;
    }

    ChunkPool pool() {
        return pool;
    }

    Ticker ticker() {
        return ticker;
    }

    EngineMetrics metrics() {
        return metrics;
    }

    EngineCounters counters() {
        return counters;
    }

    AccessTrace trace() {
        return trace;
    }

    /** Builds an engine; only the layout is required. */
    public static final class Builder {
        private EngineConfig config = EngineConfig.defaults();
        private KvLayout layout;
        private String model = "default";
        private int worldSize = 1;
        private int workerId = 0;
        private MetricsRegistry registry;
        private String role = "worker";
        private String servedModelName = "";
        private Ticker ticker = Ticker.SYSTEM;
        /** Null: chosen by {@link TransferSelector} when the caches are registered. */
        private KvTransfer transfer;
        private SlabSource slabSource = SlabSource.best();
        /** Null: page-locked with CUDA where the probe sees a device, plain otherwise. */
        private SlabRegistrar slabRegistrar;
        private long slabTargetBytes = 1L << 30;
        private AccessTrace trace = AccessTrace.NONE;

        private Builder() {
        }

        public Builder config(EngineConfig v) { config = Objects.requireNonNull(v); return this; }
        public Builder layout(KvLayout v) { layout = v; return this; }
        /** The model name; it enters every chunk key. */
        public Builder model(String v) { model = Objects.requireNonNull(v); return this; }
        /** Tensor-parallel world size and this worker's rank; they enter every chunk key. */
        public Builder parallel(int worldSize, int workerId) { this.worldSize = worldSize; this.workerId = workerId; return this; }
        /** Records the engine's metrics (LMCache's names, kinds and buckets) and serves them through this registry. */
        public Builder metrics(MetricsRegistry v) { registry = Objects.requireNonNull(v); return this; }
        /** The {@code role} and {@code served_model_name} labels of the metrics (default {@code worker} and none). */
        public Builder metricLabels(String role, String servedModelName) {
            this.role = Objects.requireNonNull(role);
            this.servedModelName = Objects.requireNonNull(servedModelName);
            return this;
        }
        public Builder ticker(Ticker v) { ticker = Objects.requireNonNull(v); return this; }
        public Builder transfer(KvTransfer v) { transfer = Objects.requireNonNull(v); return this; }
        /** Where the pool's slabs are registered with a device runtime (CUDA host registration). */
        public Builder slabRegistrar(SlabRegistrar v) { slabRegistrar = Objects.requireNonNull(v); return this; }
        /** About how much memory the pool maps at a time (default 1 GiB). */
        public Builder slabTargetBytes(long v) { slabTargetBytes = v; return this; }
        /** Reports every chunk access of the CPU tier here (default: nowhere). */
        public Builder accessTrace(AccessTrace v) { trace = Objects.requireNonNull(v); return this; }
        /** Where the pool maps its slabs (default: anonymous huge-page mappings; the server shares them). */
        public Builder slabSource(SlabSource v) { slabSource = Objects.requireNonNull(v); return this; }

        public CacheEngine open() {
            return new CacheEngine(this);
        }
    }
}
