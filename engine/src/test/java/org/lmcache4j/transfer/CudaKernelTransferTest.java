package org.lmcache4j.transfer;

/** The transfer contract for the gather/scatter kernels, launched through JCuda on the CPU-run CUDA driver. */
class CudaKernelTransferTest extends CudaTransferContract {
    @Override
    CudaKvTransfer.Mode mode() {
        return CudaKvTransfer.Mode.KERNEL;
    }
}
