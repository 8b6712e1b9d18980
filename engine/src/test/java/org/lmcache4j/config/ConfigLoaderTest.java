package org.lmcache4j.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.lmcache4j.EngineConfig;

class ConfigLoaderTest {

    @TempDir
    Path dir;

    private final List<String> warnings = new ArrayList<>();

    // ---- environment ----

    @Test
    void load_emptyEnvironment_givesDefaults() {
        EngineConfig c = load(Map.of());
        assertEquals(EngineConfig.defaults(), c);
        assertEquals(256, c.chunkSize());
        assertEquals(5L * EngineConfig.GB, c.cpuPoolBytes());
        assertTrue(c.saveUnfullChunk());
        assertEquals(List.of(), warnings);
    }

    @Test
    void load_everyKeyFromEnvironment_setsEachField() {
        Map<String, String> env = new HashMap<>(Map.ofEntries(
                Map.entry("LMCACHE_CHUNK_SIZE", "64"),
                Map.entry("LMCACHE_LOCAL_CPU", "false"),
                Map.entry("LMCACHE_MAX_LOCAL_CPU_SIZE", "1.5"),
                Map.entry("LMCACHE_LOCAL_DISK", "file:///var/cache/lmc/"),
                Map.entry("LMCACHE_MAX_LOCAL_DISK_SIZE", "30"),
                Map.entry("LMCACHE_REMOTE_URL", "redis://cache:6379"),
                Map.entry("LMCACHE_REMOTE_SERDE", "cachegen"),
                Map.entry("LMCACHE_SAVE_UNFULL_CHUNK", "False"),
                Map.entry("LMCACHE_SAVE_DECODE_CACHE", "True"),
                Map.entry("LMCACHE_CACHE_POLICY", "lru"),
                Map.entry("LMCACHE_PIN_TIMEOUT_SEC", "60"),
                Map.entry("LMCACHE_LOOKUP_TIMEOUT_MS", "500"),
                Map.entry("LMCACHE_BLOCKING_TIMEOUT_SECS", "3"),
                Map.entry("LMCACHE_MIN_RETRIEVE_TOKENS", "128"),
                Map.entry("LMCACHE_LMCACHE_INSTANCE_ID", "pod-7"),
                Map.entry("LMCACHE_EXTRA_CONFIG", "{\"a\": 1, \"b\": {\"c\": true}}")));
        EngineConfig c = load(env);
        assertEquals(64, c.chunkSize());
        assertFalse(c.localCpu());
        assertEquals(1.5, c.maxLocalCpuSizeGb());
        // local_cpu false with a disk and a remote tier: the pool stays, as LMCache's buffer does
        assertEquals((long) (1.5 * EngineConfig.GB), c.cpuPoolBytes());
        assertEquals(Optional.of("/var/cache/lmc/"), c.localDisk());
        assertEquals(30.0, c.maxLocalDiskSizeGb());
        assertEquals(Optional.of("redis://cache:6379"), c.remoteUrl());
        assertEquals("cachegen", c.remoteSerde());
        assertFalse(c.saveUnfullChunk());
        assertTrue(c.saveDecodeCache());
        assertEquals("LRU", c.cachePolicy());
        assertEquals(60, c.pinTimeoutSec());
        assertEquals(500, c.lookupTimeoutMs());
        assertEquals(3, c.blockingTimeoutSecs());
        assertEquals(128, c.minRetrieveTokens());
        assertEquals("pod-7", c.instanceId());
        assertEquals(Map.of("a", 1, "b", Map.of("c", true)), c.extraConfig());
        assertEquals(List.of(), warnings);
    }

    @ParameterizedTest
    @CsvSource({"true,true", "True,true", "TRUE,true", "1,true", "yes,true", "Yes,true",
                "false,false", "False,false", "0,false", "no,false", "NO,false"})
    void load_booleanInAnySpelling_isRead(String written, boolean expected) {
        assertEquals(expected, load(Map.of("LMCACHE_SAVE_DECODE_CACHE", written)).saveDecodeCache());
    }

