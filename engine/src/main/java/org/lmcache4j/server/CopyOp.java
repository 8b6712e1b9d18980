package org.lmcache4j.server;

/**
 * One chunk copy a client runs in its own memory: tokens {@code [from, to)} of the request, between
 * its paged caches and the page at {@code offset} of shared slab {@code slab}
 * ({@link WireProtocol#GATHER}: caches to page, {@link WireProtocol#SCATTER}: page to caches).
 */
record CopyOp(int kind, int layer, int from, int to, int slab, long slabBytes, long offset) {

    void write(WireWriter w) {
        w.u16(kind).u16(0).i32(layer).i32(from).i32(to).i32(slab).i32(0).i64(offset);
    }

    /** Reads one op as {@link #write} wrote it; its slab's size is not on the wire (0 here). */
    static CopyOp read(WireReader r) {
        int kindAndReserved = r.i32();
        int layer = r.i32();
        int from = r.i32();
        int to = r.i32();
        int slab = r.i32();
        r.i32();
        long offset = r.i64();
        return new CopyOp(kindAndReserved & 0xFFFF, layer, from, to, slab, 0, offset);
    }
}
