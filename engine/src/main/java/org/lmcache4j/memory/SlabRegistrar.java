package org.lmcache4j.memory;

import java.lang.foreign.MemorySegment;

/**
 * The seam where a device runtime page-locks each slab as the pool creates it (for CUDA,
 * {@code cuMemHostRegister}), so that there is never one giant pinned allocation. Host-only
 * engines use {@link #NONE}.
 */
public interface SlabRegistrar extends AutoCloseable {
    /** Registers a freshly mapped slab before any page of it is handed out. */
    void register(MemorySegment slab);

    /** Undoes {@link #register} before the slab is unmapped. */
    void unregister(MemorySegment slab);

    /** For the start-up log: what registration does. */
    String describe();

    /** Lets go of what the registrar holds (a device context); the pool calls it when it closes. */
    @Override
    default void close() {
    }

    /** Plain host memory: nothing to register. */
    SlabRegistrar NONE = new SlabRegistrar() {
        @Override
        public void register(MemorySegment slab) {
        }

        @Override
        public void unregister(MemorySegment slab) {
        }

        @Override
        public String describe() {
            return "host";
        }
    };
}