    @Test
    void load_numbersWithSpacesQuotesAndFractions_areRead() {
        EngineConfig c = load(Map.of("LMCACHE_CHUNK_SIZE", " 5 ", "LMCACHE_MAX_LOCAL_CPU_SIZE", "'20.5'",
                "LMCACHE_LOOKUP_TIMEOUT_MS", "1e3"));
        assertEquals(5, c.chunkSize());
        assertEquals(20.5, c.maxLocalCpuSizeGb());
        assertEquals((long) (20.5 * EngineConfig.GB), c.cpuPoolBytes());
        assertEquals(1000, c.lookupTimeoutMs());
    }

    @Test
    void load_noneNullOrEmptyOptionalValues_areUnset() {
        EngineConfig c = load(Map.of("LMCACHE_REMOTE_URL", "None", "LMCACHE_LOCAL_DISK", "",
                "LMCACHE_REMOTE_SERDE", "NULL", "LMCACHE_EXTRA_CONFIG", ""));
        assertEquals(Optional.empty(), c.remoteUrl());
        assertEquals(Optional.empty(), c.localDisk());
        assertEquals("naive", c.remoteSerde());
        assertEquals(Map.of(), c.extraConfig());
    }

    // ---- the vLLM production-stack Helm chart ----

    @Test
    void load_helmCpuOffloadingBufferSize20_givesExactly20GiBPool() {
        EngineConfig c = ConfigLoader.load(Map.of(
                "LMCACHE_LOCAL_CPU", "True",
                "LMCACHE_MAX_LOCAL_CPU_SIZE", "20",
                "LMCACHE_USE_EXPERIMENTAL", "True",
                "LMCACHE_LOG_LEVEL", "DEBUG",
                "VLLM_RPC_TIMEOUT", "1000000"));
        assertEquals(20L * 1024 * 1024 * 1024, c.cpuPoolBytes());
        assertTrue(c.localCpu());
    }

    @Test
    void load_helmChartVariables_raiseNoWarning() {
        load(Map.of("LMCACHE_LOCAL_CPU", "True", "LMCACHE_MAX_LOCAL_CPU_SIZE", "20",
                "LMCACHE_USE_EXPERIMENTAL", "True", "LMCACHE_LOG_LEVEL", "DEBUG",
                "LMCACHE_ENABLE_CONTROLLER", "False"));
        assertEquals(List.of(), warnings);
    }

    @Test
    void load_helmDiskInstanceAndRedis_areRead() {
        EngineConfig c = load(Map.of(
                "LMCACHE_MAX_LOCAL_DISK_SIZE", "100",
                "LMCACHE_LOCAL_DISK", "file:///data/lmcache/",
                "LMCACHE_LMCACHE_INSTANCE_ID", "vllm-llama-0",
                "LMCACHE_REMOTE_URL", "redis://redis.cache.svc:6379",
                "LMCACHE_REMOTE_SERDE", "naive"));
        assertEquals(100L * EngineConfig.GB, c.diskBytes());
        assertEquals(Optional.of("/data/lmcache/"), c.localDisk());
        assertEquals("vllm-llama-0", c.instanceId());
        assertEquals(Optional.of("redis://redis.cache.svc:6379"), c.remoteUrl());
        assertEquals("naive", c.remoteSerde());
    }

    // ---- files ----

    @Test
    void loadFile_yamlWithFractionsAndBooleanSpellings_isRead() throws IOException {
        Path f = write("lmcache.yaml", """
                chunk_size: 128
                local_cpu: yes
                max_local_cpu_size: 2.5
                local_disk: "file:///tmp/lmc/"
                max_local_disk_size: "0.25"
                save_unfull_chunk: 0
                save_decode_cache: "True"
                remote_url: null
                extra_config:
                  spill_threads: 2
                """);
        EngineConfig c = ConfigLoader.loadFile(f, warnings::add);
        assertEquals(128, c.chunkSize());
        assertTrue(c.localCpu());
        assertEquals((long) (2.5 * EngineConfig.GB), c.cpuPoolBytes());
        assertEquals(Optional.of("/tmp/lmc/"), c.localDisk());
        assertEquals(EngineConfig.GB / 4, c.diskBytes());
        assertFalse(c.saveUnfullChunk());
        assertTrue(c.saveDecodeCache());
        assertEquals(Optional.empty(), c.remoteUrl());
        assertEquals(Map.of("spill_threads", 2), c.extraConfig());
        assertEquals(List.of(), warnings);
    }

