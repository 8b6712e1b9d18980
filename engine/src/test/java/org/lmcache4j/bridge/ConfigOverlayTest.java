package org.lmcache4j.bridge;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.lmcache4j.EngineConfig;
import org.lmcache4j.config.ConfigRefusedException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The caller's settings laid over a file or the environment, key by key (vLLM's lmcache.* extra config). */
class ConfigOverlayTest {

    @Test
    void settingsThatTurnAFeatureOffAgain_win_overTheEnvironment() {
        Map<String, String> env = Map.of("LMCACHE_ENABLE_PD", "1", "LMCACHE_CHUNK_SIZE", "128");
        EngineConfig c = ConfigOverlay.load(null, "{\"enable_pd\": false}", env);
        assertEquals(128, c.chunkSize(), "the environment's other keys stay");
        var refused = assertThrows(ConfigRefusedException.class, () -> ConfigOverlay.load(null, "{\"chunk_size\": 64}", env));
        assertTrue(refused.getMessage().contains("(from LMCACHE_ENABLE_PD)"), refused.getMessage());
    }

    @Test
    void settingsThatTurnAFeatureOffAgain_win_overAFile(@TempDir Path dir) throws IOException {
        Path file = Files.writeString(dir.resolve("lmcache.yaml"), "chunk_size: 512\nenable_p2p: true\n"
                + "remote_url: lm://cache:81\n");
        EngineConfig c = ConfigOverlay.load(file.toString(), "{\"enable_p2p\": false, \"remote_url\": null}", Map.of());
        assertEquals(512, c.chunkSize());
        assertTrue(c.remoteUrl().isEmpty());
    }
}
