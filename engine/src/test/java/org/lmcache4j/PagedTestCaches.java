package org.lmcache4j;

import org.lmcache4j.transfer.PagedCaches;

import java.lang.foreign.MemorySegment;
import java.util.List;

/** Paged KV caches a test fills and reads back: in host memory ({@link TestCaches}) or on a device ({@link DeviceCaches}). */
public interface PagedTestCaches extends AutoCloseable {
    KvLayout layout();

    /** The caches as the engine and the transfers see them (device addresses for device caches). */
    PagedCaches view();

    /** One address per layer, as a serving engine registers them. */
    long[] addresses();

    void fillRandom(long seed);

    /** What the caches hold now, one host segment per layer (read back from a device). */
    List<MemorySegment> contents();

    /** Every row of tokens [from, to) at their slots, layer by layer, plane by plane; -1 slots are skipped. */
    byte[] rows(long[] slots, int from, int to);

    @Override
    void close();
}
