package org.lmcache4j.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.lmcache4j.EngineConfig;

/**
 * LMCache's own example configurations, written as LMCache ships them (LMCache/LMCache
 * {@code examples/} and its docs, read December 2026), and the environment the production-stack
 * chart exports: each is accepted with its effective values, or refused naming the key and the
 * feature.
 */
class LmcacheExampleConfigsTest {

    @TempDir
    Path dir;

    private final List<String> warnings = new ArrayList<>();

    // ---- accepted ----

    @Test
    void cpuOffloadExample_isAcceptedAsItSays() throws IOException {
        EngineConfig c = file("chunk_size: 256\nlocal_cpu: True\nmax_local_cpu_size: 5.0\n");
        assertEquals(5L * EngineConfig.GB, c.cpuPoolBytes());
        assertEquals(List.of(), warnings);
    }

    @Test
    void diskExampleWithLocalDiskFileUrl_isTheDiskTier() throws IOException {
        EngineConfig c = file("""
                chunk_size: 256
                local_cpu: False
                max_local_cpu_size: 5.0
                local_disk: "file://local/disk_test/local_disk/"
                max_local_disk_size: 5.0
                """);
        assertEquals(Optional.of("local/disk_test/local_disk/"), c.localDisk());
        assertEquals(5L * EngineConfig.GB, c.diskBytes());
        assertEquals(5L * EngineConfig.GB, c.cpuPoolBytes(), "chunks pass through the pool on their way to disk");
    }

    @Test
    void legacyDiskExampleWithLocalDevice_isTheDiskTierOfLmcache01sDefaultSize() throws IOException {
        // examples/storage_backends/disk_local.yaml: before, the disk tier was silently dropped.
        EngineConfig c = file("chunk_size: 256\nlocal_device: \"file://local_disk/\"\n\n");
        assertEquals(Optional.of("local_disk/"), c.localDisk());
        assertEquals(20L * EngineConfig.GB, c.diskBytes(), "max_local_cache_size defaulted to 20 GB in a file");
        assertEquals(List.of(), warnings);
    }

    @Test
    void legacyLocalDevice_takesMaxLocalCacheSize_andLosesToTodaysKeys() throws IOException {
        ConfigLoader.Sourced s = sourced("local_device: file:///data/kv/\nmax_local_cache_size: 50\n");
        assertEquals(50L * EngineConfig.GB, s.config().diskBytes());
        assertTrue(s.sourceOf("local_disk").endsWith("as local_device"), s.sources()::toString);
        assertEquals(8L * EngineConfig.GB, file("local_device: file:///data/kv/\nmax_local_cache_size: 50\n"
                + "max_local_disk_size: 8\n").diskBytes());
        EngineConfig env = ConfigLoader.load(Optional.empty(), Map.of("LMCACHE_LOCAL_DEVICE", "file:///data/kv/"),
                warnings::add);
        assertEquals(5L * EngineConfig.GB, env.diskBytes(), "LMCache 0.1's default in the environment was 5 GB");
    }

    @Test
    void localDiskWithoutASize_isWarnedAbout_notSilentlyDropped() {
        EngineConfig c = env(Map.of("LMCACHE_LOCAL_DISK", "file:///data/lmcache/"));
        assertEquals(0, c.diskBytes());
        assertEquals(1, warnings.size(), warnings::toString);
        assertTrue(warnings.getFirst().contains("(from LMCACHE_LOCAL_DISK) has no size"), warnings::toString);
    }

    @Test
    void legacyCpuAndRedisExample_isThePoolAndRedis() throws IOException {
        EngineConfig c = file("""
                chunk_size: 256
                local_device: "cpu"
                remote_url: "redis://localhost:65432"
                remote_serde: "cachegen"

                # Whether retrieve() is pipelined or not
                pipelined_backend: False

                """);
        assertEquals(Optional.of("redis://localhost:65432"), c.remoteUrl());
        assertTrue(c.localCpu());
        assertEquals(List.of(), warnings);
    }

    @Test
    void legacyLocalDeviceCuda_warnsAndKeepsThePool() throws IOException {
        EngineConfig c = file("local_device: cuda\nmax_local_cache_size: 3\n");
        assertEquals(3L * EngineConfig.GB, c.cpuPoolBytes());
        assertEquals(1, warnings.size(), warnings::toString);
        assertTrue(warnings.getFirst().contains("GPU memory"), warnings::toString);
    }

