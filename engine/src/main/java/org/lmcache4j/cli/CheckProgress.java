package org.lmcache4j.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.OptionalLong;
import java.util.stream.Stream;

/**
 * The progress line of a {@code disk check} on a terminal, redrawn in place every {@code every}
 * from the first {@code every} on (a quick check prints none) and erased at the end:
 * {@code disk check: 1.20 GiB of 4.56 GiB read (26%), 3 s}.
 *
 * <p>The check reports nothing while it runs, so the bytes read are the process's own, from
 * {@code rchar} in {@code /proc/self/io}, against the size of the files in the directory (a
 * record is read whole). Where that file is unreadable the line shows the files and the time.
 */
final class CheckProgress implements AutoCloseable {
    private static final Path PROC_IO = Path.of("/proc/self/io");

    private final Path dir;
    private final PrintStream err;
    private final Duration every;
    private final long startNanos = System.nanoTime();
    private final OptionalLong readAtStart = bytesRead();
    private final Thread thread;
    private volatile int width;

    private CheckProgress(Path dir, PrintStream err, Duration every) {
        this.dir = dir;
        this.err = err;
        this.every = every;
        this.thread = Thread.ofPlatform().daemon().name("lmcache4j-disk-check-progress").unstarted(this::report);
    }

    static CheckProgress start(Path dir, PrintStream err, Duration every) {
        CheckProgress p = new CheckProgress(dir, err, every);
        p.thread.start();
        return p;
    }

    private void report() {
        try {
            Thread.sleep(every);
            long[] files = filesAndBytes(); // after the first wait: a quick check never walks twice
            while (true) {
                String line = line(files);
                synchronized (this) {
                    err.print("\r" + line + " ".repeat(Math.max(0, width - line.length())));
                    err.flush();
                    width = Math.max(width, line.length());
                }
                Thread.sleep(every);
            }
        } catch (InterruptedException e) {
            // the check is done
        }
    }

    private String line(long[] files) {
        long seconds = (System.nanoTime() - startNanos) / 1_000_000_000L;
        OptionalLong now = bytesRead();
        if (files[1] > 0 && now.isPresent() && readAtStart.isPresent()) {
            long read = Math.min(files[1], now.getAsLong() - readAtStart.getAsLong());
            return String.format(Locale.ROOT, "disk check: %s of %s read (%d%%), %d s", Units.size(read),
                    Units.size(files[1]), Math.min(99, 100 * read / files[1]), seconds);
        }
        return String.format(Locale.ROOT, "disk check: %d files, %d s", files[0], seconds);
    }

    /** Files under the directory, as the check lists them, and their bytes. */
    private long[] filesAndBytes() {
        long[] out = new long[2];
        try (Stream<Path> s = Files.walk(dir, 2)) {
            s.filter(Files::isRegularFile).forEach(p -> {
                out[0]++;
                try {
                    out[1] += Files.size(p);
                } catch (IOException e) {
                    // gone since: a repair, or a write of the engine
                }
            });
        } catch (IOException | UncheckedIOException e) {
            // the check itself says what is wrong with the directory
        }
        return out;
    }

    /** The bytes this process has read so far, where Linux says. */
    static OptionalLong bytesRead() {
        try {
            List<String> lines = Files.readAllLines(PROC_IO);
            for (String l : lines) {
                if (l.startsWith("rchar:")) {
                    return OptionalLong.of(Long.parseLong(l.substring("rchar:".length()).strip()));
                }
            }
        } catch (IOException | RuntimeException e) {
            // not Linux, or no procfs
        }
        return OptionalLong.empty();
    }

    /** Stops the line and erases it, so that the report starts on a clean line. */
    @Override
    public void close() {
        thread.interrupt();
        try {
            thread.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        synchronized (this) {
            if (width > 0) {
                err.print("\r" + " ".repeat(width) + "\r");
                err.flush();
            }
        }
    }
}
