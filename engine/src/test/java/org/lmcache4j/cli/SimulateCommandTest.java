package org.lmcache4j.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code lmcache4j simulate}, run in-process on the Mooncake slice and small traces. */
class SimulateCommandTest {
    private static final String SLICE = Traces.mooncakeSlice().toString();

    @SuppressWarnings("unchecked")
    private static List<Map<String, Object>> results(MainTest.Result r) {
        return (List<Map<String, Object>>) r.json().get("results");
    }

    @Test
    void json_isExactlyTheIssuesShape_everyPolicyAtEveryCapacity() {
        MainTest.Result r = MainTest.run("simulate", "--trace", SLICE, "--capacity-tokens", "10000,400000", "--json");
        assertEquals(0, r.status(), r.err());
        Map<String, Object> j = r.json();
        assertEquals(Set.of("prompt_tokens", "infinite_hit_rate", "default_policy", "results"), j.keySet());
        assertEquals("lru", j.get("default_policy"));
        List<Map<String, Object>> rows = results(r);
        assertEquals(SimulatedPolicies.names().size() * 2, rows.size());
        for (Map<String, Object> row : rows) {
            assertEquals(Set.of("policy", "capacity_tokens", "hit_rate"), row.keySet());
        }
        double infinite = ((Number) j.get("infinite_hit_rate")).doubleValue();
        assertTrue(infinite > 0.03, r.out()); // the slice reuses mostly its shared first block
        double optimumSmall = rate(rows, "optimum", 10000);
        double lruSmall = rate(rows, "lru", 10000);
        assertTrue(optimumSmall >= lruSmall, r.out()); // LRU keeps the prompts' shared prefix: on this slice it reaches the ceiling
        assertTrue(rate(rows, "optimum", 400000) <= infinite);
        assertTrue(rate(rows, "lru", 400000) >= lruSmall, "a larger pool never hits less under LRU here");
        long prompt = ((Number) j.get("prompt_tokens")).longValue();
        ChunkedTrace t = ChunkedTrace.of(TraceReader.read(Traces.mooncakeSlice(), 512), 256, true);
        assertEquals(t.promptTokens(), prompt);
    }

    private static double rate(List<Map<String, Object>> rows, String policy, long capacity) {
        return rows.stream().filter(r -> r.get("policy").equals(policy)
                        && ((Number) r.get("capacity_tokens")).longValue() == capacity)
                .mapToDouble(r -> ((Number) r.get("hit_rate")).doubleValue()).findFirst().orElseThrow();
    }

    @Test
    void capacityGb_countsTheEnginesPages_forTheModelShape() {
        // Mistral-7B: a 256-token chunk is 32 MiB, so 1 GB holds 32 chunks (8192 tokens)
        MainTest.Result r = MainTest.run("simulate", "--trace", SLICE, "--capacity-gb", "1", "--policy", "lru", "--json");
        assertEquals(0, r.status(), r.err());
        assertEquals(8192L, ((Number) results(r).getFirst().get("capacity_tokens")).longValue());
        MainTest.Result small = MainTest.run("simulate", "--trace", SLICE, "--capacity-gb", "1", "--layers", "1",
                "--kv-heads", "1", "--head-size", "16", "--policy", "lru", "--json");
        assertEquals(65536L * 256, ((Number) results(small).getFirst().get("capacity_tokens")).longValue());
        // neither option: the configuration's pool, max_local_cpu_size 5 GB by default (160 Mistral-7B chunks)
        MainTest.Result dflt = MainTest.run("simulate", "--trace", SLICE, "--policy", "lru", "--json");
        assertEquals(160L * 256, ((Number) results(dflt).getFirst().get("capacity_tokens")).longValue(), dflt.err());
    }

    @Test
    void text_tableNamesTheDefaultPolicy_andThePlotIsAnSvgWithALinePerPolicy(@TempDir Path dir) throws Exception {
        Path svg = dir.resolve("hit.svg");
        MainTest.Result r = MainTest.run("simulate", "--trace", SLICE, "--capacity-tokens", "50000,200000,800000",
                "--policy", "lru,fifo,optimum", "--plot", svg.toString());
        assertEquals(0, r.status(), r.err());
        assertTrue(r.out().contains("lru (default)"), r.out());
        assertTrue(r.out().contains("a pool that never evicts"), r.out());
        assertTrue(r.out().contains("800,000"), r.out());
        assertTrue(!r.out().contains("lfu"), r.out());
        String plot = Files.readString(svg);
        assertTrue(plot.startsWith("<svg"), plot);
        assertEquals(3, plot.split("<polyline").length - 1, "one line per policy");
        assertEquals(9, plot.split("<circle").length - 1, "a point per policy and capacity");
        assertTrue(plot.contains("never evicts"));
        assertTrue(plot.trim().endsWith("</svg>"));
    }

    @Test
    void progress_isALineOnStderr() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        Args args = new Args("simulate", List.of("--trace", SLICE, "--capacity-tokens", "100000", "--policy", "lru"),
                Set.of("json"));
        int status = new SimulateCommand(args, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8), 0).run();
        assertEquals(0, status);
        String e = err.toString(StandardCharsets.UTF_8);
        assertTrue(e.contains("simulate: lru at 100,000 tokens (1 of 1): 120/120 requests"), e);
        assertTrue(out.toString(StandardCharsets.UTF_8).contains("lru (default)"), "the table goes to stdout");
    }

    @Test
    void badInput_isAClearMessage_exit2() throws Exception {
        String[][] cases = {
                {"--capacity-tokens", "0"}, {"--capacity-tokens", "100"}, {"--capacity-tokens", "-5"},
                {"--capacity-tokens", "1e6"}, {"--capacity-tokens", "1000,"}, {"--capacity-gb", "0"},
                {"--capacity-gb", "0.001"}, {"--policy", "random"}, {"--trace-block-tokens", "0"}};
        String[] expected = {"--capacity-tokens 0 is below one chunk (chunk_size 256 tokens)",
                "--capacity-tokens 100 is below one chunk", "--capacity-tokens -5 is below one chunk",
                "--capacity-tokens must be whole numbers of tokens, got '1e6'", "takes a list separated by commas",
                "--capacity-gb must be positive numbers of GB, got '0'", "--capacity-gb 0.001: max_local_cpu_size",
                "unknown policy 'random'", "--trace-block-tokens must be at least 1"};
        for (int i = 0; i < cases.length; i++) {
            String[] argv = MainTestSupport.concat(new String[]{"simulate", "--trace", SLICE}, cases[i]);
            MainTest.Result r = MainTest.run(argv);
            assertEquals(2, r.status(), String.join(" ", cases[i]));
            assertTrue(r.err().contains(expected[i]), String.join(" ", cases[i]) + ": " + r.err());
            assertEquals("", r.out());
        }
        MainTest.Result none = MainTest.run("simulate", "--json");
        assertEquals(2, none.status());
        assertTrue(none.err().contains("simulate needs --trace FILE"), none.err());
        Path empty = Files.createTempFile("empty", ".jsonl");
        try {
            MainTest.Result r = MainTest.run("simulate", "--trace", empty.toString());
            assertEquals(2, r.status());
            assertTrue(r.err().contains("has no requests"), r.err());
        } finally {
            Files.delete(empty);
        }
    }

    @Test
    void help_listsSimulate() {
        MainTest.Result r = MainTest.run("--help");
        assertTrue(r.out().contains("lmcache4j simulate --trace FILE"), r.out());
        assertTrue(r.out().contains("--capacity-tokens"), r.out());
    }
}
