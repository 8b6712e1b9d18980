package org.lmcache4j.config;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;
import org.lmcache4j.config.ConfigRefusedException.Refusal;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Decides what a key that LMCache4j does not implement one for one does to a configuration being
 * loaded: nothing (an inert value, or a feature LMCache4j has its own way), a warning (a knob of
 * an absent feature), or a refusal (it turns on an absent feature). Refusals are collected, so
 * that one message names every key to change, and thrown before anything is built.
 */
final class FeatureScreen {

    private static final Logger LOG = LoggerFactory.getLogger(FeatureScreen.class);

    /** LMCache's encoder-cache settings: {@code ec_*} keys, an {@code ec:} mapping, {@code LMCACHE_EC_*}. */
    private static final String ENCODER_CACHE_PREFIX = "ec_";

    /** The settings key that puts liblmcache4j.so in client mode (docs/server.md). */
    static final String CLIENT_MODE_KEY = "lmcache4j.server";

    private FeatureScreen() {
    }

    /**
     * Screens {@code key}, which is not one of {@link ConfigKeys#SUPPORTED}.
     *
     * @param from where the value came from, for messages
     */
    static void screen(String key, Object value, String from, List<Refusal> refusals, Consumer<String> warn) {
        if (key.equals(CLIENT_MODE_KEY)) {
            return; // liblmcache4j.so reads it (which server to use); for the engine it is no setting
        }
        Optional<LmcacheKey> known = LmcacheKeys.find(key);
        if (known.isEmpty()) {
            if (key.startsWith(ENCODER_CACHE_PREFIX) || key.equals("ec")) {
                warn.accept(ignored(key, from, Feature.ENCODER_CACHE));
            } else {
                warn.accept("unknown configuration key " + key + " (from " + from + "), ignored");
            }
            return;
        }
        LmcacheKey lm = known.get();
        if (lm.lmcacheDefault() instanceof Boolean) {
            requireSwitch(key, value, from);
        }
        if (lm.isInert(value)) {
            return;
        }
        switch (lm.treatment()) {
            case REFUSED -> refusals.add(new Refusal(key, value, from, lm.feature()));
            case WARNED -> warn.accept(ignored(key, from, lm.feature()));
            case EQUIVALENT -> LOG.debug("configuration key {} (from {}): LMCache4j does this its own way, see"
                    + " docs/configuration.md", key, from);
        }
    }

    /**
     * Screens the LMCache switches that live in {@code extra_config}: {@code enable_nixl_storage}
     * turns on LMCache's NIXL storage back end.
     *
     * @param extraConfig the raw value of {@code extra_config}, already known to be readable
     */
    static void screenExtraConfig(Object extraConfig, String from, List<Refusal> refusals) {
        if (extraConfig == null) {
            return;
        }
        Map<String, Object> extra = ConfigValues.toMap(extraConfig);
        Object nixl = extra.get("enable_nixl_storage");
        requireSwitch("extra_config.enable_nixl_storage", nixl, from);
        if (!ConfigValues.isOff(nixl)) {
            refusals.add(new Refusal("extra_config.enable_nixl_storage", nixl, from, Feature.NIXL_STORAGE));
        }
    }

    /** A switch that is neither on nor off is an error, not a guess (and not a feature asked for). */
    private static void requireSwitch(String key, Object value, String from) {
        if (!ConfigValues.isOff(value)) {
            try {
                ConfigValues.toBool(value);
            } catch (IllegalArgumentException e) {
                throw ConfigValues.fromSource(key + ": '" + value + "' " + e.getMessage(), from, e);
            }
        }
    }

    private static String ignored(String key, String from, Feature feature) {
        return "configuration key " + key + " (from " + from + ") is an LMCache setting for " + feature.description()
                + ", which LMCache4j does not have: ignored (LMCache4j: " + feature.instead() + ")";
    }
}
