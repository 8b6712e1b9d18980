package org.lmcache4j.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.lmcache4j.disk.DiskCheck;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A long {@code disk check} shows its progress on a terminal, and only there. */
class DiskCommandProgressTest {
    @TempDir
    Path dir;

    private record Run(int status, String out, String err) {
    }

    /** Runs {@code disk check} with a check that takes {@code checkMillis}, on a terminal or not. */
    private Run run(boolean terminal, long checkMillis) throws Exception {
        Files.write(dir.resolve("some-file"), new byte[8192]);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        DiskCommand.Checker slow = (d, namespace, repair) -> {
            try {
                Thread.sleep(checkMillis);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return new DiskCheck.Report(3, 0, 0, 0, 3 << 20, List.of(), repair);
        };
        Args args = new Args("disk", List.of("check", dir.toString()), Set.of("json", "repair"));
        int status = new DiskCommand(args, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8), terminal, slow, Duration.ofMillis(40)).run();
        return new Run(status, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    @Test
    void longCheckOnATerminal_showsProgress_thenErasesIt() throws Exception {
        Run r = run(true, 400);
        assertEquals(0, r.status);
        assertTrue(r.err.contains("\rdisk check: "), r.err);
        assertTrue(r.err.matches("(?s).*disk check: .*read \\(\\d+%\\), \\d+ s.*|.*disk check: 1 files, \\d+ s.*"), r.err);
        assertTrue(r.err.endsWith("\r"), "the line is erased before the report");
        assertTrue(r.out.contains("3 good records (3.00 MiB)"), r.out);
    }

    @Test
    void notOnATerminal_orQuick_printsNoProgress() throws Exception {
        assertEquals("", run(false, 300).err, "a pipe or a log gets the report only");
        assertEquals("", run(true, 0).err, "a quick check prints no progress line");
    }
}
