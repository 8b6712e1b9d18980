package org.lmcache4j.config;

import java.util.Locale;
import java.util.function.BiConsumer;
import java.util.function.Function;
import org.lmcache4j.EngineConfig;

/**
 * One configuration key that LMCache4j implements, under its LMCache name: how a written value is
 * read ({@code parse}, see {@link ConfigValues}), where it goes in the builder, and how the
 * effective value is read back from an {@link EngineConfig}. The default is not repeated here: it
 * is whatever {@link EngineConfig#defaults()} holds, so the two cannot drift apart.
 *
 * @param name        LMCache's key, as written in a YAML file
 * @param type        the kind of value, in words, for listings
 * @param description what the key does, one line
 */
record ConfigKey<T>(String name, String type, String description, Function<Object, T> parse,
                    BiConsumer<EngineConfig.Builder, T> set, Function<EngineConfig, Object> get) {

    static final String ENV_PREFIX = "LMCACHE_";

    /** The environment variable LMCache reads this key from. */
    String envVar() {
        return envVar(name);
    }

    static String envVar(String key) {
        return ENV_PREFIX + key.toUpperCase(Locale.ROOT);
    }

    Object defaultValue() {
        return get.apply(EngineConfig.defaults());
    }

    /**
     * Reads {@code raw} and sets it on {@code target}; a bad value throws with this key, the value
     * and {@code source} in the message. The value is also checked alone against EngineConfig's own
     * rules (positive timeouts, known cache policy) so that their error can name its source too.
     */
    void apply(EngineConfig.Builder target, Object raw, String source) {
        T value;
        try {
            value = parse.apply(raw);
        } catch (IllegalArgumentException e) {
            throw ConfigValues.fromSource(name + ": '" + raw + "' " + e.getMessage(), source, e);
        }
        EngineConfig.Builder alone = EngineConfig.builder();
        set.accept(alone, value);
        try {
            alone.build();
        } catch (ConfigRefusedException e) {
            throw e.from(source);
        } catch (IllegalArgumentException e) {
            throw ConfigValues.fromSource(e.getMessage(), source, e);
        }
        set.accept(target, value);
    }
}
