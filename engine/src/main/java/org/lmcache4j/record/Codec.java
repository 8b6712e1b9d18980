package org.lmcache4j.record;

/** How a record's payload is stored. */
public enum Codec {
    /** The chunk's bytes as they are in the pool. */
    RAW(0),
    /** LZ4 block compression of the chunk's bytes. */
    LZ4(1),
    /** LZ4 over the chunk with the bytes of each 16-bit element split into two planes. */
    LZ4_SHUFFLE16(2);

    private final int id;

    Codec(int id) {
        this.id = id;
    }

    public int id() {
        return id;
    }

    static Codec of(int id) throws CorruptRecordException {
        for (Codec c : values()) {
            if (c.id == id) {
                return c;
            }
        }
        throw new CorruptRecordException("unknown codec " + id);
    }
}