    @Test
    void loadFile_json_isRead() throws IOException {
        Path f = write("lmcache.json", """
                {
                  "chunk_size": 512,
                  "local_cpu": true,
                  "max_local_cpu_size": 0.5,
                  "save_decode_cache": "false",
                  "remote_url": "redis-cluster://a:7000",
                  "extra_config": {"k": [1, 2]}
                }
                """);
        EngineConfig c = ConfigLoader.loadFile(f);
        assertEquals(512, c.chunkSize());
        assertEquals(EngineConfig.GB / 2, c.cpuPoolBytes());
        assertFalse(c.saveDecodeCache());
        assertEquals(Optional.of("redis-cluster://a:7000"), c.remoteUrl());
        assertEquals(Map.of("k", List.of(1, 2)), c.extraConfig());
    }

    @Test
    void loadFile_emptyFile_givesDefaults() throws IOException {
        assertEquals(EngineConfig.defaults(), ConfigLoader.loadFile(write("empty.yaml", "")));
    }

    @Test
    void load_configFileSet_usesFileIgnoresEnvironmentAndWarnsOnce() throws IOException {
        Path f = write("lmcache.yaml", "chunk_size: 32\n");
        EngineConfig c = load(Map.of(ConfigLoader.CONFIG_FILE_ENV, f.toString(),
                "LMCACHE_CHUNK_SIZE", "999", "LMCACHE_MAX_LOCAL_CPU_SIZE", "40",
                "LMCACHE_USE_EXPERIMENTAL", "True", "LMCACHE_LOG_LEVEL", "INFO"));
        assertEquals(32, c.chunkSize());
        assertEquals(5.0, c.maxLocalCpuSizeGb());
        assertEquals(1, warnings.size(), warnings::toString);
        String w = warnings.getFirst();
        assertTrue(w.contains("LMCACHE_CHUNK_SIZE, LMCACHE_MAX_LOCAL_CPU_SIZE"), w);
        assertTrue(w.contains(f.toString()), w);
        assertFalse(w.contains("USE_EXPERIMENTAL") || w.contains("LOG_LEVEL"), w);
        var sourced = ConfigLoader.loadSourced(Optional.of(f), Map.of("LMCACHE_CHUNK_SIZE", "999"), x -> { });
        assertEquals(1, sourced.warnings().size(), "info shows it too: " + sourced.warnings());
    }

    @Test
    void load_explicitPath_winsOverConfigFileVariable() throws IOException {
        Path fromEnv = write("env.yaml", "chunk_size: 16\n");
        Path explicit = write("explicit.yaml", "chunk_size: 48\n");
        EngineConfig c = ConfigLoader.load(Optional.of(explicit),
                Map.of(ConfigLoader.CONFIG_FILE_ENV, fromEnv.toString()), warnings::add);
        assertEquals(48, c.chunkSize());
        assertEquals(List.of(), warnings);
    }

    @Test
    void load_explicitPath_ignoresKeyVariables() throws IOException {
        Path explicit = write("explicit.yaml", "max_local_cpu_size: 1\n");
        EngineConfig c = ConfigLoader.load(Optional.of(explicit), Map.of("LMCACHE_MAX_LOCAL_CPU_SIZE", "9"));
        assertEquals(EngineConfig.GB, c.cpuPoolBytes());
    }

    // ---- unknown and unsupported keys ----

