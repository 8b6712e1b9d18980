package org.lmcache4j.config;

import java.util.List;
import java.util.stream.Collectors;

/**
 * A configuration that turns on LMCache features LMCache4j does not have. Start-up stops with
 * it, everywhere a configuration is read (the engine, the C ABI and Python, {@code lmcache4j
 * info} and {@code replay}), rather than run without the feature and leave the operator to find
 * out from a hit rate of zero. Its message names every offending key, where it came from, the
 * feature, and what LMCache4j offers instead. It is an {@link IllegalArgumentException}, so
 * callers that report bad configuration already report this too (the C ABI as
 * {@code LMCACHE4J_ERR_INVALID_ARGUMENT}, Python as {@code InvalidArgumentError}).
 */
public final class ConfigRefusedException extends IllegalArgumentException {

    /**
     * One key whose value turns on a feature LMCache4j lacks.
     *
     * @param key     LMCache's key
     * @param value   the value as written
     * @param source  where it came from (a file's path, an environment variable), or null if unknown
     * @param feature the feature it turns on
     * @param what    what the value selects, in words, where it says more than the feature's description
     *                (remote_url's scheme names the back end); null for the description
     */
    public record Refusal(String key, Object value, String source, Feature feature, String what) {

        public Refusal(String key, Object value, String source, Feature feature) {
            this(key, value, source, feature, null);
        }

        Refusal from(String where) {
            return source == null ? new Refusal(key, value, where, feature, what) : this;
        }

        /** One sentence: the key, its value and source, the feature, and what to do instead. */
        public String describe() {
            return key + ": '" + value + "'" + (source == null ? "" : " (from " + source + ")") + " turns on "
                    + (what == null ? feature.description() : what) + ", which LMCache4j does not have. Instead: "
                    + feature.instead();
        }
    }

    private final List<Refusal> refusals;

    public ConfigRefusedException(List<Refusal> refusals) {
        super(message(refusals));
        if (refusals.isEmpty()) {
            throw new IllegalArgumentException("a refusal needs at least one reason");
        }
        this.refusals = List.copyOf(refusals);
    }

    /** Every key refused, in the order they were read. */
    public List<Refusal> refusals() {
        return refusals;
    }

    /** This refusal with {@code source} filled in where a refusal did not know it. */
    ConfigRefusedException from(String source) {
        return new ConfigRefusedException(refusals.stream().map(r -> r.from(source)).toList());
    }

    private static String message(List<Refusal> refusals) {
        String each = refusals.stream().map(Refusal::describe).collect(Collectors.joining("; "));
        return "configuration refused, LMCache4j does not start without a feature it was asked for: " + each;
    }
}
