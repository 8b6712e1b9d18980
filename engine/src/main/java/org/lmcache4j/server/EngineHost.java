package org.lmcache4j.server;

import org.lmcache4j.CacheEngine;
import org.lmcache4j.EngineConfig;
import org.lmcache4j.bridge.ConfigOverlay;
import org.lmcache4j.config.ConfigLoader;
import org.lmcache4j.memory.SharedSlabSource;
import org.lmcache4j.metrics.MetricsRegistry;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The server's engines, one per tensor-parallel rank of one model: each opened when the first
 * client of its rank says hello, with that client's layout, the server's configuration under the
 * client's settings, that rank's share of the node's pool and disk ({@link RankShare}), its pool
 * on the shared slabs and its copies run by the clients ({@link ClientTransfer}).
 *
 * <p>The first engine fixes what the node serves: its model, its world size and its settings.
 * {@link #admit} refuses, naming both sides and changing nothing, a client of another model (one
 * model per server: the node's budget is split among that model's ranks), of another world size
 * (its ranks' shares would not add up to the node's budget), with other settings, or whose layout
 * differs from its own rank's engine.
 */
final class EngineHost implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(EngineHost.class);

    /** A rank's engine and the hello that opened it. */
    private record RankEngine(Hello opened, CacheEngine engine) {
    }

    private final String configFile;
    private final Map<String, String> env;
    private final MetricsRegistry registry;
    private final SharedSlabSource slabs = SharedSlabSource.create();
    private final ClientTransfer transfer = new ClientTransfer(slabs);
    /** Page-locks every rank's pool for a device once a client registers device caches (one device per server). */
    private final DeviceSlabs deviceSlabs = new DeviceSlabs();
    /** By rank, in the order of ranks. */
    private final Map<Integer, RankEngine> engines = new TreeMap<>();
    /** The hello of the first engine opened: its model and world size are the node's. */
    private Hello first;
    private Map<String, Object> nodeConfig;
    private boolean closed;

    /** {@code configFile} may be null: then {@code LMCACHE_CONFIG_FILE}, else the LMCACHE_* variables of {@code env}. */
    EngineHost(String configFile, Map<String, String> env, MetricsRegistry registry) {
        this.configFile = configFile;
        this.env = Map.copyOf(env);
        this.registry = Objects.requireNonNull(registry);
    }

    /** The engine of this client's rank: opened now if it is the rank's first client, else the one open if the client fits it. */
    synchronized CacheEngine admit(Hello hello) {
        if (closed) {
            throw new IllegalStateException("the server is stopping");
        }
        EngineConfig config = ConfigOverlay.load(configFile, hello.settings(), env);
        Map<String, Object> described = ConfigLoader.describe(config);
        if (first != null) {
            refuseAnotherNode(hello, described);
        }
        RankEngine open = engines.get(hello.rank());
        if (open != null) {
            String differs = hello.differencesFrom(open.opened());
            if (!differs.isEmpty()) {
                throw new IllegalArgumentException("this server's engine of rank " + hello.rank()
                        + " serves another model or layout: " + differs);
            }
            return open.engine();
        }
        CacheEngine e = open(hello, config);
        engines.put(hello.rank(), new RankEngine(hello, e));
        if (first == null) {
            first = hello;
            nodeConfig = described;
        }
        return e;
    }

    /** Refuses a client that needs another model, world size or settings than the node's first engine. */
    private void refuseAnotherNode(Hello hello, Map<String, Object> described) {
        if (!hello.model().equals(first.model())) {
            throw new IllegalArgumentException("this server serves another model: model " + hello.model()
                    + " (the server's engine has " + first.model() + "). One model per server: the node's"
                    + " max_local_cpu_size and max_local_disk_size are split among the ranks of one model; run"
                    + " another server, on another socket and with its own budget, for model " + hello.model());
        }
        if (hello.worldSize() != first.worldSize()) {
            throw new IllegalArgumentException("this server serves tensor-parallel world size " + first.worldSize()
                    + ", not " + hello.worldSize() + " (rank " + hello.rank() + " of world size " + hello.worldSize()
                    + " refused): each rank's engine holds 1/" + first.worldSize() + " of the node's"
                    + " max_local_cpu_size and max_local_disk_size, so ranks of another world size would exceed it");
        }
        if (!described.equals(nodeConfig)) {
            TreeSet<String> keys = new TreeSet<>(described.keySet());
            keys.addAll(nodeConfig.keySet());
            keys.removeIf(k -> Objects.equals(described.get(k), nodeConfig.get(k)));
            throw new IllegalArgumentException("the client's settings change the server's configuration: "
                    + String.join(", ", keys.stream().map(k -> k + " " + described.get(k) + " (the server's engine has "
                    + nodeConfig.get(k) + ")").toList()));
        }
    }

    private CacheEngine open(Hello hello, EngineConfig node) {
        RankShare share = new RankShare(hello.worldSize(), hello.rank());
        EngineConfig config = share.of(node);
        CacheEngine e;
        try {
            e = CacheEngine.builder().config(config).layout(hello.serverLayout()).model(hello.model())
                    .parallel(hello.worldSize(), hello.rank()).metrics(registry).transfer(transfer).slabSource(slabs)
                    .slabRegistrar(deviceSlabs).open();
        } catch (IllegalArgumentException x) {
            if (hello.worldSize() == 1) {
                throw x;
            }
            throw new IllegalArgumentException(share + " gets 1/" + hello.worldSize() + " of the node's max_local_cpu_size "
                    + node.maxLocalCpuSizeGb() + " GB and max_local_disk_size " + node.maxLocalDiskSizeGb() + " GB: "
                    + x.getMessage(), x);
        }
        try {
            e.registerKvCaches(placeholderCaches(hello.layout().numLayers()), -1);
        } catch (RuntimeException | Error x) {
            e.close();
            throw x;
        }
        LOG.info("LMCache4j server: engine of model {} {} opened ({} GB of the node's pool{})", hello.model(), share,
                config.maxLocalCpuSizeGb(), config.localDisk().map(d -> ", disk tier " + d).orElse(""));
        return e;
    }

    /** The engine of {@code rank} if one is open, else null. */
    synchronized CacheEngine engine(int rank) {
        RankEngine e = engines.get(rank);
        return e == null ? null : e.engine();
    }

    /** The first engine opened (the only one with one rank), else null. */
    synchronized CacheEngine engine() {
        return first == null ? null : engine(first.rank());
    }

    /** Every engine open, by rank. */
    synchronized Map<Integer, CacheEngine> engines() {
        Map<Integer, CacheEngine> m = new TreeMap<>();
        engines.forEach((rank, e) -> m.put(rank, e.engine()));
        return m;
    }

    SharedSlabSource slabs() {
        return slabs;
    }

    /** The pools' registrar, which page-locks them for a device once a client registers device caches. */
    DeviceSlabs deviceSlabs() {
        return deviceSlabs;
    }

    /**
     * Closes every engine (each disk tier keeps what it should, as on every close); later hellos
     * are refused. An engine that fails to close does not keep the others open.
     */
    @Override
    public synchronized void close() {
        closed = true;
        RuntimeException failed = null;
        for (RankEngine e : engines.values()) {
            try {
                e.engine().close();
            } catch (RuntimeException x) {
                if (failed == null) {
                    failed = x;
                } else {
                    failed.addSuppressed(x);
                }
            }
        }
        if (failed != null) {
            throw failed;
        }
    }

    /**
     * The engine copies nothing itself (its transfer is the clients'), but a store needs caches
     * registered: these stand for every client's, and are never read or written.
     */
    private static long[] placeholderCaches(int layers) {
        long[] addresses = new long[layers];
        for (int i = 0; i < layers; i++) {
            addresses[i] = SharedSlabSource.HUGE_PAGE * (i + 1);
        }
        return addresses;
    }
}