    @Test
    void loadFile_unknownKey_warnsNamingKeyAndFileAndLoads() throws IOException {
        Path f = write("lmcache.yaml", "chunk_size: 64\nchunk_sise: 32\n");
        EngineConfig c = ConfigLoader.loadFile(f, warnings::add);
        assertEquals(64, c.chunkSize());
        assertEquals(1, warnings.size(), warnings::toString);
        assertTrue(warnings.getFirst().contains("chunk_sise") && warnings.getFirst().contains(f.toString()),
                warnings.getFirst());
    }

    @Test
    void load_unknownVariable_warnsNamingKeyAndVariableAndLoads() {
        EngineConfig c = load(Map.of("LMCACHE_CHUNK_SIZE", "64", "LMCACHE_FANCY_MODE", "1"));
        assertEquals(64, c.chunkSize());
        assertEquals(1, warnings.size(), warnings::toString);
        assertTrue(warnings.getFirst().contains("fancy_mode") && warnings.getFirst().contains("LMCACHE_FANCY_MODE"),
                warnings.getFirst());
    }

    @Test
    void load_knobOfAnAbsentFeature_warnsNamingKeyVariableAndFeature() {
        load(Map.of("LMCACHE_PD_BUFFER_SIZE", "1073741824", "LMCACHE_ENABLE_LAZY_MEMORY_ALLOCATOR", "true"));
        assertEquals(1, warnings.size(), "the lazy allocator is what the pool always does: " + warnings);
        assertTrue(warnings.getFirst().contains("pd_buffer_size (from LMCACHE_PD_BUFFER_SIZE)")
                && warnings.getFirst().contains("prefill/decode disaggregation")
                && warnings.getFirst().contains("which LMCache4j does not have: ignored"), warnings::toString);
    }

    @Test
    void loadFile_unsupportedLmcacheFeatureLeftOff_isSilent() throws IOException {
        Path f = write("lmcache.yaml", "enable_controller: false\nuse_layerwise: False\nenable_blending: 0\n");
        assertEquals(EngineConfig.defaults(), ConfigLoader.loadFile(f, warnings::add));
        assertEquals(List.of(), warnings);
    }

    // ---- errors ----

    @Test
    void load_unparsableSize_namesKeyValueAndVariable() {
        var e = assertThrows(IllegalArgumentException.class,
                () -> load(Map.of("LMCACHE_MAX_LOCAL_CPU_SIZE", "twenty")));
        assertTrue(e.getMessage().startsWith("max_local_cpu_size: 'twenty' is not a number"), e.getMessage());
        assertTrue(e.getMessage().endsWith("(from LMCACHE_MAX_LOCAL_CPU_SIZE)"), e.getMessage());
    }

    @Test
    void load_fractionalChunkSize_isNotAnInteger() {
        assertMessage(Map.of("LMCACHE_CHUNK_SIZE", "20.5"), "chunk_size", "'20.5'", "is not an integer",
                "LMCACHE_CHUNK_SIZE");
    }

    @Test
    void load_sizeWithUnit_isRejected() {
        assertMessage(Map.of("LMCACHE_MAX_LOCAL_DISK_SIZE", "20GB"), "max_local_disk_size", "'20GB'",
                "LMCACHE_MAX_LOCAL_DISK_SIZE");
    }

    @Test
    void load_sizeWhoseBytesOverflow_isRefusedNamingKeyAndSource() throws IOException {
        // 1e12 GB is more bytes than a long holds: it used to load as a pool of Long.MAX_VALUE bytes.
        assertMessage(Map.of("LMCACHE_MAX_LOCAL_CPU_SIZE", "1e12"), "max_local_cpu_size", "1000000000000",
                "less than 8589934591 GB", "(from LMCACHE_MAX_LOCAL_CPU_SIZE)");
        assertFileRejected("big.yaml", "max_local_cpu_size: 1e12\n", "max_local_cpu_size", "1000000000000",
                "less than 8589934591 GB");
        assertFileRejected("bigdisk.yaml", "max_local_disk_size: 9e9\n", "max_local_disk_size", "9000000000");
        assertEquals(8589934590L * EngineConfig.GB,
                load(Map.of("LMCACHE_MAX_LOCAL_CPU_SIZE", "8589934590")).cpuPoolBytes(), "the largest size still loads");
    }

