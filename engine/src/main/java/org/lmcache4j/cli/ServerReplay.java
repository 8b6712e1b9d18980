package org.lmcache4j.cli;

import org.lmcache4j.KvLayout;
import org.lmcache4j.server.ServerClient;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.List;
import java.util.Map;

/**
 * {@code lmcache4j replay --server PATH}: the replay in this process, with its paged caches in
 * this process's memory, against a running {@code lmcache4j server} whose engine (pool, disk,
 * Redis, policy) every client shares; the server's configuration rules, so the options that
 * would configure an engine are refused. {@code --instances N} runs N such processes one after
 * another ({@link ReplayInstances}): each later one finds what the earlier ones stored.
 */
final class ServerReplay {
    /** The options that configure an engine: with {@code --server} the engine is the server's. */
    private static final List<String> ENGINE_OPTIONS = List.of("config", "cpu-gb", "chunk-size", "disk-dir", "disk-gb",
            "remote-url", "dump-trace", "metrics-port", "cuda-transfer");

    private final Args args;
    private final PrintStream out;
    private final PrintStream err;

    ServerReplay(Args args, PrintStream out, PrintStream err) {
        this.args = args;
        this.out = out;
        this.err = err;
    }

    int run() {
        Path socket = socketPath(args.string("server").orElseThrow());
        for (String option : ENGINE_OPTIONS) {
            if (args.string(option).isPresent()) {
                throw new IllegalArgumentException("--" + option + " configures the engine, and with --server the engine"
                        + " is lmcache4j server's: give it to the server (its --config or LMCACHE_* settings"
                        + (option.equals("metrics-port") ? ", or its --metrics-port" : "") + ")");
            }
        }
        if (ReplayCommand.deviceOption(args.string("device").orElse("cpu")) >= 0) {
            throw new IllegalArgumentException("--device cuda cannot be combined with --server: a client of lmcache4j"
                    + " server has host caches (server protocol version 1)");
        }
        String model = args.string("model").orElse(ReplayCommand.DEFAULT_MODEL);
        if (ModelReplay.wants(model)) {
            throw new IllegalArgumentException("--model " + model + " runs the reference model with engines of its"
                    + " own: it cannot be combined with --server");
        }
        ReplayWorkload workload = ReplayCommand.workload(args);
        double timeScale = ReplayCommand.timeScale(args);
        KvLayout layout = ReplayCommand.layout(args, workload);
        boolean json = args.flag("json");
        args.flag("verbose");
        int instances = args.integer("instances", 1, 1);
        int instance = args.integer("instance", 1, 1);
        args.finish();
        requireSocket(socket);
        if (instances > 1) {
            probe(socket, model, layout); // a server that is not there or refuses this layout: say so once
            return new ReplayInstances(args.argv(), instances, out, err).run(json);
        }
        ReplayCommand.ReplayRun run = new ReplayCommand.ReplayRun();
        run.transfer = "server";
        try (HostServingEngine serving = new HostServingEngine(layout, 7L * instance);
             ServerCache cache = connect(socket, model, layout, serving)) {
            run.execute(workload, timeScale, cache, serving, err, instance > 1 ? "instance " + instance + ": " : "");
            Map<String, Object> report = ServerReport.of(workload, layout, run, cache, socket, instance);
            out.println(json ? Json.write(report) : Summary.of(report));
        }
        return run.mismatchedBytes == 0 ? 0 : 1;
    }

    /** {@code unix:///PATH} (as LMCACHE4J_SERVER and lmcache4j.server name it) or a plain path. */
    static Path socketPath(String value) {
        String path = value.startsWith("unix://") ? value.substring("unix://".length()) : value;
        if (path.isEmpty()) {
            throw new IllegalArgumentException("--server needs the server's socket: PATH or unix:///PATH");
        }
        return Path.of(path);
    }

    /** A socket at {@code socket}, or a clear error saying what is there instead. */
    private static void requireSocket(Path socket) {
        BasicFileAttributes a;
        try {
            a = Files.readAttributes(socket, BasicFileAttributes.class);
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException("--server " + socket + ": no such file; is lmcache4j server running"
                    + " (lmcache4j server --socket " + socket + ")?", e);
        } catch (IOException e) {
            throw new IllegalArgumentException("--server " + socket + ": " + e.getMessage(), e);
        }
        if (!a.isOther()) {
            throw new IllegalArgumentException("--server " + socket + " is a " + (a.isDirectory() ? "directory" : "file")
                    + ", not a socket: give the --socket of lmcache4j server");
        }
    }

    /** Connects once, with no caches: the server is there and takes this layout and model. */
    private static void probe(Path socket, String model, KvLayout layout) {
        try (ServerClient c = ServerClient.connect(socket, model, layout, null)) {
            c.chunkSize();
        } catch (IOException e) {
            throw unreachable(socket, e);
        } catch (IllegalArgumentException | IllegalStateException e) {
            throw refused(socket, e);
        }
    }

    private ServerCache connect(Path socket, String model, KvLayout layout, HostServingEngine serving) {
        try {
            return ServerCache.connect(socket, model, layout, serving.layers(), err, System::nanoTime);
        } catch (IOException e) {
            throw unreachable(socket, e);
        } catch (IllegalArgumentException | IllegalStateException e) {
            throw refused(socket, e);
        }
    }

    private static IllegalArgumentException unreachable(Path socket, IOException e) {
        return new IllegalArgumentException("--server " + socket + ": no lmcache4j server answers there ("
                + e.getMessage() + ")", e);
    }

    private static IllegalArgumentException refused(Path socket, RuntimeException e) {
        return new IllegalArgumentException("--server " + socket + ": the server refused this replay: "
                + e.getMessage(), e);
    }
}
