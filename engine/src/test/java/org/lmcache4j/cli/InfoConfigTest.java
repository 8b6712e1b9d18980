package org.lmcache4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.lmcache4j.cli.MainTest.Result;

/**
 * {@code lmcache4j info} on LMCache's own example configurations: what the engine would refuse,
 * info refuses with the same message as replay; what it accepts, info shows under today's keys,
 * with the warnings loading it raised.
 */
class InfoConfigTest {

    @TempDir
    Path dir;

    /** The line Main prints for a refused command. */
    private static String refusal(Result r) {
        return r.err().lines().filter(l -> l.startsWith("lmcache4j: ")).findFirst().orElse("(none in: " + r.err() + ")");
    }

    @Test
    void lmcacheCacheServerExample_isRefusedByInfoAsByReplay() throws IOException {
        Path cfg = write("""
                chunk_size: 256
                local_device: "cpu"
                remote_url: "lm://localhost:65432"
                """);
        Result info = MainTest.run("info", "--config", cfg.toString());
        Result replay = MainTest.run("replay", "--config", cfg.toString(), "--users", "1", "--rounds", "1");
        assertEquals(2, info.status(), info.out());
        assertEquals(2, replay.status(), replay.out());
        assertTrue(refusal(info).contains("remote_url: 'lm://localhost:65432' (from " + cfg + ")")
                && refusal(info).contains("LMCache's own cache server")
                && refusal(info).contains("redis://"), refusal(info));
        assertEquals(refusal(info), refusal(replay), "one validation path");
        assertEquals("", info.out(), "nothing printed as if it were valid");
    }

    @Test
    void refusedConfiguration_withJson_printsTheRefusalAsJsonToo() throws IOException {
        Path cfg = write("chunk_size: 256\nenable_pd: True\npd_role: sender\n");
        Result info = MainTest.run("info", "--json", "--config", cfg.toString());
        assertEquals(2, info.status(), info.out());
        String error = String.valueOf(info.json().get("error"));
        assertTrue(error.contains("enable_pd") && refusal(info).contains(error), error + " / " + refusal(info));
        assertEquals(1, info.json().size(), "only the error, nothing that looks like a valid configuration");
    }

    @Test
    void remoteUrlOptionOfAnotherScheme_isRefusedNamingTheOption() {
        Result info = MainTest.run("info", "--remote-url", "s3://bucket.example");
        assertEquals(2, info.status());
        assertTrue(refusal(info).contains("S3") && refusal(info).contains("--remote-url"), refusal(info));
    }

    @Test
    void p2pExample_isRefusedNamingEachSwitch() throws IOException {
        Path cfg = write("""
                chunk_size: 256
                local_cpu: True
                max_local_cpu_size: 5

                # P2P configuration
                enable_p2p: True
                lookup_url: "localhost:8100"
                distributed_url: "localhost:8200"
                """);
        Result info = MainTest.run("info", "--config", cfg.toString());
        assertEquals(2, info.status());
        assertTrue(refusal(info).contains("enable_p2p") && refusal(info).contains("peer-to-peer"), refusal(info));
    }

    @Test
    void legacyDiskExample_showsTheDiskTierUnderTodaysKeys_andWarnings() throws IOException {
        Path cfg = write("chunk_size: 256\nlocal_device: \"file://" + dir.resolve("kv") + "/\"\np2p_host: peer\n");
        Result info = MainTest.run("info", "--json", "--config", cfg.toString());
        assertEquals(0, info.status(), info.err());
        Map<String, Object> j = info.json();
        assertEquals(dir.resolve("kv") + "/", j.get("local_disk"));
        assertEquals(20.0, ((Number) j.get("max_local_disk_size")).doubleValue());
        @SuppressWarnings("unchecked")
        List<String> warnings = (List<String>) j.get("warnings");
        assertEquals(1, warnings.size(), warnings::toString);
        assertTrue(warnings.getFirst().contains("p2p_host") && warnings.getFirst().contains("peer-to-peer"),
                warnings::toString);

        Result text = MainTest.run("info", "--config", cfg.toString());
        assertTrue(text.out().lines().anyMatch(l -> l.startsWith("warning: configuration key p2p_host")), text.out());
    }

    private Path write(String yaml) throws IOException {
        return Files.writeString(dir.resolve("lmcache.yaml"), yaml);
    }
}