    @Test
    void load_localCpuFalse_keepsThePoolOnlyWhereATierTakesTheChunks() {
        assertEquals(0L, load(Map.of("LMCACHE_LOCAL_CPU", "false")).cpuPoolBytes());
        assertEquals(0L, load(Map.of("LMCACHE_LOCAL_CPU", "false", "LMCACHE_LOCAL_DISK", "/d")).cpuPoolBytes(),
                "a disk tier without a size is no tier");
        EngineConfig disk = load(Map.of("LMCACHE_LOCAL_CPU", "false", "LMCACHE_LOCAL_DISK", "/d",
                "LMCACHE_MAX_LOCAL_DISK_SIZE", "10"));
        assertEquals(5L * EngineConfig.GB, disk.cpuPoolBytes());
        assertTrue(DiskOptions.from(disk).writeThrough(), "chunks go straight on to disk, as in LMCache");
        assertFalse(DiskOptions.from(EngineConfig.defaults()).writeThrough());
        EngineConfig writeBehind = load(Map.of("LMCACHE_LOCAL_CPU", "false", "LMCACHE_REMOTE_URL", "redis://r:1",
                "LMCACHE_EXTRA_CONFIG", "{\"disk_write_through\": false}"));
        assertEquals(5L * EngineConfig.GB, writeBehind.cpuPoolBytes());
        assertFalse(DiskOptions.from(writeBehind).writeThrough(), "an explicit setting wins");
    }

    @Test
    void loadSourced_namesWhereEachKeyCameFrom() throws IOException {
        ConfigLoader.Sourced env = ConfigLoader.loadSourced(Optional.empty(), Map.of("LMCACHE_CHUNK_SIZE", "64"),
                warnings::add);
        assertEquals(64, env.config().chunkSize());
        assertEquals("LMCACHE_CHUNK_SIZE", env.sourceOf("chunk_size"));
        assertEquals("the default", env.sourceOf("max_local_cpu_size"));
        Path f = write("lmcache.yaml", "max_local_cpu_size: 2\n");
        ConfigLoader.Sourced file = ConfigLoader.loadSourced(Optional.of(f), Map.of("LMCACHE_CHUNK_SIZE", "64"),
                warnings::add);
        assertEquals(f.toString(), file.sourceOf("max_local_cpu_size"));
        assertEquals("the default", file.sourceOf("chunk_size"), "the file wins: the variable is ignored");
    }

    @Test
    void loadFile_negativeSize_namesKeyValueAndFile() throws IOException {
        assertFileRejected("neg.yaml", "max_local_disk_size: -1\n", "max_local_disk_size", "'-1'", "negative");
    }

    @Test
    void loadFile_requiredKeyWithoutValue_saysSo() throws IOException {
        assertFileRejected("blank.yaml", "chunk_size:\n", "chunk_size", "has no value");
    }

    @Test
    void load_badBoolean_namesKeyValueAndVariable() {
        assertMessage(Map.of("LMCACHE_LOCAL_CPU", "maybe"), "local_cpu", "'maybe'", "not a boolean",
                "LMCACHE_LOCAL_CPU");
    }

    @Test
    void load_extraConfigNotJsonObject_namesKeyAndVariable() {
        assertMessage(Map.of("LMCACHE_EXTRA_CONFIG", "{\"a\": [1,"), "extra_config", "not valid JSON",
                "LMCACHE_EXTRA_CONFIG");
        assertMessage(Map.of("LMCACHE_EXTRA_CONFIG", "[1, 2]"), "extra_config", "not a mapping",
                "LMCACHE_EXTRA_CONFIG");
    }

