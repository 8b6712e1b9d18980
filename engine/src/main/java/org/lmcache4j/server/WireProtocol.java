package org.lmcache4j.server;

/**
 * The numbers of the server protocol, mirrored from {@code native/include/lmcache4j_wire.h}, the one
 * definition (its comments give every body's layout; docs/server.md explains it). A test reads
 * the header and checks that each {@code LMCACHE4J_WIRE_X} there equals {@code X} here.
 *
 * <pre>
 * message   0  4  u32 body_length (at most MAX_BODY)
 *           4  2  u16 type
 *           6  2  u16 reserved, 0
 *           8     body: fields packed little-endian; string = u32 length + UTF-8 (NULL_STRING: none);
 *                 T[] = u32 count + elements
 * copy op   0  2  kind (GATHER, SCATTER) · 2 2 reserved · 4 4 layer (WHOLE_CHUNK or one)
 *           8  4  from · 12 4 to · 16 4 slab · 20 4 reserved · 24 8 offset            (COPY_OP_BYTES)
 * </pre>
 */
final class WireProtocol {
    static final int VERSION = 2;
    /** "LMC4" as bytes on the wire, read as a little-endian u32. */
    static final int MAGIC = 0x34434D4C;
    static final int HEADER_BYTES = 8;
    static final int MAX_BODY = 1 << 28;
    /** A string length meaning "none" (C's NULL): 0xFFFFFFFF. */
    static final int NULL_STRING = 0xFFFFFFFF;

    static final int HELLO = 1;
    static final int WELCOME = 2;
    static final int ERROR = 3;
    static final int RESULT = 4;
    static final int SLAB = 5;
    static final int COPY = 6;
    static final int COPY_DONE = 7;

    static final int GATHER = 1;
    static final int SCATTER = 2;
    static final int WHOLE_CHUNK = -1;
    static final int COPY_OP_BYTES = 32;

    static final int LOOKUP = 16;
    static final int LOOKUP_TIERS = 17;
    static final int STORE = 18;
    static final int RETRIEVE = 19;
    static final int UNPIN = 20;
    static final int STATS = 21;
    static final int CONFIG_JSON = 22;
    static final int METRICS_TEXT = 23;
    static final int METRICS_JSON = 24;
    static final int COUNT_PROMPT = 25;
    static final int CLEAR = 26;
    static final int GOODBYE = 27;

    static final int RECORD_KV_EVENTS = 28;
    static final int TAKE_KV_EVENTS = 29;

    static final int PREFETCH = 32;
    static final int PREFETCH_STATE = 33;
    static final int PREFETCH_AWAIT = 34;
    static final int PREFETCH_CANCEL = 35;
    static final int PREFETCH_CLOSE = 36;

    static final int STORE_LAYERS = 40;
    static final int RETRIEVE_LAYERS = 41;
    static final int COPY_LAYER = 42;
    static final int AWAIT_LAYER = 43;
    static final int CLOSE_LAYERS = 44;

    /** Device caches over CUDA IPC (48-55): the client's handles, once per connection (lmcache4j_wire.h). */
    static final int REGISTER_DEVICE_CACHES = 48;
    static final int IPC_HANDLE_BYTES = 64;
    static final int DEVICE_LAYER_BYTES = 80;

    /** Kept for later versions. */
    static final int RESERVED_FIRST = 49;
    static final int RESERVED_LAST = 63;

    private WireProtocol() {
    }
}
