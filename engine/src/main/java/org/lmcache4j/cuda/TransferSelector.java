package org.lmcache4j.cuda;

import org.lmcache4j.memory.SlabRegistrar;
import org.lmcache4j.transfer.HostKvTransfer;
import org.lmcache4j.transfer.KvTransfer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Picks the transfer for the caches a serving engine registers: CUDA when the caches are device
 * memory (the probe saw a driver and a device, and the driver says whose memory each layer is),
 * the host transfer when they are host memory. The caller may say which it expects
 * ({@value #HOST} for host memory, a device id) or let the driver tell ({@value #AUTO}); a claim
 * the driver contradicts is refused before anything is registered, because the host transfer on
 * device memory would crash the process and the CUDA one on host memory would fault the device.
 * The choice and its reason are logged once, and again only if a later registration changes it.
 */
public final class TransferSelector {
    private static final Logger LOG = LoggerFactory.getLogger(TransferSelector.class);
    /** The caches are host memory. */
    public static final int HOST = -1;
    /** Let the driver say where the caches are. */
    public static final int AUTO = -2;

    public enum Kind { HOST, CUDA }

    /** A choice, the device it is for (-1 for host), and why, in words for the log. */
    public record Choice(Kind kind, int device, String reason) {
    }

    /** What the CUDA path is made of; called only when CUDA is chosen, so JCuda loads only then. */
    public interface CudaFactory {
        /** The transfer for caches on {@code device}; {@code cacheAddress} is one of them. */
        KvTransfer transfer(int device, long cacheAddress);

        /** What page-locks the pool's slabs for {@code device}. */
        SlabRegistrar registrar(int device);
    }

    private final CudaProbe.Result probe;
    private final CudaFactory cuda;
    private final KvTransfer host = new HostKvTransfer();
    private final AtomicReference<Choice> logged = new AtomicReference<>();
    private final Map<Integer, KvTransfer> cudaTransfers = new LinkedHashMap<>();

    public TransferSelector(CudaProbe.Result probe, CudaFactory cuda) {
        this.probe = Objects.requireNonNull(probe);
        this.cuda = Objects.requireNonNull(cuda);
    }

    /**
     * What to use for caches at these base addresses, one per layer, claimed to be on
     * {@code device} ({@link #HOST}, a device id, or {@link #AUTO}); {@code addresses == null}
     * for caches handed over as Java segments, which are host memory by construction.
     *
     * @throws IllegalArgumentException naming the value, where the claim and the memory disagree
     */
    public Choice choose(long[] addresses, int device) {
        if (device < AUTO) {
            throw new IllegalArgumentException("device " + device + " is not a device id (-1 for host memory)");
        }
        if (addresses == null) {
            if (device >= 0) {
                throw new IllegalArgumentException("caches given as Java memory segments are host memory, not CUDA device " + device);
            }
            return new Choice(Kind.HOST, HOST, "the caches were registered as host segments");
        }
        if (!probe.devicesPresent()) {
            if (device >= 0) {
                throw new IllegalArgumentException("paged caches on CUDA device " + device + " need a CUDA driver with"
                        + " a device, and there is none: " + probe.reason());
            }
            return new Choice(Kind.HOST, HOST, probe.reason());
        }
        if (device >= probe.devices()) {
            throw new IllegalArgumentException("CUDA device " + device + " does not exist: the driver sees "
                    + probe.devices() + " device(s)");
        }
        CudaProbe.Driver driver = probe.driver().orElseThrow();
        int[] owner = Arrays.stream(addresses).mapToInt(driver::deviceOf).toArray();
        int onDevice = (int) Arrays.stream(owner).filter(d -> d >= 0).count();
        if (onDevice == 0) {
            if (device >= 0) {
                throw new IllegalArgumentException("the caches were registered for CUDA device " + device
                        + ", but they are host memory (layer 0 at 0x" + Long.toHexString(addresses[0]) + ")");
            }
            return new Choice(Kind.HOST, HOST, probe.reason() + ", but the caches are host memory");
        }
        if (onDevice != addresses.length) {
            throw new IllegalArgumentException(onDevice + " of " + addresses.length
                    + " layer caches are device memory and the others are not: one transfer cannot serve both");
        }
        int[] devices = Arrays.stream(owner).distinct().sorted().toArray();
        if (devices.length > 1) {
            throw new IllegalArgumentException("the layer caches are on several CUDA devices " + Arrays.toString(devices)
                    + ": one engine serves one device (open one per device)");
        }
        if (device == HOST) {
            throw new IllegalArgumentException("the caches were registered as host memory (device -1), but layer 0 at 0x"
                    + Long.toHexString(addresses[0]) + " is memory of CUDA device " + devices[0]);
        }
        if (device >= 0 && device != devices[0]) {
            throw new IllegalArgumentException("the caches were registered for CUDA device " + device
                    + ", but they are memory of CUDA device " + devices[0]);
        }
        return new Choice(Kind.CUDA, devices[0], probe.reason() + " and the caches are memory of device " + devices[0]);
    }

    /** The transfer for a choice made by {@link #choose}; the CUDA one is made once per device. */
    public synchronized KvTransfer transferFor(Choice c, long[] addresses) {
        KvTransfer t = c.kind() == Kind.HOST ? host
                : cudaTransfers.computeIfAbsent(c.device(), d -> cuda.transfer(d, addresses[0]));
        if (!c.equals(logged.getAndSet(c))) {
            LOG.info("KV transfer: {} ({})", t.describe(), c.reason());
        }
        return t;
    }

    /** What page-locks the pool's slabs for caches on {@code device}. */
    public SlabRegistrar registrar(int device) {
        return cuda.registrar(device);
    }

    /** Waits until every CUDA transfer's copies have landed and their actions have run. */
    public void awaitIdle() {
        KvTransfer[] transfers;
        synchronized (this) {
            transfers = cudaTransfers.values().toArray(KvTransfer[]::new);
        }
        for (KvTransfer t : transfers) {
            t.awaitIdle();
        }
    }

    /** Closes the CUDA transfers that were made (the host transfer holds nothing). */
    public synchronized void close() {
        cudaTransfers.values().forEach(KvTransfer::close);
        cudaTransfers.clear();
    }

    /** For the start-up log, before any caches are registered. */
    public String describe() {
        return "auto (" + probe.reason() + ")";
    }
}