    @Test
    void load_urlsOfTheWrongKind_areRejected() {
        assertMessage(Map.of("LMCACHE_REMOTE_URL", "cache:6379"), "remote_url", "'cache:6379'", "scheme://");
        assertMessage(Map.of("LMCACHE_LOCAL_DISK", "s3://bucket/"), "local_disk", "'s3://bucket/'",
                "LMCACHE_LOCAL_DISK");
    }

    @Test
    void loadFile_missingFile_namesPath() {
        Path missing = dir.resolve("nope.yaml");
        var e = assertThrows(IllegalArgumentException.class, () -> ConfigLoader.loadFile(missing));
        assertContains(e, missing.toString(), "does not exist");
    }

    @Test
    void load_configFileVariableNamesMissingFile_namesPath() {
        Path missing = dir.resolve("gone.yaml");
        assertMessage(Map.of(ConfigLoader.CONFIG_FILE_ENV, missing.toString()), missing.toString());
    }

    @Test
    void loadFile_directory_namesPath() {
        var e = assertThrows(IllegalArgumentException.class, () -> ConfigLoader.loadFile(dir));
        assertContains(e, dir.toString(), "is a directory");
    }

    @Test
    void loadFile_notUtf8_namesPath() throws IOException {
        Path f = Files.write(dir.resolve("latin1.yaml"), new byte[] {'a', ':', ' ', (byte) 0xE9, '\n'});
        var e = assertThrows(IllegalArgumentException.class, () -> ConfigLoader.loadFile(f));
        assertContains(e, f.toString(), "not UTF-8");
    }

    @Test
    void loadFile_malformedYaml_namesFileAndLine() throws IOException {
        assertFileRejected("bad.yaml", "chunk_size: [1, 2\nlocal_cpu: true\n", "not valid YAML", "line 2");
    }

    @Test
    void loadFile_duplicateKey_isRejected() throws IOException {
        assertFileRejected("dup.yaml", "chunk_size: 16\nchunk_size: 32\n", "duplicate key chunk_size");
    }

    @Test
    void loadFile_topLevelList_saysItMustBeAMapping() throws IOException {
        assertFileRejected("list.yaml", "- chunk_size: 16\n- local_cpu: true\n", "must hold a mapping", "a list");
    }

    @Test
    void loadFile_topLevelScalar_saysItMustBeAMapping() throws IOException {
        assertFileRejected("scalar.yaml", "chunk_size=16\n", "must hold a mapping", "chunk_size=16");
    }

    @Test
    void load_chunkSizeZero_namesKeyAndVariable() {
        assertMessage(Map.of("LMCACHE_CHUNK_SIZE", "0"), "chunk_size", "0", "(from LMCACHE_CHUNK_SIZE)");
    }

    @Test
    void loadFile_unsupportedCachePolicy_namesValueAndFile() throws IOException {
        assertFileRejected("clock.yaml", "cache_policy: CLOCK\n", "cache_policy", "CLOCK", "not supported", "(from ");
    }

    @Test
    void fromMap_badValue_namesGivenSource() {
        var e = assertThrows(IllegalArgumentException.class,
                () -> ConfigLoader.fromMap(Map.of("pin_timeout_sec", -5), "the command line"));
        assertContains(e, "pin_timeout_sec", "-5", "(from the command line)");
    }

    // ---- describe and the key table ----

    @Test
    void describe_defaults_listsEveryKeyInOrderThenPoolBytes() {
        Map<String, Object> d = ConfigLoader.describe(EngineConfig.defaults());
        List<String> expected = new ArrayList<>(ConfigKeys.SUPPORTED.stream().map(ConfigKey::name).toList());
        expected.add("pool_bytes");
        assertEquals(expected, List.copyOf(d.keySet()));
        assertEquals("chunk_size", expected.getFirst());
        assertEquals(256, d.get("chunk_size"));
        assertEquals(5.0, d.get("max_local_cpu_size"));
        assertEquals(null, d.get("local_disk"));
        assertEquals(5L * EngineConfig.GB, d.get("pool_bytes"));
    }