    @Test
    void legacyLocalDevice_badOrConflicting_isAnErrorNamingTheKeys() throws IOException {
        var bad = assertThrows(IllegalArgumentException.class, () -> file("local_device: tpu\n"));
        assertTrue(bad.getMessage().contains("local_device: 'tpu'"), bad.getMessage());
        var both = assertThrows(IllegalArgumentException.class,
                () -> file("local_device: file:///a/\nlocal_disk: /b/\nmax_local_disk_size: 1\n"));
        assertTrue(both.getMessage().contains("local_device") && both.getMessage().contains("local_disk"),
                both.getMessage());
    }

    @Test
    void redisExample_isTheRemoteTier() throws IOException {
        EngineConfig c = file("""
                chunk_size: 256
                local_cpu: True
                max_local_cpu_size: 5
                remote_url: "redis://localhost:6379"
                remote_serde: "naive"
                """);
        assertEquals(Optional.of("redis://localhost:6379"), c.remoteUrl());
        assertEquals(List.of(), warnings);
    }

    @Test
    void featuresWrittenOutAtTheirOffValuesOrDefaults_areSilent() throws IOException {
        EngineConfig c = file("""
                chunk_size: 256
                enable_controller: false
                enable_p2p: False
                enable_pd: False
                use_layerwise: false
                enable_blending: false
                enable_async_loading: false
                gds_path: null
                storage_plugins: []
                use_gds: true
                mp_port: 5555
                blend_special_str: " # # "
                local_disk_path_sharding: by_gpu
                pd_allocation_timeout_sec: .inf
                """);
        assertEquals(EngineConfig.defaults(), c);
        assertEquals(List.of(), warnings);
    }

    // ---- refused ----

    @Test
    void p2pExample_isRefusedNamingP2pAndTheController() throws IOException {
        ConfigRefusedException e = refused("""
                chunk_size: 256
                local_cpu: True
                max_local_cpu_size: 5
                enable_async_loading: True

                # P2P configurations
                enable_p2p: True
                p2p_host: "localhost"
                p2p_init_ports: 8200
                p2p_lookup_ports: 8201
                transfer_channel: "nixl"

                # Controller configurations
                enable_controller: True
                lmcache_instance_id: "lmcache_instance_1"
                controller_pull_url: "localhost:8300"
                controller_reply_url: "localhost:8400"
                lmcache_worker_ports: 8500

                extra_config:
                  lookup_backoff_time: 0.001
                """, "enable_p2p", "peer-to-peer", "enable_controller", "cache controller", "remote_url: redis://");
        assertEquals(List.of("enable_p2p", "enable_controller"), e.refusals().stream().map(r -> r.key()).toList());
    }

    @Test
    void disaggregatedPrefillExamples_areRefusedNamingPd() throws IOException {
        refused("""
                local_cpu: False
                save_unfull_chunk: true  # Don't discard partial chunks (< 256 tokens)

                enable_pd: True
                transfer_channel: "nixl"
                pd_role: "sender"
                pd_proxy_host: "localhost"
                pd_proxy_port: 7500
                pd_buffer_size: 1073741824 # 1GB
                pd_buffer_device: "cuda"
                nixl_backends: [UCX]
                """, "enable_pd: 'true'", "prefill/decode disaggregation", "kv_producer");
        refused("""
                local_cpu: False
                max_local_cpu_size: 0
                max_local_disk_size: 0
                remote_serde: NULL

                enable_nixl: True
                nixl_role: "receiver"
                nixl_receiver_host: "localhost"
                nixl_receiver_port: 55555
                nixl_buffer_size: 1073741824 # 1GB
                nixl_buffer_device: "cuda"
                nixl_enable_gc: True
                nixl_backends: [UCX]
                """, "enable_nixl", "prefill/decode disaggregation");
    }

    @Test
    void controllerExample_isRefused_andItsUrlsWarned() throws IOException {
        refused("""
                chunk_size: 256
                local_cpu: True
                max_local_cpu_size: 5

                # cache controller configurations
                enable_controller: True
                lmcache_instance_id: "lmcache_default_instance"
                controller_url: "localhost:9001"
                lmcache_worker_port: 8001
                """, "enable_controller", "cache controller");
        assertTrue(warnings.stream().anyMatch(w -> w.contains("controller_url")), warnings::toString);
        assertTrue(warnings.stream().anyMatch(w -> w.contains("lmcache_worker_port")), warnings::toString);
    }

