package org.lmcache4j.disk;

import org.lmcache4j.keys.ChunkKey;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The disk tier's bookkeeping, apart from its I/O: which records exist, in least-recently-used
 * order, how many bytes they take against the cap, which are being read (never deleted then) and
 * which are being written (never written twice at once). It decides what to evict and hands the
 * keys back: the tier deletes the files after this lock is let go, because an unlink can be slow
 * and serving threads take this lock under the engine's.
 *
 * <p>Thread-safe: one lock, held only for map operations.
 */
final class DiskIndex {
    /** An indexed record. Guarded by the lock. */
    private static final class Entry {
        final int tokens;
        final long fileBytes;
        int readers;

        Entry(int tokens, long fileBytes) {
            this.tokens = tokens;
            this.fileBytes = fileBytes;
        }
    }

    /** What {@link #reserve} decided. */
    enum Reservation { PRESENT, IN_FLIGHT, NO_ROOM, RESERVED }

    /** The cap in effect: {@code max_local_disk_size}, or less once the device proved to hold less. */
    private volatile long capacityBytes;
    private final ReentrantLock lock = new ReentrantLock();
    /** Records in least-recently-used order: a get touches. */
    private final LinkedHashMap<ChunkKey, Entry> lru = new LinkedHashMap<>(16, 0.75f, true);
    /** The same records, for looking one up without touching it. */
    private final Map<ChunkKey, Entry> entries = new HashMap<>();
    private final Set<ChunkKey> writing = new HashSet<>();
    private final LongAdder evictions = new LongAdder();
    private long usedBytes;

    DiskIndex(long capacityBytes) {
        this.capacityBytes = capacityBytes;
    }

    /** Adds a record found at start-up, as the most recently used. */
    void add(ChunkKey key, int tokens, long fileBytes) {
        lock.lock();
        try {
            put(key, new Entry(tokens, fileBytes));
        } finally {
            lock.unlock();
        }
    }

    /** Whether a record of {@code tokens} tokens is indexed under {@code key}; touches it. */
    boolean contains(ChunkKey key, int tokens) {
        lock.lock();
        try {
            Entry e = lru.get(key);
            return e != null && e.tokens == tokens;
        } finally {
            lock.unlock();
        }
    }

    /** Like {@link #contains}, without touching. */
    boolean holds(ChunkKey key, int tokens) {
        lock.lock();
        try {
            Entry e = entries.get(key);
            return e != null && e.tokens == tokens;
        } finally {
            lock.unlock();
        }
    }

    boolean beginRead(ChunkKey key) {
        lock.lock();
        try {
            Entry e = lru.get(key);
            if (e == null) {
                return false;
            }
            e.readers++;
            return true;
        } finally {
            lock.unlock();
        }
    }

    void endRead(ChunkKey key) {
        lock.lock();
        try {
            Entry e = entries.get(key);
            if (e != null && e.readers > 0) {
                e.readers--;
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * Makes room for a record of {@code bytes} under {@code key} and reserves it; the keys evicted to
     * make room are added to {@code evicted}, for their files to be deleted.
     */
    Reservation reserve(ChunkKey key, long bytes, List<ChunkKey> evicted) {
        lock.lock();
        try {
            if (entries.containsKey(key)) {
                return Reservation.PRESENT;
            }
            if (!writing.add(key)) {
                return Reservation.IN_FLIGHT; // another write of this key is under way, and may yet fail
            }
            if (!makeRoom(bytes, evicted)) {
                writing.remove(key);
                return Reservation.NO_ROOM;
            }
            usedBytes += bytes;
            return Reservation.RESERVED;
        } finally {
            lock.unlock();
        }
    }

    /** Ends a reserved write: indexes the record if it was written, gives the room back if not. */
    void finishWrite(ChunkKey key, int tokens, long bytes, boolean written) {
        lock.lock();
        try {
            writing.remove(key);
            usedBytes -= bytes; // the reservation; put() counts the record
            if (written) {
                put(key, new Entry(tokens, bytes));
            }
        } finally {
            lock.unlock();
        }
    }

    /** Forgets a record (it failed to read, or vanished). */
    void remove(ChunkKey key) {
        lock.lock();
        try {
            Entry e = entries.remove(key);
            if (e != null) {
                lru.remove(key);
                usedBytes -= e.fileBytes;
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * Lowers the cap to {@code bytes} if that is below it (never raises it); returns whether it
     * changed. Records above the new cap stay until the next {@link #reserve} or
     * {@link #fitsAfterEvicting} evicts them.
     */
    boolean lowerCapacity(long bytes) {
        lock.lock();
        try {
            long floor = Math.max(0, bytes);
            if (floor >= capacityBytes) {
                return false;
            }
            capacityBytes = floor;
            return true;
        } finally {
            lock.unlock();
        }
    }

    long capacityBytes() {
        return capacityBytes;
    }

    /**
     * Evicts least recently used records without readers until everything indexed and reserved,
     * a caller's reservation included, fits under the cap; the keys evicted are added to
     * {@code evicted}. Returns whether it fits.
     */
    boolean fitsAfterEvicting(List<ChunkKey> evicted) {
        lock.lock();
        try {
            return makeRoom(0, evicted);
        } finally {
            lock.unlock();
        }
    }

    /** Evicts down to the cap (after start-up indexing); returns the keys evicted. */
    List<ChunkKey> shrinkToCapacity() {
        List<ChunkKey> evicted = new ArrayList<>();
        lock.lock();
        try {
            makeRoom(0, evicted);
        } finally {
            lock.unlock();
        }
        return evicted;
    }

    long usedBytes() {
        lock.lock();
        try {
            return usedBytes;
        } finally {
            lock.unlock();
        }
    }

    int records() {
        lock.lock();
        try {
            return entries.size();
        } finally {
            lock.unlock();
        }
    }

    long evictions() {
        return evictions.sum();
    }

    /** Evicts least recently used records without readers until {@code bytes} more fit. Caller holds the lock. */
    private boolean makeRoom(long bytes, List<ChunkKey> evicted) {
        Iterator<Map.Entry<ChunkKey, Entry>> it = lru.entrySet().iterator();
        while (usedBytes + bytes > capacityBytes && it.hasNext()) {
            Map.Entry<ChunkKey, Entry> oldest = it.next();
            if (oldest.getValue().readers > 0) {
                continue;
            }
            it.remove();
            entries.remove(oldest.getKey());
            usedBytes -= oldest.getValue().fileBytes;
            evictions.increment();
            evicted.add(oldest.getKey());
        }
        return usedBytes + bytes <= capacityBytes;
    }

    /** Caller holds the lock. */
    private void put(ChunkKey key, Entry e) {
        lru.put(key, e);
        entries.put(key, e);
        usedBytes += e.fileBytes;
    }
}
