package org.lmcache4j.remote;

import java.util.ArrayList;
import java.util.List;

/** A {@link RemoteLog} that keeps its lines ("WARN …", "INFO …") for the test to assert on. */
final class CapturedLog implements RemoteLog {
    private final List<String> lines = new ArrayList<>();

    @Override
    public synchronized void warn(String message) {
        lines.add("WARN " + message);
        RemoteLog.SLF4J.warn(message);
    }

    @Override
    public synchronized void info(String message) {
        lines.add("INFO " + message);
        RemoteLog.SLF4J.info(message);
    }

    synchronized List<String> lines() {
        return List.copyOf(lines);
    }

    synchronized List<String> warnings() {
        return lines.stream().filter(l -> l.startsWith("WARN ")).toList();
    }

    synchronized List<String> containing(String text) {
        return lines.stream().filter(l -> l.contains(text)).toList();
    }
}
