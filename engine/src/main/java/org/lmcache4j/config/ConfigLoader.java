package org.lmcache4j.config;

import java.io.IOException;
import java.io.Reader;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Consumer;
import java.util.function.Function;
import org.lmcache4j.EngineConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.yaml.snakeyaml.error.YAMLException;

/**
 * Loads an {@link EngineConfig} from the places LMCache users already put their settings, under
 * LMCache's key names (see {@code docs/configuration.md}). The first of these wins, and nothing is
 * merged across them:
 * <ol>
 *   <li>an explicit file (the command line's {@code --config});</li>
 *   <li>the YAML or JSON file named by {@code LMCACHE_CONFIG_FILE}; the other LMCACHE_* variables
 *       are then ignored, as in LMCache's documentation;</li>
 *   <li>one environment variable per key: {@code LMCACHE_} + the key in upper case;</li>
 *   <li>the defaults of {@link EngineConfig#defaults()}.</li>
 * </ol>
 * Every LMCache key is honoured, read as its equivalent ({@code local_device: file://DIR}), or
 * screened ({@link FeatureScreen}): a key that turns on a feature LMCache4j lacks stops start-up
 * with a {@link ConfigRefusedException} naming each such key, its source, the feature and what to
 * use instead; one that only tunes an absent feature, and an unknown key, is logged and skipped.
 * A value that cannot be read is an {@link IllegalArgumentException} whose message names the key,
 * the value and where it came from: a wrong size must not start a server.
 */
public final class ConfigLoader {

    /** The environment variable naming the configuration file. */
    public static final String CONFIG_FILE_ENV = "LMCACHE_CONFIG_FILE";

    private static final Logger LOG = LoggerFactory.getLogger(ConfigLoader.class);

    /** LMCache 0.1's default {@code max_local_cache_size}, in a file and in the environment. */
    private static final double LEGACY_FILE_SIZE_GB = 20;
    private static final double LEGACY_ENV_SIZE_GB = 5;

    private ConfigLoader() {
    }

    /**
     * A configuration and where each key set in it came from, so that a refusal that depends on
     * more than the configuration (a pool too small for the model's chunks) can still name them.
     *
     * @param sources  the source of every key that was set, by LMCache name: a file's path or an
     *                 environment variable; keys absent took their defaults
     * @param warnings what loading it warned about (keys ignored, LMCache settings for absent features)
     */
    public record Sourced(EngineConfig config, Map<String, String> sources, List<String> warnings) {
        public Sourced {
            sources = Map.copyOf(sources);
            warnings = List.copyOf(warnings);
        }

        /** A configuration with these sources and no warnings. */
        public Sourced(EngineConfig config, Map<String, String> sources) {
            this(config, sources, List.of());
        }

        /** Where {@code key}'s value came from: a file's path, an environment variable, or "the default". */
        public String sourceOf(String key) {
            return sources.getOrDefault(key, "the default");
        }
    }

    /** The configuration {@code env} (normally {@link System#getenv()}) describes. */
    public static EngineConfig load(Map<String, String> env) {
        return load(Optional.empty(), env, LOG::warn);
    }

    /** As {@link #load(Map)}, except that {@code explicitFile}, when present, wins over everything. */
    public static EngineConfig load(Optional<Path> explicitFile, Map<String, String> env) {
        return load(explicitFile, env, LOG::warn);
    }

    /** As {@link #load(Optional, Map)}, with where each key came from. */
    public static Sourced loadSourced(Optional<Path> explicitFile, Map<String, String> env) {
        return loadSourced(explicitFile, env, LOG::warn);
    }

    /**
     * As {@link #load(Optional, Map)}, with the keys in {@code without} left unread: those that
     * settings laid over this source set themselves. Such a key's value in the source (a switch
     * that the settings turn off again, a remote_url they replace) is then neither read nor refused.
     */
    public static EngineConfig loadWithout(Optional<Path> explicitFile, Map<String, String> env, Set<String> without) {
        return loadSourced(explicitFile, env, LOG::warn, without).config();
    }

    /** The configuration in a YAML (or JSON) file; keys it lacks take their defaults. */
    public static EngineConfig loadFile(Path yaml) {
        return loadFile(yaml, LOG::warn);
    }

    /**
     * The configuration in {@code values}, keyed by LMCache names, as a parsed YAML file gives them.
     *
     * @param sourceDescription where the values came from, for messages (a path, "the command line")
     */
    public static EngineConfig fromMap(Map<String, ?> values, String sourceDescription) {
        return fromMap(values, sourceDescription, LOG::warn);
    }