    @Test
    void blendingExample_isRefusedNamingBlending_layerwiseIsSupported() throws IOException {
        ConfigRefusedException e = refused("""
                chunk_size: 256
                enable_blending: true
                use_layerwise: true
                local_cpu: true
                max_local_cpu_size: 5
                blend_special_str: " # # \"""", "enable_blending", "CacheBlend");
        assertFalse(e.getMessage().contains("use_layerwise"), e.getMessage());
        assertTrue(file("""
                chunk_size: 256
                use_layerwise: true
                """).useLayerwise());
    }

    @Test
    void gdsExample_isRefusedOfferingTheDiskTier() throws IOException {
        refused("""
                # 256 Tokens per KV Chunk
                chunk_size: 256
                # Disable local CPU
                local_cpu: false
                # Path to file system, local, remote or GDS-enabled mount
                gds_path: "/mnt/gds/cache"
                # CuFile Buffer Size in MiB
                cufile_buffer_size: 8192
                """, "gds_path: '/mnt/gds/cache'", "GPU Direct Storage", "local_disk");
    }

    @Test
    void remoteExamplesOfOtherBackEnds_areRefusedNamingTheBackEnd() throws IOException {
        refused("chunk_size: 256\nremote_url: \"mooncakestore://127.0.0.1:50051\"\n", "remote_url", "Mooncake");
        refused("""
                chunk_size: 256
                local_cpu: False
                max_local_cpu_size: 10
                save_unfull_chunk: False

                remote_url: "s3://{BUCKET_NAME}.s3express-{AZ_ID}.{REGION}.amazonaws.com"
                remote_serde: "naive"
                """, "remote_url", "S3", "redis://");
        refused("""
                chunk_size: 256
                local_device: "cpu"
                remote_url: "lm://localhost:65432"
                remote_serde: "cachegen"
                """, "remote_url: 'lm://localhost:65432'", "LMCache's own cache server", "redis-cluster://");
    }

    @Test
    void pluginsAndNixlStorage_areRefused() throws IOException {
        refused("storage_plugins: [my_backend]\nextra_config:\n  enable_nixl_storage: true\n  nixl_backend: GDS\n",
                "storage_plugins", "plugins", "extra_config.enable_nixl_storage", "NIXL storage");
    }

    @Test
    void aSwitchThatIsNeitherOnNorOff_isAnErrorNamingIt() {
        var e = assertThrows(IllegalArgumentException.class, () -> env(Map.of("LMCACHE_ENABLE_P2P", "maybe")));
        assertTrue(e.getMessage().contains("enable_p2p: 'maybe' is not a boolean")
                && e.getMessage().contains("LMCACHE_ENABLE_P2P"), e.getMessage());
        var nixl = assertThrows(IllegalArgumentException.class,
                () -> env(Map.of("LMCACHE_EXTRA_CONFIG", "{\"enable_nixl_storage\": \"maybe\"}")));
        assertFalse(nixl instanceof ConfigRefusedException, "not a feature it was asked for: " + nixl.getMessage());
        assertTrue(nixl.getMessage().contains("extra_config.enable_nixl_storage: 'maybe' is not a boolean")
                && nixl.getMessage().contains("LMCACHE_EXTRA_CONFIG"), nixl.getMessage());
    }

    @Test
    void builtConfigWithAnotherRemoteScheme_isRefusedToo() {
        var e = assertThrows(ConfigRefusedException.class,
                () -> EngineConfig.builder().remoteUrl("lm://user:secret@cache:81").build());
        assertTrue(e.getMessage().contains("lm://***@cache:81") && !e.getMessage().contains("secret"), e.getMessage());
    }

    // ---- the production-stack chart's environment ----

    @Test
    void chartCacheServerSpec_isRefusedNamingTheVariable() {
        var e = assertThrows(ConfigRefusedException.class, () -> env(Map.of(
                "LMCACHE_USE_EXPERIMENTAL", "True", "VLLM_RPC_TIMEOUT", "1000000", "LMCACHE_LOG_LEVEL", "INFO",
                "LMCACHE_LOCAL_CPU", "True", "LMCACHE_MAX_LOCAL_CPU_SIZE", "20",
                "LMCACHE_REMOTE_URL", "lm://vllm-cache-server-service:81", "LMCACHE_REMOTE_SERDE", "naive",
                "LMCACHE_LMCACHE_INSTANCE_ID", "vllm-llama-0")));
        assertTrue(e.getMessage().contains("remote_url: 'lm://vllm-cache-server-service:81' (from LMCACHE_REMOTE_URL)")
                && e.getMessage().contains("cacheserverSpec"), e.getMessage());
    }

