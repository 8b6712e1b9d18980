package org.lmcache4j.bench.sim;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The document workload: what its prompts share, and the trace file {@code simulate} reads. */
class DocumentWorkloadTest {
    @Test
    void documents_shareTheDocumentsChunks_notTheQuestions() {
        List<DocumentWorkload.Request> rs = new DocumentWorkload(2, 1000, 3, 64, 300, 256, 1).requests();
        assertEquals(6, rs.size());
        // 1364 tokens: 6 chunks; chunk 0 ends within the system prompt (shared by every document),
        // chunks 1..4 within the document (1300 tokens), chunk 5 holds the question.
        DocumentWorkload.Request first = rs.getFirst();
        assertEquals(6, first.keys().length);
        assertEquals(1364, Arrays.stream(first.tokens()).sum());
        Set<Integer> distinct = new HashSet<>();
        rs.forEach(r -> Arrays.stream(r.keys()).forEach(distinct::add));
        assertEquals(1 + 2 * 4 + 6, distinct.size(), "system, 4 chunks a document, one own chunk a question");
    }

    @Test
    void write_oneAccessLinePerChunk_inTheReplaysTraceFormat(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("docs.trace");
        DocumentWorkload w = new DocumentWorkload(3, 700, 2, 30, 0, 256, 7);
        w.write(file);
        List<String> lines = Files.readAllLines(file);
        assertEquals(DocumentWorkload.HEADER, lines.get(0) + "\n" + lines.get(1) + "\n");
        int chunks = w.requests().stream().mapToInt(r -> r.keys().length).sum();
        assertEquals(2 + chunks, lines.size());
        java.util.Set<String> seen = new java.util.HashSet<>();
        for (String line : lines.subList(2, lines.size())) {
            // the kinds simulate's reader accepts: store where a key first appears, hit after
            assertTrue(line.matches("doc-\\d-q-\\d \\d [0-9a-f]{32} \\d+ (store|hit)"), line);
            String[] f = line.split(" ");
            assertEquals(seen.add(f[2]) ? "store" : "hit", f[4], line);
        }
    }

    @Test
    void main_sameSeedSameFile(@TempDir Path dir) throws Exception {
        Path a = dir.resolve("a.trace");
        Path b = dir.resolve("b.trace");
        DocumentWorkload.main(new String[]{a.toString(), "--docs", "4", "--queries", "3"});
        new DocumentWorkload(4, 8000, 3, 64, 500, 256, 1).write(b);
        assertEquals(Files.readString(b), Files.readString(a));
    }
}
