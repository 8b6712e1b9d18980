package org.lmcache4j.memory;

import java.lang.foreign.MemorySegment;
import java.util.Map;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Slabs that other processes can map: each is a memory file ({@code memfd_create}) mapped
 * {@code MAP_SHARED} at a 2 MiB-aligned address, advised for huge pages and faulted in as
 * {@link MmapSlabSource} does. The server's pool uses it; its clients receive a slab's descriptor
 * ({@link #descriptor}) and map the same memory, so that they copy KV into and out of pool pages
 * themselves. Slabs are numbered from 0 in the order they are mapped, never reusing a number;
 * {@link #locate} turns a page into its slab's number and its offset there.
 *
 * <p>Huge pages for shared memory also depend on the kernel's
 * {@code /sys/kernel/mm/transparent_hugepage/shmem_enabled}; the advice is only ever a hint.
 */
public final class SharedSlabSource implements SlabSource {
    /** Where a page lies: its slab's number, the slab's size, and the page's byte offset in it. */
    public record Location(int slab, long slabBytes, long offset) {
    }

    private record Slab(int index, int fd, MemorySegment memory) {
    }

    private final Libc libc;
    private final MmapSlabSource faults;
    private final AtomicInteger nextIndex = new AtomicInteger();
    /** By base address, so a page finds its slab with one floor lookup. */
    private final ConcurrentSkipListMap<Long, Slab> byAddress = new ConcurrentSkipListMap<>();
    private final Map<Integer, Slab> byIndex = new java.util.concurrent.ConcurrentHashMap<>();

    private SharedSlabSource(Libc libc) {
        this.libc = libc;
        this.faults = new MmapSlabSource(libc);
    }

    /** The source, or an error saying why this platform has none (shared slabs need Linux's libc). */
    public static SharedSlabSource create() {
        return new SharedSlabSource(Libc.load().orElseThrow(() -> new UnsupportedOperationException(
                "a shared pool needs Linux's libc (memfd_create, mmap), and this is " + System.getProperty("os.name"))));
    }

    @Override
    public MemorySegment map(long bytes) {
        if (bytes <= 0 || bytes % HUGE_PAGE != 0) {
            throw new IllegalArgumentException("slab size must be a positive multiple of 2 MiB, got " + bytes);
        }
        int index = nextIndex.getAndIncrement();
        int fd = libc.memoryFile("lmcache4j-slab-" + index, bytes);
        long aligned;
        try {
            aligned = mapFile(libc, fd, bytes);
        } catch (RuntimeException | Error e) {
            libc.closeFd(fd);
            throw e;
        }
        libc.advise(aligned, bytes, Libc.MADV_HUGEPAGE);
        MemorySegment memory = MemorySegment.ofAddress(aligned).reinterpret(bytes);
        Slab slab = new Slab(index, fd, memory);
        byAddress.put(aligned, slab);
        byIndex.put(index, slab);
        return memory;
    }

    @Override
    public void prefault(MemorySegment slab) {
        faults.prefault(slab);
    }

    @Override
    public void unmap(MemorySegment memory) {
        Slab slab = byAddress.remove(memory.address());
        libc.unmap(memory.address(), memory.byteSize());
        if (slab != null) {
            byIndex.remove(slab.index());
            libc.closeFd(slab.fd());
        }
    }

    @Override
    public String describe() {
        return "memfd+THP, shared";
    }

    /** The slab of a page (a segment inside a slab this source mapped). */
    public Location locate(MemorySegment page) {
        Map.Entry<Long, Slab> e = byAddress.floorEntry(page.address());
        if (e == null || page.address() + page.byteSize() > e.getKey() + e.getValue().memory().byteSize()) {
            throw new IllegalArgumentException("0x" + Long.toHexString(page.address()) + " is not a page of a shared slab");
        }
        Slab s = e.getValue();
        return new Location(s.index(), s.memory().byteSize(), page.address() - e.getKey());
    }

    /**
     * The descriptor of slab {@code index}, to pass to a client; it stays this source's own (the
     * kernel duplicates it into the receiving process). Closed once the slab is unmapped.
     */
    public int descriptor(int index) {
        Slab s = byIndex.get(index);
        if (s == null) {
            throw new IllegalArgumentException("no shared slab " + index + " is mapped");
        }
        return s.fd();
    }

    /**
     * A client's view of a slab whose descriptor it received: the same memory, mapped shared here
     * at a 2 MiB-aligned address. {@link #detach} unmaps it; the descriptor stays the caller's.
     */
    public static MemorySegment attach(int fd, long bytes) {
        Libc libc = Libc.load().orElseThrow(() -> new UnsupportedOperationException("attaching a slab needs Linux's libc"));
        return MemorySegment.ofAddress(mapFile(libc, fd, bytes)).reinterpret(bytes);
    }

    public static void detach(MemorySegment slab) {
        Libc.load().orElseThrow().unmap(slab.address(), slab.byteSize());
    }

    /** Maps the memory file {@code fd} shared at a fresh 2 MiB-aligned address. */
    private static long mapFile(Libc libc, int fd, long bytes) {
        long aligned = MmapSlabSource.mapAligned(libc, bytes);
        try {
            libc.mapSharedAt(aligned, bytes, fd); // replaces the private reservation, same address
        } catch (RuntimeException | Error e) {
            libc.unmap(aligned, bytes);
            throw e;
        }
        return aligned;
    }

    /** How many slabs are mapped now. */
    public int slabCount() {
        return byIndex.size();
    }
}
