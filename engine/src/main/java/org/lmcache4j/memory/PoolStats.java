package org.lmcache4j.memory;

/**
 * A snapshot of the pool.
 *
 * @param capacityBytes  the configured size ({@code max_local_cpu_size})
 * @param pageBytes      bytes of one page (one chunk of {@code chunk_size} tokens)
 * @param capacityPages  pages the pool can ever hold
 * @param mappedBytes    bytes of the slabs mapped so far (the pool grows lazily)
 * @param pagesInUse     pages holding a chunk or being written
 * @param leases         active leases (copies in flight and pins)
 * @param growthWaitNanos time allocations spent waiting for a slab to be faulted in, because
 *                       stores outran the background grower (first touch of fresh memory)
 */
public record PoolStats(long capacityBytes, long pageBytes, int capacityPages, long mappedBytes,
                        int pagesInUse, long leases, long growthWaitNanos) {

    /** Bytes of the pages in use. */
    public long usedBytes() {
        return pagesInUse * pageBytes;
    }

    /** Fraction of the capacity in use, 0 for an empty pool. */
    public double usage() {
        return capacityPages == 0 ? 0.0 : (double) pagesInUse / capacityPages;
    }
}
