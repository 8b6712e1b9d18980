package org.lmcache4j.bench.sim;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The document workload, the trace format and the command line. */
class EvictionSimulatorTest {
    @Test
    void documents_shareTheDocumentsChunks_notTheQuestions() {
        Trace t = new DocumentWorkload(2, 1000, 3, 64, 300, 256, 1).trace();
        assertEquals(6, t.requests().size());
        // 1364 tokens: 6 chunks; chunk 0 ends within the system prompt (shared by every document),
        // chunks 1..4 within the document (1300 tokens), chunk 5 holds the question.
        Trace.Request first = t.requests().getFirst();
        assertEquals(6, first.keys().length);
        assertEquals(1364, first.totalTokens());
        assertEquals(1 + 2 * 4 + 6, t.distinctKeys(), "system, 4 chunks a document, one own chunk a question");
    }

    @Test
    void trace_writtenAndReadBack_isTheSame(@TempDir Path dir) throws Exception {
        Trace t = new DocumentWorkload(3, 700, 2, 30, 0, 256, 7).trace();
        Path file = dir.resolve("docs.trace");
        t.write(file);
        Trace back = Trace.read(file);
        assertEquals(t.distinctKeys(), back.distinctKeys());
        assertEquals(t.requests().size(), back.requests().size());
        for (int i = 0; i < t.requests().size(); i++) {
            assertEquals(t.requests().get(i).id(), back.requests().get(i).id());
            assertArrayEquals(t.requests().get(i).tokens(), back.requests().get(i).tokens());
        }
    }

    @Test
    void trace_foldsTheLinesOfOneRequest_andSumsRetrieves(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("chat.trace");
        String a = "0".repeat(31) + "a";
        String b = "0".repeat(31) + "b";
        Files.writeString(file, Trace.HEADER
                + "r0 0 " + a + " 256 store\n" + "r0 1 " + b + " 10 store\n"
                + "r1 0 " + a + " 256 hit\n" + "r1 0 " + a + " 256 retrieve\n" + "r1 1 " + b + " 10 touch\n");
        Trace t = Trace.read(file);
        assertEquals(2, t.requests().size());
        assertArrayEquals(new int[]{0, 1}, t.requests().get(1).keys());
        assertEquals(256, t.recordedHitTokens());
    }

    @Test
    void main_printsBothTablesForEveryPolicy() throws Exception {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        int status = EvictionSimulator.run(new String[]{"documents", "--docs", "4", "--capacity-chunks", "10,50%"},
                new PrintStream(bytes, true, StandardCharsets.UTF_8));
        String out = bytes.toString(StandardCharsets.UTF_8);
        assertEquals(0, status, out);
        for (String s : new String[]{"chunk hit rate", "prefix hit rate", "LRU", "FIFO", "S3-FIFO", "ARC", "Belady"}) {
            assertTrue(out.contains(s), s + " in\n" + out);
        }
    }
}