    /**
     * {@code values} (LMCache keys, such as the caller's settings that {@code lmcache4j_open} lays over
     * a file or the environment) with LMCache 0.1's {@code local_device} and {@code max_local_cache_size}
     * read as today's keys, as in a file. Laid over the keys of another source, they must be read
     * first: that source's {@code local_disk} and {@code max_local_disk_size} would otherwise count as
     * set, and silently win over them.
     */
    public static Map<String, Object> withTodaysKeys(Map<?, ?> values, String sourceDescription) {
        Map<String, Object> out = new LinkedHashMap<>();
        values.forEach((k, v) -> out.put(String.valueOf(k), v));
        return LegacyDeviceKeys.translate(out, key -> sourceDescription, LEGACY_FILE_SIZE_GB, new LinkedHashMap<>(),
                LOG::warn);
    }

    /**
     * Every key, by its LMCache name, with its effective value in {@code config} (null when unset),
     * in the order of the configuration reference, then {@code pool_bytes}: the CPU pool in bytes.
     */
    public static Map<String, Object> describe(EngineConfig config) {
        Map<String, Object> out = new LinkedHashMap<>();
        ConfigKeys.SUPPORTED.forEach(k -> out.put(k.name(), k.get().apply(config)));
        out.put("pool_bytes", config.cpuPoolBytes());
        return out;
    }

    static EngineConfig load(Optional<Path> explicitFile, Map<String, String> env, Consumer<String> warn) {
        return loadSourced(explicitFile, env, warn).config();
    }

    static Sourced loadSourced(Optional<Path> explicitFile, Map<String, String> env, Consumer<String> warn) {
        return loadSourced(explicitFile, env, warn, Set.of());
    }

    private static Sourced loadSourced(Optional<Path> explicitFile, Map<String, String> env, Consumer<String> warn,
                                       Set<String> without) {
        Optional<Path> file = explicitFile.or(() -> configFileFromEnv(env));
        if (explicitFile.isPresent() && env.containsKey(CONFIG_FILE_ENV)) {
            LOG.info("{} is set but {} is used: an explicit file wins", CONFIG_FILE_ENV, explicitFile.get());
        }
        if (file.isEmpty()) {
            return fromEnv(env, warn, without);
        }
        List<String> ignored = env.keySet().stream()
                .filter(name -> name.startsWith(ConfigKey.ENV_PREFIX) && !name.equals(CONFIG_FILE_ENV)
                        && !ConfigKeys.PROCESS_ENV.contains(name))
                .sorted().toList();
        if (ignored.isEmpty()) {
            return loadFileSourced(file.get(), warn, without);
        }
        String note = "configuration file " + file.get() + " is used, so these environment variables are ignored: "
                + String.join(", ", ignored);
        warn.accept(note);
        Sourced loaded = loadFileSourced(file.get(), warn, without);
        List<String> all = new ArrayList<>(List.of(note));
        all.addAll(loaded.warnings());
        return new Sourced(loaded.config(), loaded.sources(), all);
    }

    static EngineConfig loadFile(Path file, Consumer<String> warn) {
        return loadFileSourced(file, warn, Set.of()).config();
    }

    private static Sourced loadFileSourced(Path file, Consumer<String> warn, Set<String> without) {
        if (Files.isDirectory(file)) {
            throw new IllegalArgumentException("configuration file " + file + " is a directory");
        }
        Object parsed;
        try (Reader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            parsed = ConfigValues.yaml().load(in);
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException("configuration file " + file + " does not exist", e);
        } catch (IOException e) {
            throw cannotRead(file, e);
        } catch (YAMLException e) {
            // SnakeYAML reads lazily and wraps the reader's failures (bad UTF-8, I/O) in its own.
            if (e.getCause() instanceof IOException io) {
                throw cannotRead(file, io);
            }
            throw new IllegalArgumentException("configuration file " + file + " is not valid YAML or JSON: "
                    + ConfigValues.yamlProblem(e), e);
        }
        if (parsed != null && !(parsed instanceof Map<?, ?>)) {
            throw new IllegalArgumentException("configuration file " + file + " must hold a mapping of keys to"
                    + " values (such as 'chunk_size: 256'), not " + describeKind(parsed));
        }
        LOG.info("LMCache4j configuration from {}", file);
        String source = file.toString();
        Map<Object, Object> values = new LinkedHashMap<>(parsed == null ? Map.of() : (Map<?, ?>) parsed);
        values.keySet().removeIf(k -> without.contains(String.valueOf(k)));
        return build(values, key -> source, source, LEGACY_FILE_SIZE_GB, warn);
    }

