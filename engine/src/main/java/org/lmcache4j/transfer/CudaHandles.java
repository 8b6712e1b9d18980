package org.lmcache4j.transfer;

import jcuda.NativePointerObject;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUipcMemHandle;
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
    /** JCuda keeps a CUipcMemHandle's 64 bytes in a private array its native code reads and writes. */
    private static final VarHandle IPC_BYTES;
    public static final int IPC_HANDLE_BYTES = 64;

    static {
        try {
            NATIVE = MethodHandles.privateLookupIn(NativePointerObject.class, MethodHandles.lookup())
                    .findVarHandle(NativePointerObject.class, "nativePointer", long.class);
            IPC_BYTES = MethodHandles.privateLookupIn(CUipcMemHandle.class, MethodHandles.lookup())
                    .findVarHandle(CUipcMemHandle.class, "reserved", byte[].class);
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

    /** A CUDA IPC memory handle holding {@code bytes} (another process's cuIpcGetMemHandle). */
    public static CUipcMemHandle ipcHandle(byte[] bytes) {
        if (bytes.length != IPC_HANDLE_BYTES) {
            throw new IllegalArgumentException("a CUDA IPC handle has " + IPC_HANDLE_BYTES + " bytes, not " + bytes.length);
        }
        CUipcMemHandle h = new CUipcMemHandle();
        IPC_BYTES.set(h, bytes.clone());
        return h;
    }

    /** The 64 bytes of a CUDA IPC memory handle. */
    public static byte[] ipcBytes(CUipcMemHandle handle) {
        return ((byte[]) IPC_BYTES.get(handle)).clone();
    }
}
