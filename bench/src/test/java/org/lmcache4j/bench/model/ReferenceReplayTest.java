package org.lmcache4j.bench.model;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.lmcache4j.cli.Main;
import org.yaml.snakeyaml.Yaml;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code lmcache4j replay --model reference}, found through the service loader, on the tiny model. */
class ReferenceReplayTest {
    private static final String[] TINY = {"replay", "--model", "reference", "--size", "tiny", "--users", "2",
            "--rounds", "2", "--system-tokens", "64", "--question-tokens", "16", "--answer-tokens", "16",
            "--documents", "2", "--document-tokens", "96", "--queries", "2", "--query-tokens", "8",
            "--chunk-size", "32", "--cpu-gb", "0.05", "--serving", "off"};

    private static String[] plus(String... more) {
        String[] all = java.util.Arrays.copyOf(TINY, TINY.length + more.length);
        System.arraycopy(more, 0, all, TINY.length, more.length);
        return all;
    }

    private static String run(int expectedStatus, String... argv) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int status = Main.run(argv, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        assertEquals(expectedStatus, status, err.toString(StandardCharsets.UTF_8));
        return out.toString(StandardCharsets.UTF_8);
    }

    @Test
    @SuppressWarnings("unchecked")
    void json_reportsTtftWithAndWithout_andNoLogitsMismatch(@TempDir Path dir) throws Exception {
        Path plot = dir.resolve("ttft.svg");
        Map<String, Object> j = (Map<String, Object>) new Yaml().load(run(0, plus("--json", "--plot", plot.toString())));
        for (String key : List.of("ttft_ms_p50_with", "ttft_ms_p50_without", "ttft_speedup", "logits_mismatches",
                "docs_hit_ttft_speedup", "lookup_us_p50", "rounds")) {
            assertTrue(j.containsKey(key), key);
        }
        assertEquals(8, ((Number) j.get("requests")).intValue());
        assertEquals(0, ((Number) j.get("logits_mismatches")).intValue());
        assertEquals(0, ((Number) j.get("leases_at_end")).intValue());
        assertEquals(0, ((Number) j.get("pins_at_end")).intValue());
        assertTrue(((Number) j.get("hit_tokens")).longValue() > 0);
        List<Map<String, Object>> rounds = (List<Map<String, Object>>) j.get("rounds");
        assertEquals(4, rounds.size());
        assertEquals(96.0, ((Number) rounds.get(3).get("hit_tokens_mean")).doubleValue(),
                "a document's second query loads the whole document (three chunks)");
        String svg = Files.readString(plot);
        assertTrue(svg.startsWith("<svg") && svg.contains("round 2") && svg.contains("with LMCache4j"), svg);
    }

    @Test
    void table_isPrinted() {
        String table = run(0, plus("--workload", "chat"));
        assertTrue(table.contains("| chat | 2 |") && table.contains("logits mismatches: 0"), table);
    }

    @Test
    void badWorkload_exitsTwo() {
        run(2, plus("--workload", "poetry"));
    }
}
