package org.lmcache4j.config;

/**
 * An LMCache configuration key that LMCache4j does not implement one for one, and what it does
 * with it. Whatever the treatment, a value that leaves the key inert passes without a word: its
 * LMCache default, or an "off" value ({@code false}, {@code 0}, empty, {@code null}, {@code None}),
 * because the production-stack chart and LMCache's own examples write such keys out at their off
 * values ({@code enable_controller: false}, {@code enable_pd: False}).
 *
 * @param name           LMCache's key, as written in a YAML file
 * @param lmcacheDefault LMCache's default (null for none), as its configuration table gives it
 * @param treatment      what a value other than an inert one does
 * @param feature        the feature the key turns on or tunes
 */
record LmcacheKey(String name, Object lmcacheDefault, Treatment treatment, Feature feature) {

    /** What LMCache4j does when the key is set to something other than an inert value. */
    enum Treatment {
        /** LMCache4j does the same thing its own way (docs/configuration.md says how): accepted silently. */
        EQUIVALENT,
        /** It turns on a feature LMCache4j lacks: start-up stops, naming the key and the feature. */
        REFUSED,
        /** It tunes a feature LMCache4j lacks, or LMCache's own internals: accepted with a warning. */
        WARNED
    }

    /** Whether {@code raw} leaves this key as LMCache would without it: its default, or off. */
    boolean isInert(Object raw) {
        return ConfigValues.isOff(raw) || sameAsDefault(raw);
    }

    private boolean sameAsDefault(Object raw) {
        if (lmcacheDefault == null) {
            return false;
        }
        try {
            if (lmcacheDefault instanceof Boolean b) {
                return ConfigValues.toBool(raw) == b;
            }
            if (lmcacheDefault instanceof Number n) {
                return Double.parseDouble(String.valueOf(raw).strip()) == n.doubleValue();
            }
        } catch (IllegalArgumentException e) { // also NumberFormatException: not the default, then
            return false;
        }
        return String.valueOf(lmcacheDefault).strip().equalsIgnoreCase(String.valueOf(raw).strip());
    }
}
