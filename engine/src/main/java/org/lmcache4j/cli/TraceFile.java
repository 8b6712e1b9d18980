package org.lmcache4j.cli;

import org.lmcache4j.AccessTrace;
import org.lmcache4j.keys.ChunkKey;

import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * {@code replay --dump-trace FILE}: the engine's chunk accesses as text, one line each, in the
 * order the engine made them. Format (version 1), fields separated by one space:
 *
 * <pre>
 * # lmcache4j access trace v1
 * # request chunk key tokens kind
 * user-0-round-0 0 5f1c…(32 hex digits) 256 store
 * user-0-round-1 0 5f1c… 256 hit
 * </pre>
 *
 * {@code request} is the replay's request id (no spaces), {@code chunk} the chunk's index in the
 * prompt (from 0), {@code tokens} how many tokens it holds, and {@code kind} one of
 * {@code hit} (lookup found it), {@code retrieve} (retrieve loads it), {@code store} (a new chunk)
 * or {@code touch} (store found it already cached). Lines starting with {@code #} are comments.
 */
final class TraceFile implements AccessTrace, AutoCloseable {
    static final String HEADER = "# lmcache4j access trace v1\n# request chunk key tokens kind\n";

    private final BufferedWriter out;
    private String request = "-";

    TraceFile(Path file) {
        try {
            out = Files.newBufferedWriter(file, StandardCharsets.US_ASCII);
            out.write(HEADER);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the trace " + file, e);
        }
    }

    /** Names the request whose accesses follow. */
    void begin(String requestId) {
        request = requestId;
    }

    @Override
    public void record(int chunk, ChunkKey key, int tokens, Kind kind) {
        try {
            out.write(request + ' ' + chunk + ' ' + key.hex() + ' ' + tokens + ' ' + kind.label() + '\n');
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public void close() {
        try {
            out.close();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
