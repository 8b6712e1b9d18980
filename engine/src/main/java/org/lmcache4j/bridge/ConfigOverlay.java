package org.lmcache4j.bridge;

import org.lmcache4j.EngineConfig;
import org.lmcache4j.config.ConfigLoader;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;
import org.yaml.snakeyaml.error.YAMLException;

import java.nio.file.Path;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The configuration of an engine opened through the C ABI: LMCache's usual sources (a file, else
 * {@code LMCACHE_CONFIG_FILE}, else the {@code LMCACHE_*} variables, else the defaults), with the
 * caller's own settings laid over them key by key. That is how LMCache treats the
 * {@code lmcache.*} entries of vLLM's {@code kv_connector_extra_config}, and how a Python caller's
 * {@code Engine(config={...})} reads.
 */
public final class ConfigOverlay {
    private ConfigOverlay() {
    }

    /**
     * @param file      a YAML or JSON file, or null for the environment
     * @param overrides a YAML or JSON mapping of LMCache keys, or null / blank for none
     */
    public static EngineConfig load(String file, String overrides, Map<String, String> env) {
        Optional<Path> path = Optional.ofNullable(file).map(Path::of);
        if (overrides == null || overrides.isBlank()) {
            return ConfigLoader.load(path, env);
        }
        String source = "the caller's settings over " + (file != null ? file : "the environment");
        Map<?, ?> given = parse(overrides);
        Map<String, Object> settings = ConfigLoader.withTodaysKeys(given, source); // local_device: file://… included
        // The keys the settings set are not read from the base: a switch there that they turn off
        // again must not stop the start-up.
        Set<String> without = new HashSet<>(settings.keySet());
        given.keySet().forEach(k -> without.add(String.valueOf(k)));
        EngineConfig base = ConfigLoader.loadWithout(path, env, without);
        Map<String, Object> merged = new LinkedHashMap<>(ConfigLoader.describe(base));
        merged.remove("pool_bytes"); // derived, not a key
        merged.putAll(settings);
        return ConfigLoader.fromMap(merged, source);
    }

    private static Map<?, ?> parse(String text) {
        Object parsed;
        try {
            parsed = new Yaml(new SafeConstructor(new LoaderOptions())).load(text);
        } catch (YAMLException e) {
            throw new IllegalArgumentException("the settings are not valid YAML or JSON: " + e.getMessage(), e);
        }
        if (parsed == null) {
            return Map.of();
        }
        if (!(parsed instanceof Map<?, ?> map)) {
            throw new IllegalArgumentException("the settings must be a mapping of LMCache keys to values, such as"
                    + " {\"chunk_size\": 256}");
        }
        return map;
    }
}
