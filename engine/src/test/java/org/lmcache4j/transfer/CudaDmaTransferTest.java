package org.lmcache4j.transfer;

/** The transfer contract for DMA mode (one cuMemcpyAsync per run), on the CPU-run CUDA driver. */
class CudaDmaTransferTest extends CudaTransferContract {
    @Override
    CudaKvTransfer.Mode mode() {
        return CudaKvTransfer.Mode.DMA;
    }
}
