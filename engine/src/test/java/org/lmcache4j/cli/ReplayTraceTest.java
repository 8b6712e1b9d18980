package org.lmcache4j.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code replay --trace} drives the real engine with a trace, and its hit tokens are exactly what
 * {@code simulate}'s LRU counts for a pool of the engine's capacity: the simulator is the engine's
 * policy, not an approximation of it.
 */
class ReplayTraceTest {
    private static final String[] TINY_SHAPE = {"--layers", "1", "--kv-heads", "1", "--head-size", "16"};

    private static Map<String, Object> replay(Path trace, String cpuGb, String... more) {
        String[] argv = new String[]{"replay", "--json", "--trace", trace.toString(), "--cpu-gb", cpuGb};
        argv = MainTestSupport.concat(argv, TINY_SHAPE);
        MainTest.Result r = MainTest.run(MainTestSupport.concat(argv, more));
        assertEquals(0, r.status(), r.err());
        return r.json();
    }

    private static long simulatedLru(Path trace, int capacityChunks) {
        ChunkedTrace chunks = ChunkedTrace.of(TraceReader.read(trace, 512), 256, true);
        return Simulation.hitTokens(chunks, new SimulatedLru(capacityChunks, chunks), Simulation.Progress.NONE);
    }

    private static long number(Map<String, Object> j, String key) {
        return ((Number) j.get(key)).longValue();
    }

    private static void assertEngineEqualsSimulation(Path trace, String cpuGb, boolean mustEvict) {
        Map<String, Object> j = replay(trace, cpuGb);
        assertEquals(0, number(j, "mismatched_bytes"), j.toString());
        assertEquals(0, number(j, "leases_at_end"));
        assertEquals(0, number(j, "pins_at_end"));
        assertEquals(number(j, "hit_tokens") * 64, number(j, "verified_bytes"), "every loaded byte was checked");
        if (mustEvict) {
            assertTrue(number(j, "evictions") > 0, j.toString());
        }
        long simulated = simulatedLru(trace, (int) number(j, "pool_capacity_chunks"));
        assertEquals(simulated, number(j, "hit_tokens"), "engine vs simulated LRU at " + cpuGb + " GB: " + j);
        assertTrue(simulated > 0);
    }

    @Test
    void mooncakeSlice_engineHitsEqualSimulatedLru() {
        // 120 requests, 1.6 M prompt tokens: 16 KiB chunks, so 0.004 GB is 262 chunks (evicting), 0.2 GB never evicts
        assertEngineEqualsSimulation(Traces.mooncakeSlice(), "0.004", true);
        assertEngineEqualsSimulation(Traces.mooncakeSlice(), "0.2", false);
    }

    @Test
    void conversations_engineHitsEqualSimulatedLru_atSeveralPoolSizes(@TempDir Path dir) throws Exception {
        Path trace = Traces.conversations(dir, 12, 6, 3);
        for (String gb : new String[]{"0.0005", "0.001", "0.002", "0.05"}) {
            assertEngineEqualsSimulation(trace, gb, !gb.equals("0.05"));
        }
    }

    @Test
    void dumpedChat_simulatedLruEqualsTheEngineThatDumpedIt(@TempDir Path dir) {
        Path dump = dir.resolve("chat.trace");
        MainTest.Result r = MainTest.run(MainTestSupport.concat(new String[]{"replay", "--json", "--users", "6",
                "--rounds", "4", "--cpu-gb", "0.0005", "--dump-trace", dump.toString()}, TINY_SHAPE));
        assertEquals(0, r.status(), r.err());
        Map<String, Object> j = r.json();
        assertTrue(number(j, "evictions") > 0, j.toString());
        assertEquals(simulatedLru(dump, (int) number(j, "pool_capacity_chunks")), number(j, "hit_tokens"));
        // and the dump replays through the engine as a trace, to the same hits
        assertEngineEqualsSimulation(dump, "0.0005", true);
    }

    @Test
    void replayTrace_requests_takesTheFirstN_andReportsTheTrace() {
        Map<String, Object> j = replay(Traces.mooncakeSlice(), "0.2", "--requests", "7");
        assertEquals(7, number(j, "requests"));
        assertEquals(Traces.mooncakeSlice().toString(), j.get("trace"));
        assertEquals(number(j, "requested_tokens"), number(j, "prompt_tokens"));
    }

    @Test
    void replayTrace_timeScale_waitsForEachArrival(@TempDir Path dir) throws Exception {
        Path trace = dir.resolve("timed.jsonl");
        java.nio.file.Files.writeString(trace, """
                {"timestamp": 0, "input_length": 600, "output_length": 1, "hash_ids": [1, 2]}
                {"timestamp": 300, "input_length": 600, "output_length": 1, "hash_ids": [1, 2]}
                """);
        Map<String, Object> j = replay(trace, "0.01", "--time-scale", "1");
        assertTrue(((Number) j.get("wall_seconds")).doubleValue() >= 0.3, j.toString());
        assertEquals(600, number(j, "hit_tokens"), "the second request is the first one again");
    }

    @Test
    void replayTrace_badTrace_isBadUsage(@TempDir Path dir) throws Exception {
        Path trace = dir.resolve("bad.jsonl");
        java.nio.file.Files.writeString(trace, "{\"timestamp\": 0, \"input_length\": -5, \"hash_ids\": []}\n");
        MainTest.Result r = MainTest.run("replay", "--trace", trace.toString());
        assertEquals(2, r.status());
        assertTrue(r.err().contains("line 1: input_length must be at least 1, got -5"), r.err());
    }

    @Test
    void replayTrace_aPromptTooLongToServe_isBadUsage_namingTheRequest(@TempDir Path dir) throws Exception {
        // simulate takes it; replay would size its paged caches for 300M tokens (tens of GB) and be killed
        Path trace = dir.resolve("long.jsonl");
        java.nio.file.Files.writeString(trace, "{\"timestamp\": 0, \"input_length\": 600, \"hash_ids\": [1, 2]}\n"
                + "{\"timestamp\": 5, \"input_length\": 300000000, \"hash_ids\": [1]}\n");
        MainTest.Result r = MainTest.run("replay", "--trace", trace.toString());
        assertEquals(2, r.status());
        assertTrue(r.err().contains("request 2 of the trace has 300,000,000 prompt tokens; replay serves prompts"
                + " of at most 2,097,152 tokens"), r.err());
        assertEquals(0, MainTest.run("simulate", "--trace", trace.toString(), "--capacity-tokens", "1024").status());
    }

    @Test
    void replayTrace_timeScaleBeyondAThousand_isBadUsage() throws Exception {
        MainTest.Result r = MainTest.run("replay", "--trace", Traces.mooncakeSlice().toString(), "--time-scale", "1e300");
        assertEquals(2, r.status());
        assertTrue(r.err().contains("--time-scale must be at most 1000, got 1.0E300"), r.err());
    }
}
