package org.lmcache4j.transfer;

import jcuda.NativePointerObject;

/** The raw handle inside a JCuda wrapper, for tests outside this package. */
public final class TestHandles {
    private TestHandles() {
    }

    public static long of(NativePointerObject wrapper) {
        return CudaHandles.handle(wrapper);
    }
}
