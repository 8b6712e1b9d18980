package org.lmcache4j.cuda;

import org.lmcache4j.transfer.HostKvTransfer;
import org.lmcache4j.transfer.KvTransfer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Objects;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;

/**
 * Picks the transfer for the caches a serving engine registers: CUDA when the probe saw a driver
 * and a device <em>and</em> the caches are device memory, the host transfer otherwise (a CPU
 * serving engine on a GPU box still has host caches). The choice and its reason are logged once,
 * and again only if a later registration changes it.
 */
public final class TransferSelector {
    private static final Logger LOG = LoggerFactory.getLogger(TransferSelector.class);

    public enum Kind { HOST, CUDA }

    /** A choice and why, in words for the log. */
    public record Choice(Kind kind, String reason) {
    }

    private final CudaProbe.Result probe;
    private final Supplier<KvTransfer> cuda;
    private final KvTransfer host = new HostKvTransfer();
    private final AtomicReference<Choice> logged = new AtomicReference<>();
    private KvTransfer cudaTransfer;

    /**
     * @param probe what the CUDA probe found
     * @param cuda  makes the CUDA transfer; called at most once, and only when CUDA is chosen
     */
    public TransferSelector(CudaProbe.Result probe, Supplier<KvTransfer> cuda) {
        this.probe = Objects.requireNonNull(probe);
        this.cuda = Objects.requireNonNull(cuda);
    }

    /**
     * What to use for caches at these base addresses, one per layer, or for caches handed over as
     * Java segments ({@code addresses == null}), which are host memory by construction.
     */
    public Choice choose(long[] addresses) {
        if (!probe.devicesPresent()) {
            return new Choice(Kind.HOST, probe.reason());
        }
        if (addresses == null || addresses.length == 0) {
            return new Choice(Kind.HOST, probe.reason() + ", but the caches were registered as host segments");
        }
        CudaProbe.Driver driver = probe.driver().orElseThrow();
        int onDevice = 0;
        for (long a : addresses) {
            onDevice += driver.isDeviceMemory(a) ? 1 : 0;
        }
        if (onDevice == 0) {
            return new Choice(Kind.HOST, probe.reason() + ", but the caches are host memory");
        }
        if (onDevice != addresses.length) {
            throw new IllegalArgumentException(onDevice + " of " + addresses.length
                    + " layer caches are device memory and the others are not: one transfer cannot serve both");
        }
        return new Choice(Kind.CUDA, probe.reason() + " and the caches are device memory");
    }

    /** Chooses for these caches (see {@link #choose}), logs the choice if new, and returns the transfer. */
    public synchronized KvTransfer select(long[] addresses) {
        Choice c = choose(addresses);
        KvTransfer t = c.kind() == Kind.HOST ? host : cudaTransfer();
        if (!c.equals(logged.getAndSet(c))) {
            LOG.info("KV transfer: {} ({})", t.describe(), c.reason());
        }
        return t;
    }

    private KvTransfer cudaTransfer() {
        if (cudaTransfer == null) {
            cudaTransfer = cuda.get();
        }
        return cudaTransfer;
    }

    /** Closes the CUDA transfer if one was made (the host transfer holds nothing). */
    public synchronized void close() {
        if (cudaTransfer != null) {
            cudaTransfer.close();
            cudaTransfer = null;
        }
    }

    /** For the start-up log, before any caches are registered. */
    public String describe() {
        return "auto (" + probe.reason() + ")";
    }
}
