package org.lmcache4j.cli;

import org.yaml.snakeyaml.Yaml;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code replay --server PATH --instances N}: N client processes, each a JVM running the same
 * replay against the same server, one after another (so each finds what the earlier ones
 * stored: one pool for the node), and their reports merged into one with the fields of a
 * single replay's (counts and seconds summed, rates over the sums, the server's state as the
 * last left it) and each process's part under {@code instances}.
 */
final class ReplayInstances {
    /** The fields that add up over the processes; the others are the last one's (the server as it left it). */
    private static final List<String> SUMMED = List.of("requests", "requested_tokens", "hit_tokens", "stored_tokens",
            "verified_bytes", "mismatched_bytes", "evictions", "store_skipped_chunks", "store_skipped_prompt_over_pool",
            "store_skipped_pages_held", "store_seconds", "pool_growth_wait_seconds", "retrieve_seconds", "wall_seconds",
            "server_disk_hit_tokens", "calls_without_server", "reconnects", "retrieves_lost");
    /** Each process's part, as an operator compares them. */
    private static final List<String> PER_INSTANCE = List.of("instance", "pid", "server_pid", "requests", "hit_tokens",
            "hit_rate", "stored_tokens", "mismatched_bytes", "store_gbps", "retrieve_gbps", "wall_seconds",
            "server_disk_hit_tokens", "calls_without_server", "reconnects");

    private final List<String> argv;
    private final int instances;
    private final PrintStream out;
    private final PrintStream err;

    ReplayInstances(List<String> argv, int instances, PrintStream out, PrintStream err) {
        this.argv = argv;
        this.instances = instances;
        this.out = out;
        this.err = err;
    }

    /** Runs the processes; 0 when each exited 0 and no loaded byte was wrong. */
    int run(boolean json) {
        List<Map<String, Object>> reports = new ArrayList<>();
        boolean clean = true;
        for (int i = 1; i <= instances; i++) {
            Child child = runChild(i);
            if (child.report == null) {
                err.println("replay: instance " + i + " (pid " + child.pid + ") exited " + child.status
                        + " without a report; the later instances were not started");
                return 1;
            }
            child.report.put("exit_status", child.status);
            clean &= child.status == 0;
            reports.add(child.report);
        }
        Map<String, Object> merged = merged(reports);
        out.println(json ? Json.write(merged) : Summary.of(merged));
        return clean && ((Number) merged.get("mismatched_bytes")).longValue() == 0 ? 0 : 1;
    }

    private record Child(long pid, int status, Map<String, Object> report) {
    }

    /** Instance {@code i}: the same command with {@code --instances 1 --instance i --json}; its progress goes to err. */
    private Child runChild(int i) {
        List<String> command = new ArrayList<>(javaCommand());
        command.add(Main.class.getName());
        command.add("replay");
        command.addAll(argv);
        command.addAll(List.of("--instances=1", "--instance=" + i, "--json"));
        try {
            Process p = new ProcessBuilder(command).start();
            p.getOutputStream().close();
            err.println("replay: instance " + i + " of " + instances + " started (pid " + p.pid() + ")");
            Thread progress = Thread.ofPlatform().name("replay-instance-" + i + "-stderr").start(() -> copyLines(p, err));
            String stdout = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            int status = p.waitFor();
            progress.join();
            return new Child(p.pid(), status, parse(stdout));
        } catch (IOException e) {
            throw new UncheckedIOException("replay: starting instance " + i + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("replay: interrupted while instance " + i + " ran", e);
        }
    }

    /** This JVM's java, its class path and the options that size or allow it (heap, native access, tmpdir). */
    private static List<String> javaCommand() {
        List<String> c = new ArrayList<>();
        c.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        boolean nativeAccess = false;
        for (String option : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (option.startsWith("-Xm") || option.startsWith("-Xss") || option.startsWith("-XX:")
                    || option.startsWith("-Djava.io.tmpdir=") || option.startsWith("--enable-native-access")) {
                c.add(option);
                nativeAccess |= option.startsWith("--enable-native-access");
            }
        }
        if (!nativeAccess) {
            c.add("--enable-native-access=ALL-UNNAMED");
        }
        c.addAll(List.of("-cp", System.getProperty("java.class.path")));
        return c;
    }

    private static void copyLines(Process p, PrintStream to) {
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getErrorStream(), StandardCharsets.UTF_8))) {
            for (String line = r.readLine(); line != null; line = r.readLine()) {
                to.println(line);
            }
        } catch (IOException e) {
            // the child is gone: what it said is all there is
        }
    }

    /** A child's one-line JSON report, or null when it printed none. */
    @SuppressWarnings("unchecked")
    private static Map<String, Object> parse(String stdout) {
        String line = stdout.strip();
        if (!line.startsWith("{")) {
            return null;
        }
        Object o = new Yaml().load(line);
        return o instanceof Map<?, ?> m ? new LinkedHashMap<>((Map<String, Object>) m) : null;
    }

    /** One report over every process: the last one's fields, with the summed ones summed and the rates over the sums. */
    static Map<String, Object> merged(List<Map<String, Object>> reports) {
        Map<String, Object> r = new LinkedHashMap<>(reports.getLast());
        for (String key : SUMMED) {
            boolean decimal = reports.stream().anyMatch(x -> x.get(key) instanceof Double);
            r.put(key, decimal ? reports.stream().mapToDouble(x -> num(x, key)).sum()
                    : (Object) reports.stream().mapToLong(x -> (long) num(x, key)).sum());
        }
        long tokenBytes = (long) num(r, "token_bytes");
        double requested = num(r, "requested_tokens");
        r.put("hit_rate", requested == 0 ? 0.0 : num(r, "hit_tokens") / requested);
        r.put("store_gbps", rate(num(r, "stored_tokens") * tokenBytes, num(r, "store_seconds")));
        r.put("retrieve_gbps", rate(num(r, "hit_tokens") * tokenBytes, num(r, "retrieve_seconds")));
        r.remove("pid");
        r.remove("instance");
        r.remove("exit_status");
        List<Map<String, Object>> each = new ArrayList<>();
        for (Map<String, Object> x : reports) {
            Map<String, Object> part = new LinkedHashMap<>();
            PER_INSTANCE.forEach(k -> part.put(k, x.get(k)));
            part.put("exit_status", x.get("exit_status"));
            each.add(part);
        }
        r.put("instances", each);
        return r;
    }

    private static double rate(double bytes, double seconds) {
        return seconds == 0 ? 0.0 : bytes / seconds / 1e9;
    }

    private static double num(Map<String, Object> r, String key) {
        Object v = r.get(key);
        return v instanceof Number n ? n.doubleValue() : 0.0;
    }
}
