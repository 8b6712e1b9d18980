package org.lmcache4j.transfer;

import jcuda.driver.CUcontext;
import jcuda.driver.JCudaDriver;

import java.util.function.Supplier;

/**
 * Runs driver calls with a given context current on the calling thread, pushed before and popped
 * after, so that the thread's own current context (torch's, a caller's) is left as it was.
 */
final class CurrentContext {
    private CurrentContext() {
    }

    static <T> T call(CUcontext context, Supplier<T> calls) {
        JCudaDriver.cuCtxPushCurrent(context);
        try {
            return calls.get();
        } finally {
            JCudaDriver.cuCtxPopCurrent(new CUcontext());
        }
    }
}
