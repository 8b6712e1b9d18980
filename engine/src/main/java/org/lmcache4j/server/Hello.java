package org.lmcache4j.server;

import org.lmcache4j.KvDtype;
import org.lmcache4j.KvFormat;
import org.lmcache4j.KvLayout;

import java.util.ArrayList;
import java.util.List;

/**
 * A client's HELLO after its magic and version: who it is, and the engine it needs (model,
 * tensor-parallel rank, the layout of its paged caches, its settings overlay).
 */
record Hello(int pid, String model, int worldSize, int rank, KvLayout layout, String settings) {

    /** Reads the fields after magic and version ({@link WireProtocol#HELLO}); a bad layout value is refused naming it. */
    static Hello read(WireReader r) {
        int pid = r.i32();
        r.i32(); // reserved
        String model = r.string();
        int worldSize = r.i32();
        int rank = r.i32();
        int layers = r.i32();
        int heads = r.i32();
        int headSize = r.i32();
        String dtype = r.string();
        int blockSize = r.i32();
        int blocks = r.i32();
        String format = r.string();
        String settings = r.nullableString();
        r.end();
        KvLayout layout = new KvLayout(layers, heads, headSize, KvDtype.parse(dtype), blockSize, blocks,
                KvFormat.parse(format));
        int world = worldSize == 0 ? 1 : worldSize;
        if (world < 1 || rank < 0 || rank >= world) {
            throw new IllegalArgumentException("rank " + rank + " of world size " + worldSize + " is not a worker");
        }
        return new Hello(pid, model.isEmpty() ? "default" : model, world, rank, layout, settings);
    }

    /**
     * What differs between the engine this client needs and {@code open}'s, in words ("" when
     * nothing does). Blocks per layer may differ: each client checks its slots against its own.
     */
    String differencesFrom(Hello open) {
        List<String> d = new ArrayList<>();
        differ(d, "model", model, open.model);
        differ(d, "world_size", worldSize, open.worldSize);
        differ(d, "rank", rank, open.rank);
        KvLayout a = layout;
        KvLayout b = open.layout;
        differ(d, "num_layers", a.numLayers(), b.numLayers());
        differ(d, "num_kv_heads", a.numKvHeads(), b.numKvHeads());
        differ(d, "head_size", a.headSize(), b.headSize());
        differ(d, "dtype", a.dtype().torchName(), b.dtype().torchName());
        differ(d, "block_size", a.blockSize(), b.blockSize());
        differ(d, "kv_format", a.format().configName(), b.format().configName());
        return String.join(", ", d);
    }

    /**
     * The layout the server's engine runs with: the client's, with as many blocks as slots can
     * number, so that every client's slots pass the engine's range check (each client checked
     * them against its own caches already; the server never touches a client's caches).
     */
    KvLayout serverLayout() {
        return new KvLayout(layout.numLayers(), layout.numKvHeads(), layout.headSize(), layout.dtype(),
                layout.blockSize(), Integer.MAX_VALUE / layout.blockSize(), layout.format());
    }

    private static void differ(List<String> d, String name, Object mine, Object theirs) {
        if (!mine.equals(theirs)) {
            d.add(name + " " + mine + " (the server's engine has " + theirs + ")");
        }
    }
}
