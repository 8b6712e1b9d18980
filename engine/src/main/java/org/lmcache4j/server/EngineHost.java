package org.lmcache4j.server;

import org.lmcache4j.CacheEngine;
import org.lmcache4j.EngineConfig;
import org.lmcache4j.bridge.ConfigOverlay;
import org.lmcache4j.config.ConfigLoader;
import org.lmcache4j.memory.SharedSlabSource;
import org.lmcache4j.metrics.MetricsRegistry;

import java.util.Map;
import java.util.Objects;
import java.util.TreeSet;

/**
 * The server's one engine, opened when the first client says hello: with that client's model,
 * rank and layout, its settings laid over the server's configuration, its pool on shared slabs
 * and its copies run by the clients ({@link ClientTransfer}). Every later client must need the
 * same engine; {@link #admit} refuses one that does not, naming what differs, and changes nothing.
 */
final class EngineHost implements AutoCloseable {
    private final String configFile;
    private final Map<String, String> env;
    private final MetricsRegistry registry;
    private final SharedSlabSource slabs = SharedSlabSource.create();
    private final ClientTransfer transfer = new ClientTransfer(slabs);
    private final DeviceSlabs deviceSlabs = new DeviceSlabs();
    private Hello opened;
    private Map<String, Object> openedConfig;
    private CacheEngine engine;
    private boolean closed;

    /** {@code configFile} may be null: then {@code LMCACHE_CONFIG_FILE}, else the LMCACHE_* variables of {@code env}. */
    EngineHost(String configFile, Map<String, String> env, MetricsRegistry registry) {
        this.configFile = configFile;
        this.env = Map.copyOf(env);
        this.registry = Objects.requireNonNull(registry);
    }

    /** The engine for this client: opened now if it is the first, else the one open if the client fits it. */
    synchronized CacheEngine admit(Hello hello) {
        if (closed) {
            throw new IllegalStateException("the server is stopping");
        }
        EngineConfig config = ConfigOverlay.load(configFile, hello.settings(), env);
        Map<String, Object> described = ConfigLoader.describe(config);
        if (engine == null) {
            CacheEngine e = CacheEngine.builder().config(config).layout(hello.serverLayout()).model(hello.model())
                    .parallel(hello.worldSize(), hello.rank()).metrics(registry).transfer(transfer).slabSource(slabs)
                    .slabRegistrar(deviceSlabs).open();
            try {
                e.registerKvCaches(placeholderCaches(hello.layout().numLayers()), -1);
            } catch (RuntimeException | Error x) {
                e.close();
                throw x;
            }
            engine = e;
            opened = hello;
            openedConfig = described;
            return engine;
        }
        String differs = hello.differencesFrom(opened);
        if (!differs.isEmpty()) {
            throw new IllegalArgumentException("this server's engine serves another model or layout: " + differs);
        }
        if (!described.equals(openedConfig)) {
            TreeSet<String> keys = new TreeSet<>(described.keySet());
            keys.addAll(openedConfig.keySet());
            keys.removeIf(k -> Objects.equals(described.get(k), openedConfig.get(k)));
            throw new IllegalArgumentException("the client's settings change the server's configuration: "
                    + String.join(", ", keys.stream().map(k -> k + " " + described.get(k) + " (the server's engine has "
                    + openedConfig.get(k) + ")").toList()));
        }
        return engine;
    }

    /** The engine if one is open (for tests and the shutdown log), else null. */
    synchronized CacheEngine engine() {
        return engine;
    }

    SharedSlabSource slabs() {
        return slabs;
    }

    /** The pool's registrar, which page-locks it for a device once a client registers device caches. */
    DeviceSlabs deviceSlabs() {
        return deviceSlabs;
    }

    /** Closes the engine (the disk tier keeps what it should, as on every close); later hellos are refused. */
    @Override
    public synchronized void close() {
        closed = true;
        if (engine != null) {
            engine.close();
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