    @Test
    void chartControllerAndP2pValues_withTheControllerOff_areWarnedNotRefused() {
        EngineConfig c = env(Map.of("LMCACHE_LOCAL_CPU", "True", "LMCACHE_MAX_LOCAL_CPU_SIZE", "20",
                "LMCACHE_ENABLE_CONTROLLER", "False", "LMCACHE_CONTROLLER_PULL_URL", "vllm-router-service:9000",
                "LMCACHE_CONTROLLER_REPLY_URL", "vllm-router-service:9001", "LMCACHE_LMCACHE_WORKER_PORTS", "8001",
                "LMCACHE_P2P_HOST", "10.0.0.5", "LMCACHE_P2P_INIT_PORTS", "8200",
                "LMCACHE_LMCACHE_WORKER_HEARTBEAT_TIME", "10"));
        assertEquals(20L * EngineConfig.GB, c.cpuPoolBytes());
        assertEquals(7 - 1, warnings.size(), "one per variable but LMCACHE_ENABLE_CONTROLLER=False: " + warnings);
        for (String v : List.of("LMCACHE_CONTROLLER_PULL_URL", "LMCACHE_CONTROLLER_REPLY_URL",
                "LMCACHE_LMCACHE_WORKER_PORTS", "LMCACHE_P2P_HOST", "LMCACHE_P2P_INIT_PORTS")) {
            assertTrue(warnings.stream().anyMatch(w -> w.contains("(from " + v + ")")), v + " in " + warnings);
        }
    }

    @Test
    void chartControllerOn_isRefused() {
        var e = assertThrows(ConfigRefusedException.class, () -> env(Map.of("LMCACHE_ENABLE_CONTROLLER", "True",
                "LMCACHE_CONTROLLER_PULL_URL", "vllm-router-service:9000")));
        assertTrue(e.getMessage().contains("enable_controller: 'True' (from LMCACHE_ENABLE_CONTROLLER)"), e.getMessage());
    }

    @Test
    void chartPdMode_isRefusedNamingNixl() {
        var e = assertThrows(ConfigRefusedException.class, () -> env(Map.of(
                "LMCACHE_LOCAL_CPU", "False", "LMCACHE_MAX_LOCAL_CPU_SIZE", "0", "LMCACHE_REMOTE_SERDE", "NULL",
                "LMCACHE_ENABLE_NIXL", "True", "LMCACHE_NIXL_ROLE", "sender", "LMCACHE_NIXL_RECEIVER_HOST", "decoder",
                "LMCACHE_NIXL_RECEIVER_PORT", "55555", "LMCACHE_NIXL_BUFFER_SIZE", "1073741824",
                "LMCACHE_NIXL_BUFFER_DEVICE", "cuda")));
        assertTrue(e.getMessage().contains("enable_nixl: 'True' (from LMCACHE_ENABLE_NIXL)"), e.getMessage());
    }

    @Test
    void encoderCacheVariables_areWarned() {
        env(Map.of("LMCACHE_EC_MAX_LOCAL_CPU_SIZE", "4"));
        assertEquals(1, warnings.size(), warnings::toString);
        assertTrue(warnings.getFirst().contains("encoder cache"), warnings::toString);
    }

    // ---- helpers ----

    private EngineConfig file(String yaml) throws IOException {
        return sourced(yaml).config();
    }

    private ConfigLoader.Sourced sourced(String yaml) throws IOException {
        Path f = Files.writeString(dir.resolve("lmcache.yaml"), yaml);
        return ConfigLoader.loadSourced(Optional.of(f), Map.of(), warnings::add);
    }

    private EngineConfig env(Map<String, String> env) {
        return ConfigLoader.load(Optional.empty(), env, warnings::add);
    }

    /** Loading {@code yaml} is refused, and the message holds each of {@code parts} and the file. */
    private ConfigRefusedException refused(String yaml, String... parts) throws IOException {
        var e = assertThrows(ConfigRefusedException.class, () -> file(yaml));
        for (String part : parts) {
            assertTrue(e.getMessage().contains(part), () -> "'" + part + "' missing from: " + e.getMessage());
        }
        assertTrue(e.getMessage().contains(dir.resolve("lmcache.yaml").toString()), e.getMessage());
        return e;
    }
}
