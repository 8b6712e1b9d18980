package org.lmcache4j.remote;

import io.lettuce.core.RedisFuture;
import io.lettuce.core.SetArgs;
import io.lettuce.core.protocol.CommandArgs;
import io.lettuce.core.protocol.CommandType;
import org.lmcache4j.RemoteStats;
import org.lmcache4j.Ticker;
import org.lmcache4j.config.RemoteOptions;
import org.lmcache4j.keys.ChunkKey;
import org.lmcache4j.record.Codec;
import org.lmcache4j.record.CorruptRecordException;
import org.lmcache4j.record.RecordHeader;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Supplier;
import java.util.zip.CRC32C;

/**
 * The remote tier on Redis (standalone, Sentinel or Cluster): one value per chunk, a record
 * (payload, then its checksummed header), so that no reader can ever see a chunk's metadata
 * without its bytes, the way LMCache's two keys per chunk allow.
 *
 * <h2>Never hostage to Redis</h2>
 * Lookups and reads wait at most {@code remote_timeout_ms}; writes are asynchronous, at most
 * {@code remote_max_inflight} at a time, and dropped (counted) beyond that. A transport failure
 * (a timeout, a refused or reset connection) marks the tier unhealthy ({@link RemoteHealth}); while
 * it is, every call answers at once (nothing there, writes dropped) and a background prober
 * reconnects with back-off, so the engine goes on serving from its CPU and disk tiers. Each change
 * of state is logged once, a timeout with what timed out and after how long.
 *
 * <h2>Refusals are answers, not outages</h2>
 * An error reply ({@code OOM} at {@code maxmemory}, {@code READONLY} from a replica,
 * {@code NOAUTH}, {@code MISCONF}, …: {@link RedisRefusal}) leaves the tier up: the command is a
 * miss or a dropped write, refused writes are counted per reason, and a WARN says so at most once
 * a minute per reason. Reads and lookups go on meanwhile. While Redis refuses writes, they are held
 * back: one goes out every 1 to 10 s to ask again, the others are dropped at once instead of being
 * checksummed and sent only to be refused ({@link CommandFailures}).
 *
 * <h2>Server memory</h2>
 * {@link ServerMemory} polls Redis's own {@code used_memory} in the background, at most every 10 s,
 * for {@code lmcache:remote_cache_usage}: the whole server's memory, not only these records.
 *
 * <h2>Verification</h2>
 * A read lands the payload straight in its pool page and the header in a small trailer buffer,
 * then checks the header's checksum, the namespace (model, rank, shape), the key, the token ids,
 * the size and the payload's checksum. A record that fails is a miss, counted and deleted from Redis
 * so that it is not fetched again; a key that Redis evicted between lookup and read is just a miss.
 */
public final class RedisTier implements RemoteTier {
    static final String KEY_PREFIX = "lmcache4j:";

    private final RemoteUrl url;
    private final byte[] namespace;
    private final RemoteOptions options;
    private final Duration timeout;
    private final Semaphore writeSlots;
    private final RemoteHealth health;
    private final CommandFailures failures;
    private final ServerMemory memory;

    private final LongAdder lookups = new LongAdder();
    private final LongAdder reads = new LongAdder();
    private final LongAdder readBytes = new LongAdder();
    private final LongAdder readNanos = new LongAdder();
    private final LongAdder readFailures = new LongAdder();
    private final LongAdder writes = new LongAdder();
    private final LongAdder writeBytes = new LongAdder();
    private final LongAdder writeNanos = new LongAdder();
    private volatile Timings timings = Timings.NONE;
    private final LongAdder writesDropped = new LongAdder();

    private RedisTier(RemoteUrl url, byte[] namespace, RemoteOptions options, Ticker ticker, RemoteLog log) {
        this.url = url;
        this.namespace = namespace.clone();
        this.options = options;
        this.timeout = Duration.ofMillis(options.timeoutMs());
        this.writeSlots = new Semaphore(options.maxInflight());
        this.health = new RemoteHealth(url, () -> RedisLink.connect(url, timeout), log);
        this.failures = new CommandFailures(health, url.redacted(), ticker, log);
        this.memory = new ServerMemory(url.redacted(), health, failures, ticker, options.timeoutMs());
    }

    /** A tier on {@code url}; if Redis is not reachable yet, it starts unhealthy and keeps trying. */
    public static RedisTier open(RemoteUrl url, byte[] namespace, RemoteOptions options) {
        return open(url, namespace, options, Ticker.SYSTEM);
    }

    /**
     * The same, with the engine's clock, which paces the refusal warnings (once a minute per reason)
     * and the polls of the server's memory (every 10 s).
     */
    public static RedisTier open(RemoteUrl url, byte[] namespace, RemoteOptions options, Ticker ticker) {
        return open(url, namespace, options, ticker, RemoteLog.SLF4J);
    }

