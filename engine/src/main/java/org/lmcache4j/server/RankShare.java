package org.lmcache4j.server;

import org.lmcache4j.EngineConfig;

import java.nio.file.Path;

/**
 * One tensor-parallel rank's share of the node: the server's configuration sizes the node once
 * ({@code max_local_cpu_size}, {@code max_local_disk_size}), whatever the tensor parallelism,
 * and the engine of rank {@code r} of world size {@code w} gets 1/w of each.
 *
 * <p>Why an equal split: the ranks of one world store the same token ranges (every worker runs
 * every request), each its own shard of equal size, so a pool they shared would settle at 1/w
 * each anyway; splitting it up front keeps each rank's engine (its LRU, its leases, its pins) to
 * itself, with no lock or eviction shared between ranks.
 *
 * <p>Disk: with more than one rank, each rank's records live under their own subdirectory of
 * {@code local_disk}, {@code rank-<r>-of-<w>}: a disk tier claims its directory for itself, and
 * each rank's cap is then its own. A world of one rank keeps {@code local_disk} itself, as an
 * embedded engine does, so a node that moves to the server keeps its disk hits.
 */
record RankShare(int worldSize, int rank) {

    RankShare {
        if (worldSize < 1 || rank < 0 || rank >= worldSize) {
            throw new IllegalArgumentException("rank " + rank + " of world size " + worldSize + " is not a worker");
        }
    }

    /** The configuration of this rank's engine: {@code node}'s, with 1/w of the pool and the disk tier. */
    EngineConfig of(EngineConfig node) {
        if (worldSize == 1) {
            return node;
        }
        EngineConfig.Builder b = node.toBuilder()
                .maxLocalCpuSizeGb(node.maxLocalCpuSizeGb() / worldSize)
                .maxLocalDiskSizeGb(node.maxLocalDiskSizeGb() / worldSize);
        node.localDisk().ifPresent(dir -> b.localDisk(Path.of(dir).resolve(subdirectory()).toString()));
        return b.build();
    }

    /** Where this rank's disk records live under {@code local_disk} (world size above 1). */
    String subdirectory() {
        return "rank-" + rank + "-of-" + worldSize;
    }

    /** For messages: "rank 1 of world size 2". */
    @Override
    public String toString() {
        return "rank " + rank + " of world size " + worldSize;
    }
}