    static EngineConfig fromMap(Map<?, ?> values, String source, Consumer<String> warn) {
        return build(values, key -> source, source, LEGACY_FILE_SIZE_GB, warn).config();
    }

    private static Sourced fromEnv(Map<String, String> env, Consumer<String> warn, Set<String> without) {
        // Sorted, so that warnings come out in the same order on every start.
        Map<String, Object> values = new LinkedHashMap<>();
        new TreeMap<>(env).forEach((name, value) -> {
            if (!name.startsWith(ConfigKey.ENV_PREFIX) || ConfigKeys.PROCESS_ENV.contains(name)) {
                return;
            }
            String key = name.substring(ConfigKey.ENV_PREFIX.length()).toLowerCase(Locale.ROOT);
            if (!ConfigKey.envVar(key).equals(name)) {
                warn.accept("unknown environment variable " + name + " (LMCache's are upper case), ignored");
                return;
            }
            if (!without.contains(key)) {
                values.put(key, ConfigValues.unquote(value));
            }
        });
        LOG.info("LMCache4j configuration from the LMCACHE_* environment variables ({} set)", values.size());
        return build(values, ConfigKey::envVar, "the LMCACHE_* environment variables", LEGACY_ENV_SIZE_GB, warn);
    }

    private static Sourced build(Map<?, ?> raw, Function<String, String> sourceOf, String source,
                                 double legacySizeGb, Consumer<String> warn) {
        List<String> warnings = new ArrayList<>();
        Consumer<String> note = w -> {
            warnings.add(w);
            warn.accept(w);
        };
        Map<String, String> sources = new LinkedHashMap<>();
        Map<String, Object> values = new LinkedHashMap<>();
        raw.forEach((k, v) -> values.put(String.valueOf(k), v));
        Map<String, String> translated = new LinkedHashMap<>();
        Map<String, Object> today = LegacyDeviceKeys.translate(values, sourceOf, legacySizeGb, translated, note);
        EngineConfig.Builder builder = EngineConfig.builder();
        List<ConfigRefusedException.Refusal> refusals = new ArrayList<>();
        today.forEach((key, value) -> {
            String from = translated.getOrDefault(key, sourceOf.apply(key));
            Optional<ConfigKey<?>> known = ConfigKeys.find(key);
            if (known.isEmpty()) {
                FeatureScreen.screen(key, value, from, refusals, note);
                return;
            }
            try {
                known.get().apply(builder, value, from);
                sources.put(key, from);
            } catch (ConfigRefusedException e) {
                refusals.addAll(e.refusals());
            }
        });
        FeatureScreen.screenExtraConfig(today.get("extra_config"), sourceOf.apply("extra_config"), refusals);
        if (!refusals.isEmpty()) {
            // Nothing is built from a configuration that asks for what LMCache4j does not have.
            throw new ConfigRefusedException(refusals);
        }
        try {
            EngineConfig config = builder.build();
            DiskOptions.from(config); // extra_config's tier settings fail here, with the source named
            RemoteOptions.from(config);
            if (config.localDisk().isPresent() && config.diskBytes() == 0) {
                // LMCache runs without the disk tier then, and so does LMCache4j, but not in silence.
                note.accept("local_disk " + config.localDisk().get() + " (from " + sources.get("local_disk")
                        + ") has no size: max_local_disk_size is 0, so there is no disk tier;"
                        + " set max_local_disk_size (GB) to have one");
            }
            return new Sourced(config, sources, warnings);
        } catch (IllegalArgumentException e) {
            throw ConfigValues.fromSource(e.getMessage(), source, e);
        }
    }

    private static Optional<Path> configFileFromEnv(Map<String, String> env) {
        String named = ConfigValues.toOptionalText(env.get(CONFIG_FILE_ENV));
        if (named == null) {
            return Optional.empty();
        }
        try {
            return Optional.of(Path.of(named));
        } catch (InvalidPathException e) {
            throw new IllegalArgumentException(CONFIG_FILE_ENV + ": '" + named + "' is not a valid path", e);
        }
    }

    private static IllegalArgumentException cannotRead(Path file, IOException e) {
        String why = e instanceof CharacterCodingException ? "it is not UTF-8 text" : e.getMessage();
        return new IllegalArgumentException("cannot read configuration file " + file + ": " + why, e);
    }

    private static String describeKind(Object parsed) {
        return parsed instanceof List<?> ? "a list" : "a single value ('" + parsed + "')";
    }
}