    static RedisTier open(RemoteUrl url, byte[] namespace, RemoteOptions options, Ticker ticker, RemoteLog log) {
        RedisTier tier = new RedisTier(url, namespace, options, ticker, log);
        tier.health.start();
        tier.memory.start();
        return tier;
    }

    static String redisKey(ChunkKey key) {
        return KEY_PREFIX + key.hex();
    }

    @Override
    public boolean enabled() {
        return true;
    }

    @Override
    public int leadingPresent(List<ChunkKey> keys) {
        RedisLink link = health.link();
        if (link == null || keys.isEmpty()) {
            return 0;
        }
        lookups.increment();
        int present = 0;
        long waitMs = Math.min(options.timeoutMs(), options.lookupTimeoutMs());
        Supplier<String> timedOut = () -> CommandFailures.timedOut("EXISTS", keys.size(), "", waitMs,
                options.timeoutMs() <= options.lookupTimeoutMs() ? "remote_timeout_ms" : "lookup_timeout_ms");
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(waitMs);
        try {
            List<RedisFuture<Long>> answers = new ArrayList<>(keys.size());
            for (ChunkKey k : keys) {
                answers.add(link.commands().exists(redisKey(k)));
            }
            for (RedisFuture<Long> a : answers) {
                if (a.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS) != 1L) {
                    break;
                }
                present++;
            }
            return present;
        } catch (ExecutionException e) {
            failures.readFailed("lookup", e.getCause(), timedOut);
            return present;
        } catch (TimeoutException e) {
            failures.timedOut(timedOut.get());
            return present;
        } catch (RuntimeException e) {
            health.failed(e);
            return present;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return present;
        }
    }

    @Override
    public int read(List<Read> batch) {
        RedisLink link = health.link();
        if (link == null || batch.isEmpty()) {
            return 0;
        }
        try {
            return readBatch(link, batch);
        } catch (RuntimeException e) {
            health.failed(e);
            return 0;
        }
    }

    private int readBatch(RedisLink link, List<Read> batch) {
        long start = System.nanoTime();
        // Shared: replies land from lettuce's event loop thread.
        try (Arena arena = Arena.ofShared()) {
            List<MemorySegment> trailers = new ArrayList<>(batch.size());
            List<LandingOutput> outputs = new ArrayList<>(batch.size());
            List<RedisFuture<Long>> answers = new ArrayList<>(batch.size());
            int good = 0;
            try {
                for (Read r : batch) {
                    MemorySegment trailer = arena.allocate(RecordHeader.headerBytes(r.to() - r.from()));
                    LandingOutput output = new LandingOutput(r.page(), trailer);
                    trailers.add(trailer);
                    outputs.add(output);
                    answers.add(link.commands().dispatch(CommandType.GET, output,
                            new CommandArgs<>(RecordCodec.INSTANCE).addKey(redisKey(r.key()))));
                }
                long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(options.timeoutMs());
                while (good < batch.size()
                        && landed(batch.get(good), answers.get(good), trailers.get(good), deadline, batch.size())) {
                    good++;
                }
            } finally {
                // Whatever has not arrived by now must never land: the caller frees these pages.
                outputs.forEach(LandingOutput::close);
            }
            long nanos = System.nanoTime() - start;
            readNanos.add(nanos);
            timings.read(nanos);
            return good;
        }
    }

    /** Whether read {@code r} arrived and verified; a failure is counted, and a bad record deleted. */
    private boolean landed(Read r, RedisFuture<Long> answer, MemorySegment trailer, long deadline, int chunks) {
        Long payload = await(answer, deadline, chunks);
        if (payload == null || payload == LandingOutput.MISSING) {
            readFailures.increment();
            return false;
        }
        try {
            if (payload == LandingOutput.WRONG_SIZE) {
                throw new CorruptRecordException("value has the wrong size for this chunk");
            }
            RecordHeader h = RecordHeader.read(trailer, trailer.byteSize());
            verify(h, r, payload);
            reads.increment();
            readBytes.add(payload + trailer.byteSize());
            return true;
        } catch (CorruptRecordException e) {
            readFailures.increment();
            health.logOnce("corrupt", "remote record " + redisKey(r.key()) + " is a miss and is deleted: "
                    + e.getMessage() + " (further ones are counted in lmcache:remote_read_failures)");
            RedisLink link = health.link();
            if (link != null) {
                link.commands().del(redisKey(r.key()));
            }
            return false;
        }
    }

    private void verify(RecordHeader h, Read r, long payload) throws CorruptRecordException {
        if (!Arrays.equals(h.namespace(), namespace)) {
            throw new CorruptRecordException("record belongs to another model, rank or KV shape");
        }
        if (!h.key().equals(r.key())) {
            throw new CorruptRecordException("record holds key " + h.key());
        }
        if (!Arrays.equals(h.tokens(), 0, h.tokens().length, r.tokens(), r.from(), r.to())) {
            throw new CorruptRecordException("record holds other token ids");
        }
        if (h.codec() != Codec.RAW || h.payloadBytes() != payload || h.rawBytes() != r.page().byteSize()) {
            throw new CorruptRecordException("record of " + h.rawBytes() + " bytes does not fit this chunk");
        }
        CRC32C crc = new CRC32C();
        crc.update(r.page().asSlice(0, payload).asByteBuffer());
        if ((int) crc.getValue() != h.payloadCrc()) {
            throw new CorruptRecordException("payload checksum mismatch");
        }
    }

    /**
     * The answer, or null when it failed or did not come by {@code deadline} (the batch's
     * {@code remote_timeout_ms}). A timeout or a broken connection marks the tier down; an error
     * reply (WRONGTYPE: someone else's value under our prefix; NOAUTH, …) is only this record's miss.
     */
    private Long await(RedisFuture<Long> answer, long deadline, int chunks) {
        Supplier<String> timedOut = () -> CommandFailures.timedOut("GET", chunks, "", options.timeoutMs(),
                "remote_timeout_ms");
        try {
            return answer.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
        } catch (ExecutionException e) {
            failures.readFailed("read", e.getCause(), timedOut);
            return null;
        } catch (TimeoutException e) {
            failures.timedOut(timedOut.get());
            answer.cancel(false);
            return null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        }
    }

    @Override
    public void write(ChunkKey key, ChunkKey parent, int[] tokens, MemorySegment chunk, Runnable done) {
        RedisLink link = health.link();
        if (link == null || failures.writesPaused() || !writeSlots.tryAcquire()) {
            writesDropped.increment();
            done.run();
            return;
        }
        try {
            send(link, key, parent, tokens, chunk, done);
        } catch (RuntimeException e) {
            health.failed(e);
            writesDropped.increment();
            writeSlots.release();
            done.run();
        }
    }

    private void send(RedisLink link, ChunkKey key, ChunkKey parent, int[] tokens, MemorySegment chunk, Runnable done) {
        long start = System.nanoTime();
        long sentAt = failures.sendTime();
        CRC32C crc = new CRC32C();
        crc.update(chunk.asByteBuffer());
        RecordHeader h = new RecordHeader(Codec.RAW, namespace, key, parent, tokens, 0, chunk.byteSize(),
                chunk.byteSize(), (int) crc.getValue());
        // An automatic arena: the header is encoded on lettuce's thread, whenever the write goes out.
        MemorySegment header = Arena.ofAuto().allocate(h.headerBytes());
        h.writeTo(header);
        RecordCodec.Outgoing value = new RecordCodec.Outgoing(chunk, header);
        SetArgs args = options.ttlSec() > 0 ? SetArgs.Builder.ex(options.ttlSec()) : new SetArgs();
        link.commands().set(redisKey(key), value, args).whenComplete((ok, error) -> {
            value.guard().close(); // from here on the page is not read, whatever lettuce still does
            try {
                if (error != null) {
                    failures.writeFailed(error, sentAt, value.size(), options.timeoutMs());
                    writesDropped.increment();
                } else {
                    failures.written(sentAt);
                    writes.increment();
                    writeBytes.add(value.size());
                    long nanos = System.nanoTime() - start;
                    writeNanos.add(nanos);
                    timings.write(nanos);
                }
            } finally {
                writeSlots.release();
                done.run();
            }
        });
    }

    @Override
    public void timings(Timings t) {
        timings = t;
    }

    @Override
    public RemoteStats stats() {
        return new RemoteStats(true, url.redacted(), health.healthy(), lookups.sum(), reads.sum(), readBytes.sum(),
                readNanos.sum(), readFailures.sum(), writes.sum(), writeBytes.sum(), writeNanos.sum(),
                writesDropped.sum(), health.errors(), health.changes(), failures.writeRefusals(), memory.usedBytes());
    }

    @Override
    public String describe() {
        return "remote " + url.redacted() + (url.cluster() ? " (cluster)" : "") + ", timeout "
                + options.timeoutMs() + " ms" + (options.ttlSec() > 0 ? ", ttl " + options.ttlSec() + " s" : "");
    }

    /** Waits for the writes in flight, then disconnects. */
    @Override
    public void close() {
        try {
            if (writeSlots.tryAcquire(options.maxInflight(), 2L * options.timeoutMs(), TimeUnit.MILLISECONDS)) {
                writeSlots.release(options.maxInflight());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        memory.close();
        health.close();
    }
}