    @Test
    void describe_loadedValues_roundTripThroughFromMap() {
        EngineConfig c = load(Map.of("LMCACHE_CHUNK_SIZE", "32", "LMCACHE_REMOTE_URL", "redis://r:1",
                "LMCACHE_EXTRA_CONFIG", "{\"x\": 1}"));
        Map<String, Object> d = new HashMap<>(ConfigLoader.describe(c));
        d.remove("pool_bytes");
        assertEquals(c, ConfigLoader.fromMap(d, "describe"));
    }

    @Test
    void configKeys_supportedAndUnsupported_areDisjoint() {
        Set<String> both = new HashSet<>(LmcacheKeys.ALL.stream().map(LmcacheKey::name).toList());
        both.retainAll(ConfigKeys.SUPPORTED.stream().map(ConfigKey::name).toList());
        assertEquals(Set.of(), both);
        assertEquals(19, ConfigKeys.SUPPORTED.size());
    }

    @Test
    void configurationReference_tableRowOfEachKey_matchesKeyTable() throws IOException {
        List<String> lines = Files.readAllLines(Path.of("..", "docs", "configuration.md"));
        for (ConfigKey<?> key : ConfigKeys.SUPPORTED) {
            String row = lines.stream().filter(l -> l.startsWith("| `" + key.name() + "` |")).findFirst()
                    .orElseThrow(() -> new AssertionError("docs/configuration.md has no row for " + key.name()));
            String[] cells = row.split("\\|");
            assertEquals("`" + key.envVar() + "`", cells[2].strip(), row);
            assertEquals(key.type(), cells[3].strip(), row);
            Object def = key.defaultValue();
            assertEquals(def == null ? "unset" : "`" + def + "`", cells[4].strip(), row);
        }
    }

    @Test
    void configurationReference_everyOtherLmcacheKey_hasItsRowAndTreatment() throws IOException {
        List<String> lines = Files.readAllLines(Path.of("..", "docs", "configuration.md"));
        for (LmcacheKey key : LmcacheKeys.ALL) {
            String row = lines.stream().filter(l -> l.startsWith("| `" + key.name() + "` |")).findFirst()
                    .orElseThrow(() -> new AssertionError("docs/configuration.md has no row for " + key.name()));
            String[] cells = row.split("\\|");
            assertEquals(key.treatment().name().toLowerCase(java.util.Locale.ROOT), cells[3].strip(), row);
            Object def = key.lmcacheDefault();
            String written = def == null ? "unset" : def instanceof Double d && d.isInfinite() ? "`inf`"
                    : def.toString().equals(def.toString().strip()) ? "`" + def + "`" : "`\"" + def + "\"`";
            assertEquals(written, cells[2].strip(), row);
        }
        long rows = lines.stream().filter(l -> l.matches("\\| `[a-z0-9_]+` \\| .* \\| (equivalent|refused|warned) \\|.*"))
                .count();
        assertEquals(LmcacheKeys.ALL.size(), rows, "a row for a key the source does not have");
    }

    // ---- helpers ----

    private EngineConfig load(Map<String, String> env) {
        return ConfigLoader.load(Optional.empty(), env, warnings::add);
    }

    private Path write(String name, String text) throws IOException {
        return Files.writeString(dir.resolve(name), text);
    }

    /** Loading a file of {@code text} fails, and the message holds {@code parts} and the file's path. */
    private void assertFileRejected(String name, String text, String... parts) throws IOException {
        Path f = write(name, text);
        var e = assertThrows(IllegalArgumentException.class, () -> ConfigLoader.loadFile(f));
        assertContains(e, parts);
        assertContains(e, f.toString());
    }

    private void assertMessage(Map<String, String> env, String... parts) {
        assertContains(assertThrows(IllegalArgumentException.class, () -> load(env)), parts);
    }

    private static void assertContains(IllegalArgumentException e, String... parts) {
        for (String part : parts) {
            assertTrue(e.getMessage().contains(part), () -> "'" + part + "' missing from: " + e.getMessage());
        }
    }
}
