package org.lmcache4j.remote;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Captures what is logged while it is open: the tests log through slf4j-simple, which writes each
 * line to whatever {@code System.err} is at the time, so standing in for it captures the log (and
 * still passes everything on to the real stream).
 */
public final class StderrCapture implements AutoCloseable {
    private final PrintStream original = System.err;
    private final ByteArrayOutputStream captured = new ByteArrayOutputStream();

    private StderrCapture() {
        OutputStream tee = new OutputStream() {
            @Override
            public void write(int b) {
                synchronized (captured) {
                    captured.write(b);
                }
                original.write(b);
            }

            @Override
            public void write(byte[] b, int off, int len) {
                synchronized (captured) {
                    captured.write(b, off, len);
                }
                original.write(b, off, len);
            }
        };
        System.setErr(new PrintStream(tee, true, StandardCharsets.UTF_8));
    }

    public static StderrCapture start() {
        return new StderrCapture();
    }

    /** The lines captured so far that contain {@code logger} (e.g. {@code org.lmcache4j.remote.RedisTier}). */
    public List<String> lines(String logger) {
        String all;
        synchronized (captured) {
            all = captured.toString(StandardCharsets.UTF_8);
        }
        return all.lines().filter(l -> l.contains(logger)).toList();
    }

    /** The remote tier's lines at {@code level} (WARN, INFO). */
    public List<String> remote(String level) {
        return lines(" " + level + " org.lmcache4j.remote.RedisTier").stream().toList();
    }

    @Override
    public void close() {
        System.setErr(original);
    }
}
