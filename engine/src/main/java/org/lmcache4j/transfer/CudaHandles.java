package org.lmcache4j.transfer;

import jcuda.NativePointerObject;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUstream;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * Raw driver handles and JCuda's wrappers of them. A serving engine hands the engine its stream
 * as the {@code CUstream} value it got from its own runtime (torch's {@code cuda_stream}), and
 * its caches and the pool's pages as raw addresses; JCuda has no public way to wrap such values
 * or to read one back, and refuses a pointer that is only a byte offset ("must point to a direct
 * buffer or native memory"), so this reads and writes the wrapper's handle field directly.
 * Nothing else in the engine does.
 */
public final class CudaHandles {
    private static final VarHandle NATIVE;

    static {
        try {
            NATIVE = MethodHandles.privateLookupIn(NativePointerObject.class, MethodHandles.lookup())
                    .findVarHandle(NativePointerObject.class, "nativePointer", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError("this JCuda version hides its handles differently: " + e);
        }
    }

    private CudaHandles() {
    }

    /** The driver's handle inside a JCuda wrapper (a context, stream, event or allocation). */
    public static long handle(NativePointerObject wrapper) {
        return (long) NATIVE.get(wrapper);
    }

    public static CUstream stream(long handle) {
        CUstream s = new CUstream();
        NATIVE.set(s, handle);
        return s;
    }

    static CUcontext context(long handle) {
        CUcontext c = new CUcontext();
        NATIVE.set(c, handle);
        return c;
    }

    /** A device or host address as JCuda takes it: native memory at {@code address}. */
    public static CUdeviceptr address(long address) {
        CUdeviceptr p = new CUdeviceptr();
        NATIVE.set(p, address);
        return p;
    }

}
